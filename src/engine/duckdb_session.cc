#include "engine/duckdb_session.h"

#include "engine/duckdb_handle.h"
#include "engine/duckdb_result_reader.h"
#include "engine/duckdb_status.h"

#include <cctype>

namespace hyprstream::engine {

namespace {

std::string FirstKeyword(std::string_view sql) {
  size_t i = 0;
  while (i < sql.size()) {
    // Skip blanks and comments.
    if (std::isspace(static_cast<unsigned char>(sql[i]))) {
      ++i;
    } else if (sql.substr(i, 2) == "--") {
      while (i < sql.size() && sql[i] != '\n') ++i;
    } else if (sql.substr(i, 2) == "/*") {
      size_t end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 2;
    } else {
      break;
    }
  }
  std::string word;
  while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i]))) {
    word.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i]))));
    ++i;
  }
  return word;
}

}  // namespace

arrow::Result<std::shared_ptr<DuckDbSession>> DuckDbSession::Open(
    std::shared_ptr<DuckDbDatabase> database) {
  ARROW_ASSIGN_OR_RAISE(duckdb_connection connection, database->Connect());
  return std::shared_ptr<DuckDbSession>(new DuckDbSession(std::move(database), connection));
}

DuckDbSession::~DuckDbSession() { duckdb_disconnect(&connection_); }

void DuckDbSession::QuiesceLocked() {
  // Keep the reader alive past this call even if its last owner lets go meanwhile.
  std::shared_ptr<DuckDbResultReader> reader = open_reader_.lock();
  open_reader_.reset();
  if (reader) reader->DrainLocked();
}

void DuckDbSession::SetOpenReaderLocked(std::weak_ptr<DuckDbResultReader> reader) {
  open_reader_ = std::move(reader);
}

void DuckDbSession::NoteTransactionStatement(std::string_view sql, bool succeeded) {
  std::string keyword = FirstKeyword(sql);
  if (keyword == "BEGIN" || keyword == "START") {
    if (succeeded) set_in_transaction(true);
  } else if (keyword == "COMMIT" || keyword == "END" || keyword == "ROLLBACK" ||
             keyword == "ABORT") {
    // A failed COMMIT rolls back in DuckDB; either way no transaction is left open.
    set_in_transaction(false);
  }
}

arrow::Status DuckDbSession::ExecuteLocked(const std::string& sql, std::string_view context) {
  ResultHandle result;
  if (duckdb_query(connection_, sql.c_str(), result.out()) != DuckDBSuccess) {
    return StatusFromResult(result.get(), context);
  }
  return arrow::Status::OK();
}

void DuckDbSession::Interrupt() { duckdb_interrupt(connection_); }

}  // namespace hyprstream::engine
