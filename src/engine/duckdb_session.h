// The state behind one DuckDbConnection, shared with its statements and open result readers
// (they keep it alive): the duckdb_connection, the mutex that serialises every call into it,
// the transaction flag and the one streaming result that may still be open. Whoever holds
// mutex() and is about to run something calls QuiesceLocked() first, which moves the rest of
// the open result into memory so that reader stays valid.
#pragma once

#include "engine/duckdb_database.h"

#include <duckdb.h>

#include <arrow/status.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "engine/duckdb_type_name.h"
#include "sql/table_ref.h"

namespace hyprstream::engine {

class DuckDbResultReader;

class DuckDbSession {
 public:
  static arrow::Result<std::shared_ptr<DuckDbSession>> Open(
      std::shared_ptr<DuckDbDatabase> database);
  ~DuckDbSession();
  DuckDbSession(const DuckDbSession&) = delete;
  DuckDbSession& operator=(const DuckDbSession&) = delete;

  duckdb_connection connection() const { return connection_; }
  const DuckDbDatabase& database() const { return *database_; }
  // Recursive so a reader released while the lock is held can still clean up.
  std::recursive_mutex& mutex() { return mutex_; }

  // mutex() held. Drains the open streaming result (if any) into memory.
  void QuiesceLocked();
  // mutex() held. Registers the reader that now owns the connection's streaming result.
  void SetOpenReaderLocked(std::weak_ptr<DuckDbResultReader> reader);

  bool in_transaction() const { return in_transaction_.load(); }
  void set_in_transaction(bool value) { in_transaction_.store(value); }
  // Updates the transaction flag after SQL ran (or failed), from the transaction-control
  // statements in it (BEGIN/START TRANSACTION, COMMIT/END, ROLLBACK/ABORT; sql module).
  void NoteTransactionStatement(std::string_view sql, bool succeeded);

  // mutex() held. The connection's current catalog and schema, read once and kept until
  // ForgetNamespaceLocked (a SET/USE, ATTACH or DETACH may have changed them).
  arrow::Result<std::pair<std::string, std::string>> CurrentNamespaceLocked();
  void ForgetNamespaceLocked() { namespace_.reset(); }
  // mutex() held. The table `table` names here (temp tables first, as DuckDB resolves it), or
  // nullopt when it is not a table this connection sees.
  std::optional<ColumnOrigin> ResolveTableLocked(const sql::TableRef& table);

  // mutex() held (and quiesced). Runs one statement and discards its result.
  arrow::Status ExecuteLocked(const std::string& sql, std::string_view context);

  // Lock-free; safe from any thread.
  void Interrupt();

 private:
  DuckDbSession(std::shared_ptr<DuckDbDatabase> database, duckdb_connection connection)
      : database_(std::move(database)), connection_(connection) {}

  std::shared_ptr<DuckDbDatabase> database_;
  duckdb_connection connection_;
  std::recursive_mutex mutex_;
  std::weak_ptr<DuckDbResultReader> open_reader_;
  std::atomic<bool> in_transaction_{false};
  std::optional<std::pair<std::string, std::string>> namespace_;  // guarded by mutex_
};

}  // namespace hyprstream::engine
