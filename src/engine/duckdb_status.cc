#include "engine/duckdb_status.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>

#include "engine/engine.h"

namespace hyprstream::engine {

namespace {

// DuckDB 1.4's TransactionException texts for a write that lost to another transaction's
// write of the same rows, table or catalog entry ("Conflict on update!", "Conflict on tuple
// deletion!", "write-write conflict on key", "Catalog write-write conflict on create",
// "Transaction conflict: attempting to ...", "Attempting to modify table t but another
// transaction has altered this table"); its other transaction errors are the caller's.
bool IsConflict(std::string_view message) {
  std::string lower(message);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("conflict") != std::string::npos ||
         lower.find("another transaction has") != std::string::npos;
}

// DuckDB 1.4's prepare path appends the "LINE n: ... ^" position block twice; keep one.
std::string_view WithoutRepeatedTail(std::string_view message) {
  auto second = message.rfind("\n\nLINE ");
  if (second == std::string_view::npos || second == 0) return message;
  auto first = message.rfind("\n\nLINE ", second - 1);
  if (first == std::string_view::npos) return message;
  if (message.substr(first, second - first) == message.substr(second)) {
    return message.substr(0, second);
  }
  return message;
}

std::string WithContext(std::string_view context, std::string_view message) {
  message = WithoutRepeatedTail(message);
  std::string out;
  if (!context.empty()) {
    out.append(context);
    out.append(": ");
  }
  out.append(message.empty() ? std::string_view("unknown DuckDB error") : message);
  return out;
}

// DuckDB's Exception::ExceptionTypeToString spellings, as they prefix messages.
constexpr std::pair<std::string_view, duckdb_error_type> kPrefixes[] = {
    {"Out of Range", DUCKDB_ERROR_OUT_OF_RANGE},
    {"Conversion", DUCKDB_ERROR_CONVERSION},
    {"Unknown Type", DUCKDB_ERROR_UNKNOWN_TYPE},
    {"Decimal", DUCKDB_ERROR_DECIMAL},
    {"Mismatch Type", DUCKDB_ERROR_MISMATCH_TYPE},
    {"Divide by Zero", DUCKDB_ERROR_DIVIDE_BY_ZERO},
    {"Object Size", DUCKDB_ERROR_OBJECT_SIZE},
    {"Invalid type", DUCKDB_ERROR_INVALID_TYPE},
    {"Serialization", DUCKDB_ERROR_SERIALIZATION},
    {"TransactionContext", DUCKDB_ERROR_TRANSACTION},
    {"Not implemented", DUCKDB_ERROR_NOT_IMPLEMENTED},
    {"Expression", DUCKDB_ERROR_EXPRESSION},
    {"Catalog", DUCKDB_ERROR_CATALOG},
    {"Parser", DUCKDB_ERROR_PARSER},
    {"Planner", DUCKDB_ERROR_PLANNER},
    {"Scheduler", DUCKDB_ERROR_SCHEDULER},
    {"Executor", DUCKDB_ERROR_EXECUTOR},
    {"Constraint", DUCKDB_ERROR_CONSTRAINT},
    {"Index", DUCKDB_ERROR_INDEX},
    {"Stat", DUCKDB_ERROR_STAT},
    {"Connection", DUCKDB_ERROR_CONNECTION},
    {"Syntax", DUCKDB_ERROR_SYNTAX},
    {"Settings", DUCKDB_ERROR_SETTINGS},
    {"Binder", DUCKDB_ERROR_BINDER},
    {"Network", DUCKDB_ERROR_NETWORK},
    {"Optimizer", DUCKDB_ERROR_OPTIMIZER},
    {"NullPointer", DUCKDB_ERROR_NULL_POINTER},
    {"IO", DUCKDB_ERROR_IO},
    {"INTERRUPT", DUCKDB_ERROR_INTERRUPT},
    {"FATAL", DUCKDB_ERROR_FATAL},
    {"INTERNAL", DUCKDB_ERROR_INTERNAL},
    {"Invalid Input", DUCKDB_ERROR_INVALID_INPUT},
    {"Out of Memory", DUCKDB_ERROR_OUT_OF_MEMORY},
    {"Permission", DUCKDB_ERROR_PERMISSION},
    {"Parameter Not Resolved", DUCKDB_ERROR_PARAMETER_NOT_RESOLVED},
    {"Parameter Not Allowed", DUCKDB_ERROR_PARAMETER_NOT_ALLOWED},
    {"Dependency", DUCKDB_ERROR_DEPENDENCY},
    {"HTTP", DUCKDB_ERROR_HTTP},
    {"Missing Extension", DUCKDB_ERROR_MISSING_EXTENSION},
    {"Extension Autoloading", DUCKDB_ERROR_AUTOLOAD},
    {"Sequence", DUCKDB_ERROR_SEQUENCE},
    {"Invalid", DUCKDB_ERROR_INVALID},
};

}  // namespace

duckdb_error_type ErrorTypeFromMessage(std::string_view message) {
  auto colon = message.find(" Error: ");
  if (colon == std::string_view::npos) return DUCKDB_ERROR_INVALID;
  std::string_view prefix = message.substr(0, colon);
  for (const auto& [name, type] : kPrefixes) {
    if (prefix == name) return type;
  }
  return DUCKDB_ERROR_INVALID;
}

arrow::Status StatusFromDuckDb(duckdb_error_type type, std::string_view message,
                               std::string_view context) {
  std::string text = WithContext(context, message);
  switch (type) {
    case DUCKDB_ERROR_INTERRUPT:
      return arrow::Status::Cancelled(std::move(text));
    case DUCKDB_ERROR_CATALOG:
      if (message.find("does not exist") != std::string_view::npos ||
          message.find("not found") != std::string_view::npos) {
        return arrow::Status::KeyError(std::move(text));
      }
      return arrow::Status::Invalid(std::move(text));
    case DUCKDB_ERROR_NOT_IMPLEMENTED:
      return arrow::Status::NotImplemented(std::move(text));
    case DUCKDB_ERROR_TRANSACTION:
      if (IsConflict(message)) return WriteConflict(std::move(text));
      return arrow::Status::Invalid(std::move(text));
    case DUCKDB_ERROR_OUT_OF_RANGE:
    case DUCKDB_ERROR_CONVERSION:
    case DUCKDB_ERROR_UNKNOWN_TYPE:
    case DUCKDB_ERROR_DECIMAL:
    case DUCKDB_ERROR_MISMATCH_TYPE:
    case DUCKDB_ERROR_DIVIDE_BY_ZERO:
    case DUCKDB_ERROR_OBJECT_SIZE:
    case DUCKDB_ERROR_INVALID_TYPE:
    case DUCKDB_ERROR_EXPRESSION:
    case DUCKDB_ERROR_PARSER:
    case DUCKDB_ERROR_PLANNER:
    case DUCKDB_ERROR_CONSTRAINT:
    case DUCKDB_ERROR_SYNTAX:
    case DUCKDB_ERROR_SETTINGS:
    case DUCKDB_ERROR_BINDER:
    case DUCKDB_ERROR_INVALID_INPUT:
    case DUCKDB_ERROR_PERMISSION:
    case DUCKDB_ERROR_PARAMETER_NOT_RESOLVED:
    case DUCKDB_ERROR_PARAMETER_NOT_ALLOWED:
    case DUCKDB_ERROR_DEPENDENCY:
    case DUCKDB_ERROR_SEQUENCE:
    case DUCKDB_ERROR_MISSING_EXTENSION:
    case DUCKDB_ERROR_INDEX:
      return arrow::Status::Invalid(std::move(text));
    case DUCKDB_ERROR_INVALID: {
      // The generic type: the message prefix often says more (e.g. errors of prepare).
      duckdb_error_type parsed = ErrorTypeFromMessage(message);
      if (parsed != DUCKDB_ERROR_INVALID) return StatusFromDuckDb(parsed, message, context);
      return arrow::Status::IOError(std::move(text));
    }
    default:
      return arrow::Status::IOError(std::move(text));
  }
}

arrow::Status StatusFromDuckDbMessage(std::string_view message, std::string_view context) {
  return StatusFromDuckDb(ErrorTypeFromMessage(message), message, context);
}

arrow::Status StatusFromResult(duckdb_result* result, std::string_view context) {
  const char* message = duckdb_result_error(result);
  if (message == nullptr) return arrow::Status::OK();
  return StatusFromDuckDb(duckdb_result_error_type(result), message, context);
}

arrow::Status StatusFromErrorData(duckdb_error_data error, std::string_view context) {
  if (error == nullptr || !duckdb_error_data_has_error(error)) return arrow::Status::OK();
  return StatusFromDuckDb(duckdb_error_data_error_type(error), duckdb_error_data_message(error),
                          context);
}

arrow::Status StatusFromAppender(duckdb_appender appender, std::string_view context) {
  duckdb_error_data error = duckdb_appender_error_data(appender);
  arrow::Status status = StatusFromErrorData(error, context);
  if (error != nullptr) duckdb_destroy_error_data(&error);
  if (status.ok()) return arrow::Status::IOError(WithContext(context, "appender failed"));
  return status;
}

}  // namespace hyprstream::engine
