// Turns DuckDB errors into arrow::Status per engine.h: statement errors (parser, binder,
// catalog, constraint, conversion, ...) are Invalid, a missing catalog object is KeyError, an
// interrupt is Cancelled, unsupported features are NotImplemented, a write that lost to
// another transaction's is a WriteConflict, the rest IOError.
// DuckDB's own message text is kept, prefixed by `context` ("prepare", "append", ...).
#pragma once

#include <duckdb.h>

#include <arrow/status.h>

#include <string_view>

namespace hyprstream::engine {

// The core mapping from a DuckDB error type and message.
arrow::Status StatusFromDuckDb(duckdb_error_type type, std::string_view message,
                               std::string_view context);

// For APIs that only report a message ("Binder Error: ..."): the type is read from the prefix.
arrow::Status StatusFromDuckDbMessage(std::string_view message, std::string_view context);

// Consumes nothing: reads the error of a failed result / error data / appender.
arrow::Status StatusFromResult(duckdb_result* result, std::string_view context);
// OK when `error` is null or has no error; the caller still owns and destroys it.
arrow::Status StatusFromErrorData(duckdb_error_data error, std::string_view context);
arrow::Status StatusFromAppender(duckdb_appender appender, std::string_view context);

// Parses the "<Type> Error: " prefix of a DuckDB message; DUCKDB_ERROR_INVALID when absent.
duckdb_error_type ErrorTypeFromMessage(std::string_view message);

}  // namespace hyprstream::engine
