// Helpers shared by the engine unit tests: an in-memory DuckDB engine, running SQL and reading
// whole results, building Arrow data from JSON.
#pragma once

#include "engine/duckdb_engine.h"
#include "engine/engine.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace hyprstream::engine::testing {

#define HS_ASSERT_OK(expr)                                    \
  do {                                                        \
    ::arrow::Status _st = ::arrow::ToStatus(expr);            \
    ASSERT_TRUE(_st.ok()) << #expr << ": " << _st.ToString(); \
  } while (false)

#define HS_ASSIGN_OR_FAIL_IMPL(tmp, lhs, rexpr)                       \
  auto tmp = (rexpr);                                                 \
  ASSERT_TRUE(tmp.ok()) << #rexpr << ": " << tmp.status().ToString(); \
  lhs = std::move(tmp).ValueUnsafe();

#define HS_CONCAT_INNER(a, b) a##b
#define HS_CONCAT(a, b) HS_CONCAT_INNER(a, b)
#define HS_ASSIGN_OR_FAIL(lhs, rexpr) HS_ASSIGN_OR_FAIL_IMPL(HS_CONCAT(_res_, __LINE__), lhs, rexpr)

inline std::shared_ptr<Engine> OpenMemoryEngine() {
  EngineOptions options;
  options.connection = ":memory:";
  auto engine = OpenDuckDbEngine(options);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return engine.ok() ? *engine : nullptr;
}

inline arrow::Result<std::shared_ptr<arrow::Table>> ReadAll(arrow::RecordBatchReader& reader) {
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  while (true) {
    std::shared_ptr<arrow::RecordBatch> batch;
    ARROW_RETURN_NOT_OK(reader.ReadNext(&batch));
    if (!batch) break;
    // Every result the engine sends must pass the validation a client may run on it.
    ARROW_RETURN_NOT_OK(batch->ValidateFull());
    if (!batch->schema()->Equals(*reader.schema())) {
      return arrow::Status::Invalid("batch schema ", batch->schema()->ToString(),
                                    " != reader schema ", reader.schema()->ToString());
    }
    batches.push_back(batch);
  }
  return arrow::Table::FromRecordBatches(reader.schema(), batches);
}

inline arrow::Result<std::shared_ptr<arrow::Table>> Query(EngineConnection& connection,
                                                          const std::string& sql) {
  ARROW_ASSIGN_OR_RAISE(auto statement, connection.Prepare(sql));
  ARROW_ASSIGN_OR_RAISE(auto reader, statement->ExecuteQuery());
  return ReadAll(*reader);
}

inline arrow::Result<int64_t> Update(EngineConnection& connection, const std::string& sql) {
  ARROW_ASSIGN_OR_RAISE(auto statement, connection.Prepare(sql));
  return statement->ExecuteUpdate();
}

// The single value of a one-row, one-column query.
inline arrow::Result<std::shared_ptr<arrow::Scalar>> QueryScalar(EngineConnection& connection,
                                                                 const std::string& sql) {
  ARROW_ASSIGN_OR_RAISE(auto table, Query(connection, sql));
  if (table->num_rows() != 1 || table->num_columns() < 1) {
    return arrow::Status::Invalid("expected one row, got ", table->num_rows());
  }
  return table->column(0)->GetScalar(0);
}

inline arrow::Result<int64_t> QueryInt(EngineConnection& connection, const std::string& sql) {
  ARROW_ASSIGN_OR_RAISE(auto scalar, QueryScalar(connection, sql));
  ARROW_ASSIGN_OR_RAISE(auto cast, scalar->CastTo(arrow::int64()));
  if (!cast->is_valid) return arrow::Status::Invalid("NULL");
  return std::static_pointer_cast<arrow::Int64Scalar>(cast)->value;
}

inline std::shared_ptr<arrow::Array> ArrayFromJson(const std::shared_ptr<arrow::DataType>& type,
                                                   const std::string& json) {
  auto array = arrow::json::ArrayFromJSONString(type, json);
  EXPECT_TRUE(array.ok()) << array.status().ToString();
  return *array;
}

inline std::shared_ptr<arrow::RecordBatch> BatchFromJson(
    const std::shared_ptr<arrow::Schema>& schema, const std::vector<std::string>& columns) {
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  for (int i = 0; i < schema->num_fields(); ++i) {
    arrays.push_back(ArrayFromJson(schema->field(i)->type(), columns[i]));
  }
  int64_t rows = arrays.empty() ? 0 : arrays[0]->length();
  return arrow::RecordBatch::Make(schema, rows, arrays);
}

inline std::shared_ptr<arrow::RecordBatchReader> ReaderOf(
    const std::shared_ptr<arrow::Schema>& schema,
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches) {
  return *arrow::RecordBatchReader::Make(std::move(batches), schema);
}

}  // namespace hyprstream::engine::testing
