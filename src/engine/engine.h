// Engine: the SQL database behind the Flight SQL front (embedded DuckDB, or any database an
// ADBC driver reaches). The protocol layer only ever talks to these interfaces, in Arrow terms.
//
// Ownership/threading: an Engine is shared and thread-safe. An EngineConnection is one
// database session (its own transaction state, temp tables, settings); its methods may be
// called from several threads but are serialised internally. A streaming result is bound to
// its connection: starting another operation on that connection first moves whatever the
// open result has not yet delivered into memory, so the earlier reader stays valid.
//
// Errors: a bad statement (syntax, binder, type, constraint) is Status::Invalid with the
// engine's own message; a missing table/schema/catalog is Status::KeyError; an interrupted
// statement is Status::Cancelled; anything else is Status::IOError. An IOError that means "the
// backend database cannot be reached, retry later" carries a BackendUnavailableDetail.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/status.h>
#include <arrow/type_fwd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hyprstream::engine {

// Marks an IOError as "backend unreachable or exhausted; retrying later may succeed" (the
// protocol layer answers UNAVAILABLE).
class BackendUnavailableDetail : public arrow::StatusDetail {
 public:
  static constexpr const char* kTypeId = "hyprstream::engine::BackendUnavailable";
  const char* type_id() const override { return kTypeId; }
  std::string ToString() const override { return "backend unavailable"; }
};
inline arrow::Status BackendUnavailable(std::string message) {
  return arrow::Status(arrow::StatusCode::IOError, std::move(message),
                       std::make_shared<BackendUnavailableDetail>());
}
inline bool IsBackendUnavailable(const arrow::Status& status) {
  return status.detail() &&
         status.detail()->type_id() == std::string_view(BackendUnavailableDetail::kTypeId);
}

// Marks an error as "the statement changed nothing, and running it again, in a transaction of
// its own, may succeed": it lost to a concurrent write of the same rows (PostgreSQL: a
// serialization failure or deadlock, SQLSTATE 40001 / 40P01; DuckDB: a transaction conflict;
// SQLite: the database locked by another connection's write past busy_timeout),
// or a check run beside it in its transaction failed and aborted that transaction. The
// protocol layer answers UNAVAILABLE, saying to run it again.
class WriteConflictDetail : public arrow::StatusDetail {
 public:
  static constexpr const char* kTypeId = "hyprstream::engine::WriteConflict";
  const char* type_id() const override { return kTypeId; }
  std::string ToString() const override { return "write conflict"; }
};
inline arrow::Status WriteConflict(std::string message) {
  return arrow::Status(arrow::StatusCode::IOError, std::move(message),
                       std::make_shared<WriteConflictDetail>());
}
inline bool IsWriteConflict(const arrow::Status& status) {
  return status.detail() &&
         status.detail()->type_id() == std::string_view(WriteConflictDetail::kTypeId);
}

// What a statement is, as far as the protocol cares.
enum class StatementKind {
  kQuery,   // produces rows and has no side effects (SELECT, VALUES, SHOW, DESCRIBE, ...)
  kUpdate,  // changes data or schema (INSERT/UPDATE/DELETE/DDL/...); result is a row count
  kOther,   // anything else (PRAGMA, SET, EXPLAIN, transaction control, ...); may return rows
};

// A prepared statement. Not thread-safe on its own; the owner serialises use.
class EngineStatement {
 public:
  virtual ~EngineStatement() = default;

  virtual StatementKind kind() const = 0;
  // Result schema as known after preparation; nullptr when it depends on parameter values.
  virtual std::shared_ptr<arrow::Schema> dataset_schema() const = 0;
  // One field per parameter, in position order ("parameter_1", ...). Types the engine cannot
  // infer are arrow::null().
  virtual std::shared_ptr<arrow::Schema> parameter_schema() const = 0;

  // Binds parameter rows: each row is one execution. An empty batch (or none) clears them.
  virtual arrow::Status Bind(std::shared_ptr<arrow::RecordBatch> parameters) = 0;
  // Runs the statement once per bound row (once if none) and streams the rows of all
  // executions. The reader's schema is exact (what will be streamed).
  virtual arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() = 0;
  // Runs the statement once per bound row (once if none); returns the summed affected rows,
  // or -1 when the engine does not know.
  virtual arrow::Result<int64_t> ExecuteUpdate() = 0;

  // How old cached data the next executions may be answered from, overriding the session's
  // policy (engines with a cache; others ignore it). nullopt: the session's policy.
  virtual void SetMaxStaleness(std::optional<std::chrono::milliseconds> max_staleness) {}
};

// Where and how bulk ingest writes (Flight SQL CommandStatementIngest semantics).
struct IngestRequest {
  enum class IfNotExists { kCreate, kFail };
  enum class IfExists { kFail, kAppend, kReplace };

  std::string table;
  std::optional<std::string> schema;   // database schema (namespace)
  std::optional<std::string> catalog;  // attached database
  bool temporary = false;
  IfNotExists if_not_exists = IfNotExists::kCreate;
  IfExists if_exists = IfExists::kFail;
};

// Catalog metadata read from the backend itself (engines that front another database, such as
// ADBC). Shaped like ADBC's GetObjects; patterns use SQL LIKE syntax.
struct CatalogObjectsRequest {
  enum class Depth { kCatalogs, kSchemas, kTables, kColumns };
  Depth depth = Depth::kColumns;
  std::optional<std::string> catalog;         // exact name
  std::optional<std::string> schema_pattern;  // LIKE pattern
  std::optional<std::string> table_pattern;   // LIKE pattern
  std::vector<std::string> table_types;       // empty: every type
};
struct CatalogConstraint {
  std::string name;
  std::string type;                  // "PRIMARY KEY", "FOREIGN KEY", "UNIQUE", "CHECK"
  std::vector<std::string> columns;  // in key order
  struct Reference {
    std::optional<std::string> catalog, schema;
    std::string table, column;
  };
  std::vector<Reference> references;  // FOREIGN KEY: the referenced column of each column
};
struct CatalogTable {
  std::optional<std::string> catalog, schema;
  std::string name, type;
  std::vector<std::string> columns;  // in ordinal order (depth kColumns only)
  std::vector<CatalogConstraint> constraints;
};
struct CatalogObjects {
  std::vector<std::string> catalogs;
  std::vector<std::pair<std::string, std::string>> schemas;  // (catalog, schema)
  std::vector<CatalogTable> tables;
};
// Who the backend is (SqlInfo server name/version).
struct BackendInfo {
  std::string vendor_name, vendor_version;
};

// A database session.
class EngineConnection {
 public:
  virtual ~EngineConnection() = default;

  virtual arrow::Result<std::unique_ptr<EngineStatement>> Prepare(const std::string& sql) = 0;

  // Appends every batch of `batches` to the target table, columnar, all-or-nothing: on error
  // nothing of this call stays applied. Outside a transaction it commits before returning.
  // Returns the number of rows written.
  virtual arrow::Result<int64_t> Ingest(const IngestRequest& request,
                                        arrow::RecordBatchReader* batches) = 0;

  virtual arrow::Status BeginTransaction() = 0;
  virtual arrow::Status Commit() = 0;
  virtual arrow::Status Rollback() = 0;
  virtual bool InTransaction() const = 0;

  // Asks the running statement (if any) to stop; it then fails with a Cancelled status.
  // Safe to call from any thread.
  virtual void Interrupt() = 0;
  // How far the running statement is, in [0, 1], when the engine can tell. Any thread.
  virtual std::optional<double> QueryProgress() const { return std::nullopt; }

  // The session's bound on how old cached data its reads may see (0: always the backend;
  // nullopt: whatever the cache holds). NotImplemented by engines without a cache.
  virtual arrow::Status SetMaxStaleness(std::optional<std::chrono::milliseconds> max_staleness) {
    return arrow::Status::NotImplemented(
        "this engine has no cache; max_staleness needs --enable-cache");
  }
  // The bound SetMaxStaleness set (nullopt: none, or an engine without a cache).
  virtual std::optional<std::chrono::milliseconds> max_staleness() const { return std::nullopt; }

  // Backend metadata for engines that front another database. NotImplemented by default:
  // embedded engines (DuckDB) answer metadata with SQL on the connection instead.
  virtual arrow::Result<CatalogObjects> GetCatalogObjects(const CatalogObjectsRequest&) {
    return arrow::Status::NotImplemented("catalog objects");
  }
  virtual arrow::Result<std::vector<std::string>> GetTableTypes() {
    return arrow::Status::NotImplemented("table types");
  }
  // The Arrow schema of a table (column names and types as the backend reports them).
  virtual arrow::Result<std::shared_ptr<arrow::Schema>> GetTableSchema(
      const std::optional<std::string>& catalog, const std::optional<std::string>& schema,
      const std::string& table) {
    return arrow::Status::NotImplemented("table schema");
  }
  virtual arrow::Result<BackendInfo> GetBackendInfo() {
    return arrow::Status::NotImplemented("backend info");
  }
  // Session defaults for unqualified names. NotImplemented: use SQL (USE/SET) instead.
  virtual arrow::Status SetCurrentCatalog(const std::string& catalog) {
    return arrow::Status::NotImplemented("current catalog");
  }
  virtual arrow::Status SetCurrentSchema(const std::string& schema) {
    return arrow::Status::NotImplemented("current schema");
  }

  // The engine's type of each statement in `sql` ("SELECT", "INSERT", "COPY", "SET", ...),
  // found by parsing and preparing without running anything (the access policy classifies
  // SQL with it). NotImplemented by engines that cannot tell.
  virtual arrow::Result<std::vector<std::string>> StatementTypes(const std::string& sql) {
    return arrow::Status::NotImplemented("this engine cannot classify statements");
  }
};

// A long-lived appender for streaming ingest: each Append is committed before it returns
// and is visible to every connection at once. Used from one thread at a time.
class TableAppender {
 public:
  virtual ~TableAppender() = default;
  virtual const std::shared_ptr<arrow::Schema>& schema() const = 0;
  // Appends and commits one batch (its schema must match schema()). Returns rows committed.
  virtual arrow::Result<int64_t> Append(const arrow::RecordBatch& batch) = 0;
};

// A table function served from C++: `name('a', 'b', key := 'v')` in SQL. Parameters are
// VARCHAR. `schema` runs when a query is bound (it names the columns); `rows` runs once per
// execution and must return rows of that schema. Columns may be booleans, integers, floats,
// strings and timestamps. Both callbacks may run on any thread, concurrently.
struct TableFunctionArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::string> named;  // only the named parameters given
};
struct TableFunctionSpec {
  std::string name;
  int positional_parameters = 0;
  std::vector<std::string> named_parameters;
  std::function<arrow::Result<std::shared_ptr<arrow::Schema>>(const TableFunctionArgs&)> schema;
  std::function<arrow::Result<std::shared_ptr<arrow::RecordBatch>>(const TableFunctionArgs&)> rows;
  // rows() only reads, and its answer does not depend on the caller's transaction: a
  // statement that is exactly `SELECT * FROM name(<literal arguments>)` may be answered by
  // calling rows() directly instead of running it through the engine (same columns and
  // types; DuckDB engine). Off for functions with side effects.
  bool direct_read = false;
};

// What an engine learns about a table's rows from elsewhere than its own callers (a cache
// copying rows others wrote into its backend). `schema` is empty for the default schema.
// Called on the engine's background thread.
struct ExternalRowsListener {
  // Rows appended to the table by others, now visible through this engine.
  std::function<void(const std::string& schema, const std::string& table,
                     const arrow::RecordBatchVector& rows)>
      added;
  // The engine's copy of the table was loaded whole (its first load too): what changed is not
  // known, so state built from earlier rows must be rebuilt from the copy (ReadCopy).
  std::function<void(const std::string& schema, const std::string& table)> loaded;
};

// ReadCopy's reader: the copy's generation (it changes whenever the copy is loaded whole) and
// a connection to the copy pinned to a snapshot of it as it was when `read` ran (PinSnapshot in
// snapshot_read.h: every query run on it reads those rows, however late, from any thread; the
// transaction ends when the last holder lets go). The copy speaks DuckDB's SQL and names the
// table as the engine's own SQL does.
using CopyReader =
    std::function<arrow::Status(int64_t generation, std::shared_ptr<EngineConnection> pinned)>;

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string name() const = 0;
  // Whose SQL the engine speaks: DuckDB's own (embedded DuckDB), or a backend's that it passes
  // through (ADBC). The server sends DuckDB statements of its own (SET, USE, duckdb_keywords())
  // only to kDuckDb engines.
  enum class Dialect { kDuckDb, kBackend };
  virtual Dialect dialect() const = 0;
  // Whether RegisterTableFunction works (time windows need it).
  virtual bool hosts_table_functions() const { return false; }
  // The DuckDB engine where this engine's table functions and macros run, for statements that
  // only call them (they read no table of this engine): this engine itself (DuckDB), its
  // cache (a cached backend), or null when it hosts none.
  virtual std::shared_ptr<Engine> FunctionHost() { return nullptr; }
  virtual arrow::Result<std::shared_ptr<EngineConnection>> Connect() = 0;
  // Opens an appender on an existing table, or creates the table from `schema` when it is
  // missing. `path` is [catalog.][schema.]table split into parts.
  virtual arrow::Result<std::unique_ptr<TableAppender>> OpenAppender(
      const std::vector<std::string>& path, const std::shared_ptr<arrow::Schema>& schema) = 0;
  // Makes a table function callable from every connection. NotImplemented by engines that
  // cannot host functions.
  virtual arrow::Status RegisterTableFunction(TableFunctionSpec spec) {
    return arrow::Status::NotImplemented("engine ", name(), " cannot host table function ",
                                         spec.name);
  }
  // Runs `create_macro`, a DuckDB `CREATE OR REPLACE MACRO ...` statement, where this engine
  // hosts table functions, so the macro is callable from every connection. NotImplemented by
  // engines that cannot host functions.
  virtual arrow::Status DefineMacro(const std::string& create_macro) {
    return arrow::Status::NotImplemented("engine ", name(), " cannot host SQL macros");
  }
  // Subscribes to ExternalRowsListener's events (engines that notice none ignore it). Set
  // once, before use.
  virtual void WatchExternalRows(ExternalRowsListener listener) {}
  // Engines that keep a copy of backend tables (a cache) that others may also write. The
  // windows layer builds state from that copy, so state and copy agree on which rows exist.
  //
  // FollowTable: keep a full copy of `table` current, catching up on rows others append by
  // `time_column`. False where the engine keeps no such copy (its rows are the table itself,
  // or its copy holds only recent rows): build from the stored rows instead.
  virtual bool FollowTable(const std::string& schema, const std::string& table,
                           const std::string& time_column) {
    return false;
  }
  // Pins a snapshot of the copy and calls `read` with it while nothing changes the copy (so
  // `read` must be quick: the queries it keeps run after it returns, on the snapshot); loads
  // the copy first when it is not current. nullopt when the copy cannot be read now (a write
  // around it is in flight; a `loaded` event follows once it is current). NotImplemented where
  // the engine keeps no copy.
  virtual arrow::Result<std::optional<int64_t>> ReadCopy(const std::string& schema,
                                                         const std::string& table,
                                                         const CopyReader& read) {
    return arrow::Status::NotImplemented("engine ", name(), " keeps no copy of tables");
  }
  // The generation of the table's copy while it is current (no write around it in flight, no
  // reload pending); nullopt otherwise.
  virtual std::optional<int64_t> CopyGeneration(const std::string& schema,
                                                const std::string& table) {
    return std::nullopt;
  }
  // Engines whose own stored rows can be read as of one moment while writes go on (DuckDB:
  // a read transaction); NotImplemented, and reads_snapshots() false, elsewhere.
  // SnapshotConnection: a connection of its own in such a transaction, its snapshot taken (by a
  // read of `table`) before it returns, for several queries as of one moment (rows committed
  // afterwards are in none of them, however late they run); releasing it ends the transaction.
  virtual bool reads_snapshots() const { return false; }
  virtual arrow::Result<std::shared_ptr<EngineConnection>> SnapshotConnection(
      const std::string& schema, const std::string& table) {
    return arrow::Status::NotImplemented("engine ", name(), " cannot read a table as of a moment");
  }
  // BeginSharingSnapshot: begins a transaction on `writer` (a connection of this engine, in
  // none) whose snapshot is taken now, and gives a SnapshotConnection pinned to that very
  // snapshot, so a write in the transaction can be checked against the rows before it
  // (PostgreSQL: a REPEATABLE READ transaction exports its snapshot and the other imports it;
  // DuckDB: the two are taken one after the other, so the caller keeps writes out meanwhile).
  // On failure no transaction is left open on `writer`. NotImplemented where not offered (no
  // snapshots). A layer passes it on to the engine below with its own connection's
  // (ForwardingEngine); the cache begins it through the session, beside its copy's own.
  virtual arrow::Result<std::shared_ptr<EngineConnection>> BeginSharingSnapshot(
      EngineConnection& writer, const std::string& schema, const std::string& table) {
    return arrow::Status::NotImplemented("engine ", name(),
                                         " cannot share a write's snapshot with a reader");
  }
  // Prometheus series of the engine's own (text exposition format, each with HELP and TYPE),
  // e.g. an ADBC engine's backend connection pool; empty where it has none. Any thread.
  virtual std::string MetricsText() const { return ""; }
  // When this engine's copy of a table last caught up with what others write to its backend
  // (a cache's refresh); nullopt when its rows are the table itself. `schema` as above.
  virtual std::optional<std::chrono::system_clock::time_point> RowsAsOf(const std::string& schema,
                                                                        const std::string& table) {
    return std::nullopt;
  }
};

// Options common to engines: the connection string and the repeated k=v options.
struct EngineOptions {
  std::string connection;  // DuckDB: ":memory:" or a file path; ADBC: the backend's URI
  // Backend credentials (ADBC engines); never logged.
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::map<std::string, std::string> options;
  // Result streams combine rows into batches of about this many rows (or 4 MiB). 128k rows, as
  // DuckDB's own Arrow readers: the ADBC client spent ~20% less CPU decoding 10M rows than at 64k.
  int64_t result_batch_rows = 128 * 1024;
};

}  // namespace hyprstream::engine
