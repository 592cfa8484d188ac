package hyprstream.clients;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.TreeSet;

/**
 * Per-table grants seen through the Arrow Flight SQL JDBC driver.
 *
 * <p>Usage: {@code java JdbcGrants HOST PORT READER READER_PASSWORD WRITER WRITER_PASSWORD}, run
 * by tests/integration/test_grants.py against a server whose config grants the reader
 * (read_only) read on sales, sales_v and leak_v (leak_v also reads secret, which only admins
 * may read) and the writer (read_write) read and write on inbox. Prints {@code PASS name} or
 * {@code FAIL name: reason} per check, then {@code N passed, M failed}; exits 1 when any failed.
 */
public final class JdbcGrants {

  // The PASS/FAIL harness is JdbcSmoke's (check, finish, describe).
  private JdbcGrants() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 6) {
      System.err.println("usage: JdbcGrants HOST PORT READER READER_PASSWORD WRITER WRITER_PASSWORD");
      System.exit(2);
    }
    String base = "jdbc:arrow-flight-sql://" + args[0] + ":" + args[1] + "?useEncryption=false";
    Connection[] reader = new Connection[1];
    Connection[] writer = new Connection[1];
    JdbcSmoke.check("reader connects with user and password", () -> {
      reader[0] = DriverManager.getConnection(base + "&user=" + args[2] + "&password=" + args[3]);
    });
    JdbcSmoke.check("writer connects with user and password", () -> {
      writer[0] = DriverManager.getConnection(base + "&user=" + args[4] + "&password=" + args[5]);
    });
    if (reader[0] == null || writer[0] == null) JdbcSmoke.finish();

    Connection r = reader[0];
    JdbcSmoke.check("reader: a granted table reads", () -> {
      try (Statement st = r.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM sales")) {
        expect(rs.next() && rs.getLong(1) == 2, "count(*) of sales is not 2");
      }
    });
    JdbcSmoke.check("reader: a table without a grant is refused", () ->
        denied(() -> query(r, "SELECT * FROM secret"), "read grant on memory.main.secret"));
    JdbcSmoke.check("reader: a view over such a table is refused", () ->
        denied(() -> query(r, "SELECT * FROM leak_v"), "view memory.main.leak_v"));
    JdbcSmoke.check("reader: a prepared query of such a table is refused", () ->
        denied(() -> {
          try (PreparedStatement ps = r.prepareStatement("SELECT * FROM secret WHERE id = ?")) {
            ps.setLong(1, 1);
            ps.executeQuery().close();
          }
        }, "memory.main.secret"));
    JdbcSmoke.check("reader: DatabaseMetaData.getTables lists only readable tables", () -> {
      TreeSet<String> names = new TreeSet<>();
      try (ResultSet rs = r.getMetaData().getTables(null, null, "%", null)) {
        while (rs.next()) names.add(rs.getString("TABLE_NAME"));
      }
      expect(names.toString().equals("[leak_v, sales, sales_v]"), "tables " + names);
    });
    JdbcSmoke.check("reader: DatabaseMetaData.getPrimaryKeys of an unreadable table is empty", () -> {
      try (ResultSet rs = r.getMetaData().getPrimaryKeys(null, null, "secret")) {
        expect(!rs.next(), "secret's primary key is listed");
      }
    });

    Connection w = writer[0];
    JdbcSmoke.check("writer: an update of a granted table", () -> {
      try (Statement st = w.createStatement()) {
        expect(st.executeUpdate("INSERT INTO inbox VALUES (200, 'jdbc')") == 1, "update count");
      }
    });
    JdbcSmoke.check("writer: a prepared update of a granted table", () -> {
      try (PreparedStatement ps = w.prepareStatement("INSERT INTO inbox VALUES (?, ?)")) {
        ps.setLong(1, 201);
        ps.setString(2, "jdbc prepared");
        expect(ps.executeUpdate() == 1, "update count");
      }
    });
    JdbcSmoke.check("writer: an update of a table without a write grant is refused", () ->
        denied(() -> {
          try (Statement st = w.createStatement()) {
            st.executeUpdate("INSERT INTO sales VALUES (200, 1.0, NULL)");
          }
        }, "write grant on memory.main.sales"));
    JdbcSmoke.finish();
  }

  private static void query(Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      while (rs.next()) {
        // drain
      }
    }
  }

  /** `body` fails with an SQLException whose messages (with causes) contain `want`. */
  private static void denied(JdbcSmoke.Check body, String want) throws Exception {
    try {
      body.run();
    } catch (SQLException e) {
      String text = JdbcSmoke.describe(e);
      expect(text.contains(want) && text.toLowerCase().contains("permission denied"),
          "refused, but not as expected: " + text);
      return;
    }
    throw new AssertionError("succeeded; want a permission denied error naming " + want);
  }

  private static void expect(boolean cond, String message) {
    if (!cond) throw new AssertionError(message);
  }
}
