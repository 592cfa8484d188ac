"""Smoke test with a Flight SQL client nobody here wrote: the Arrow Flight SQL JDBC driver
(org.apache.arrow:flight-sql-jdbc-driver, see tests/clients/jdbc/pom.xml for the version).

tests/clients/jdbc is a plain Java program (JdbcSmoke) that connects with
jdbc:arrow-flight-sql://HOST:PORT?useEncryption=false and checks queries and their values,
prepared statements with int/string/double parameters, executeUpdate counts, a
CREATE/INSERT/SELECT round trip, an UPDATE that loses to another session's open transaction
(UNAVAILABLE, saying to run it again) and runs again, the DatabaseMetaData catalog calls (getCatalogs,
getSchemas, getTables, getColumns, getPrimaryKeys, imported/exported keys, getTableTypes,
getTypeInfo) and every DatabaseMetaData getter that reads SqlInfo. It prints PASS/FAIL per
check and exits non-zero when any failed. This wrapper builds it with Maven (dependencies
from Maven Central, cached in ~/.m2) and runs it against a fresh server.
"""
import pytest

import client_programs as cp
from conftest import start_read_only_server

JDBC_DIR = cp.CLIENTS / "jdbc"
MAIN_CLASS = "hyprstream.clients.JdbcSmoke"
# Arrow Java reads java.nio.Buffer.address by reflection; Java 17 needs the package opened.
JVM_FLAGS = ["--add-opens=java.base/java.nio=ALL-UNNAMED"]


def build():
    cp.require("java", "mvn")
    build_dir = cp.cache_dir("jdbc")
    with cp.locked(build_dir):
        code, output = cp.run(
            ["mvn", "-q", "-B", "-Dstyle.color=never", "-f", str(JDBC_DIR / "pom.xml"),
             f"-Dsmoke.build.dir={build_dir / 'target'}", "package"],
            cwd=JDBC_DIR, timeout=900, what="mvn package")
        assert code == 0, f"mvn package failed ({code}):\n{output}"
        driver_classpath = (build_dir / "target" / "classpath.txt").read_text().strip()
    return f"{build_dir / 'target' / 'classes'}{':' + driver_classpath if driver_classpath else ''}"


def test_jdbc_driver_smoke(start_server):
    classpath = build()
    server = start_server("--log-level", "debug")
    code, output = cp.run(
        ["java", *JVM_FLAGS, "-cp", classpath, MAIN_CLASS, "127.0.0.1", str(server.port)],
        cwd=JDBC_DIR, timeout=180, what="the JDBC smoke program")
    cp.assert_client_passed(code, output, server, "the JDBC smoke program (Arrow Flight SQL JDBC driver)")


@pytest.mark.parametrize("caller", ["read_only user", "--readonly"])
def test_jdbc_read_only_caller_queries_and_runs_transactions(start_server, read_only_database,
                                                             caller):
    """A read_only caller (user=/password= in the URL, or anyone under --readonly) may query,
    use the driver's commit/rollback and run SQL BEGIN/COMMIT/ROLLBACK (prepared updates
    through this driver); a write is refused with the server's permission error and the table
    keeps its rows (JdbcSmoke --read-only)."""
    classpath = build()
    server, login, table, rows = start_read_only_server(start_server, read_only_database, caller)
    code, output = cp.run(
        ["java", *JVM_FLAGS, "-cp", classpath, MAIN_CLASS, "127.0.0.1", str(server.port),
         "--read-only", table, str(rows), *login],
        cwd=JDBC_DIR, timeout=180, what="the JDBC read-only program")
    cp.assert_client_passed(code, output, server, f"the JDBC read-only program ({caller})")
