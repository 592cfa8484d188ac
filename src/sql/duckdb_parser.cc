#include "sql/duckdb_parser.h"

#include <duckdb.h>
#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <mutex>

#include "sql/text_memo.h"

namespace hyprstream::sql {
namespace {

using nlohmann::json;

enum class Function { kSerialize, kDeserialize };

// One parse-only connection with its two prepared calls.
struct ParserSlot {
  std::mutex mutex;  // guards every use of connection and the prepared statements
  duckdb_connection connection = nullptr;
  duckdb_prepared_statement serialize = nullptr;    // json_serialize_sql($1)
  duckdb_prepared_statement deserialize = nullptr;  // json_deserialize_sql($1::JSON)
};

class ParserPool {
 public:
  static ParserPool& Get() {
    static ParserPool* pool = new ParserPool();  // lives for the process (no exit-time order)
    return *pool;
  }

  arrow::Result<std::string> Call(Function function, std::string_view argument) {
    if (!status_.ok()) return status_;
    ParserSlot& slot = slots_[next_.fetch_add(1, std::memory_order_relaxed) % slots_.size()];
    std::lock_guard<std::mutex> lock(slot.mutex);
    duckdb_prepared_statement prepared =
        function == Function::kSerialize ? slot.serialize : slot.deserialize;
    if (duckdb_bind_varchar_length(prepared, 1, argument.data(), argument.size()) !=
        DuckDBSuccess) {
      return arrow::Status::Invalid("SQL parser: cannot bind the text");
    }
    duckdb_result result;
    const bool ok = duckdb_execute_prepared(prepared, &result) == DuckDBSuccess;
    auto value = ok ? FirstValue(result)
                    : arrow::Status::Invalid("SQL parser: ", duckdb_result_error(&result));
    duckdb_destroy_result(&result);
    return value;
  }

 private:
  ParserPool() {
    duckdb_config config = nullptr;
    duckdb_create_config(&config);
    duckdb_set_config(config, "threads", "1");
    duckdb_set_config(config, "enable_external_access", "false");
    char* error = nullptr;
    if (duckdb_open_ext(":memory:", &database_, config, &error) != DuckDBSuccess) {
      status_ = arrow::Status::IOError("SQL parser: cannot open DuckDB: ",
                                       error != nullptr ? error : "unknown error");
      duckdb_free(error);
      duckdb_destroy_config(&config);
      return;
    }
    duckdb_destroy_config(&config);
    for (ParserSlot& slot : slots_) {
      if (duckdb_connect(database_, &slot.connection) != DuckDBSuccess ||
          duckdb_prepare(slot.connection, "SELECT json_serialize_sql($1::VARCHAR)",
                         &slot.serialize) != DuckDBSuccess ||
          duckdb_prepare(slot.connection, "SELECT json_deserialize_sql($1::JSON)",
                         &slot.deserialize) != DuckDBSuccess) {
        status_ = arrow::Status::IOError("SQL parser: cannot prepare json_serialize_sql");
        return;
      }
    }
  }

  // The first column of the first row, as text.
  static arrow::Result<std::string> FirstValue(duckdb_result& result) {
    duckdb_data_chunk chunk = duckdb_fetch_chunk(result);
    if (chunk == nullptr) return arrow::Status::Invalid("SQL parser: no result");
    arrow::Result<std::string> out = arrow::Status::Invalid("SQL parser: NULL result");
    if (duckdb_data_chunk_get_size(chunk) > 0) {
      duckdb_vector vector = duckdb_data_chunk_get_vector(chunk, 0);
      uint64_t* validity = duckdb_vector_get_validity(vector);
      if (validity == nullptr || duckdb_validity_row_is_valid(validity, 0)) {
        auto* strings = static_cast<duckdb_string_t*>(duckdb_vector_get_data(vector));
        out = std::string(duckdb_string_t_data(&strings[0]), duckdb_string_t_length(strings[0]));
      }
    }
    duckdb_destroy_data_chunk(&chunk);
    return out;
  }

  duckdb_database database_ = nullptr;
  std::array<ParserSlot, 4> slots_;
  std::atomic<size_t> next_{0};
  arrow::Status status_;  // set once in the constructor
};

}  // namespace

arrow::Result<std::shared_ptr<const json>> SerializeSelect(std::string_view sql) {
  auto text = ParserPool::Get().Call(Function::kSerialize, sql);
  if (!text.ok()) return text.status();
  auto document = std::make_shared<json>(json::parse(*text, nullptr, /*allow_exceptions=*/false));
  if (document->is_discarded() || !document->is_object()) {
    return arrow::Status::Invalid("json_serialize_sql gave no JSON document");
  }
  auto error = document->find("error");
  if (error == document->end() || !error->is_boolean() || error->get<bool>()) {
    auto message = document->find("error_message");
    return arrow::Status::Invalid(message != document->end() && message->is_string()
                                      ? message->get<std::string>()
                                      : std::string("DuckDB cannot parse the statement"));
  }
  auto statements = document->find("statements");
  if (statements == document->end() || !statements->is_array() || statements->empty()) {
    return arrow::Status::Invalid("json_serialize_sql found no statement");
  }
  return std::shared_ptr<const json>(std::move(document));
}

arrow::Result<std::string> Deparse(const json& document) {
  return ParserPool::Get().Call(Function::kDeserialize,
                                document.dump(-1, ' ', false, json::error_handler_t::replace));
}

arrow::Result<std::string> ExpressionSql(const json& expression) {
  static TextMemo<std::string> memo(/*max_entries=*/4096, /*max_bytes=*/16 << 20,
                                    /*max_text_bytes=*/16 << 10);
  const std::string key = expression.dump(-1, ' ', false, json::error_handler_t::replace);
  if (auto known = memo.Find(key)) return *known;
  static const std::shared_ptr<const json> kTemplate = [] {
    auto parsed = SerializeSelect("SELECT 1");
    return parsed.ok() ? *parsed : nullptr;
  }();
  if (kTemplate == nullptr) return arrow::Status::IOError("SQL parser unavailable");
  json document = *kTemplate;
  try {
    document["statements"][0]["node"]["select_list"] = json::array({expression});
  } catch (const json::exception& e) {
    return arrow::Status::Invalid("cannot print the expression: ", e.what());
  }
  ARROW_ASSIGN_OR_RAISE(std::string text, Deparse(document));
  if (text.rfind("SELECT ", 0) != 0) {
    return arrow::Status::Invalid("json_deserialize_sql printed no SELECT: ", text);
  }
  auto sql = std::make_shared<const std::string>(text.substr(7));
  memo.Add(key, sql, 2 * (key.size() + sql->size()));
  return *sql;
}

}  // namespace hyprstream::sql
