#include "window/metrics_insert.h"

#include "engine/engine_sql.h"

#include <arrow/record_batch.h>

#include <algorithm>

namespace hyprstream::window {
namespace {

// The columns a client may give, in the table's order.
const std::vector<std::string>& ClientColumns() {
  static const std::vector<std::string> kColumns = {"metric_id", "timestamp", "value"};
  return kColumns;
}

arrow::Status Refuse(const std::string& what) {
  return arrow::Status::Invalid(
      "INSERT INTO metrics ", what,
      "; insert metric_id, timestamp and value with VALUES or a query (the running columns are "
      "computed by hyprstream), or ingest Arrow data");
}

}  // namespace

arrow::Result<std::unique_ptr<MetricsInsert>> MetricsInsert::Make(
    std::shared_ptr<engine::EngineConnection> connection, std::shared_ptr<WindowCatalog> catalog,
    const sql::StatementInfo& insert, RowsCallback on_rows) {
  if (!insert.insert) return Refuse("of a form not recognised");
  const sql::InsertFacts& facts = *insert.insert;
  if (facts.returning) return Refuse("... RETURNING is not supported");
  if (facts.conflict != sql::ConflictAction::kNone) return Refuse("with a conflict clause");
  if (facts.default_values) return Refuse("DEFAULT VALUES stores no metric");
  std::vector<std::string> columns = facts.columns;
  for (const auto& column : columns) {
    if (std::find(ClientColumns().begin(), ClientColumns().end(), column) ==
        ClientColumns().end()) {
      return Refuse("of column '" + column + "'");
    }
  }
  if (columns.empty() && !facts.by_name) columns = ClientColumns();
  ARROW_ASSIGN_OR_RAISE(auto source, connection->Prepare(facts.SourceQuery(insert.script_text())));
  if (auto schema = source->dataset_schema();
      schema != nullptr && !facts.by_name &&
      schema->num_fields() > static_cast<int>(columns.size())) {
    return Refuse("with " + std::to_string(schema->num_fields()) + " values per row for " +
                  std::to_string(columns.size()) + " columns");
  }
  return std::unique_ptr<MetricsInsert>(new MetricsInsert(std::move(connection), std::move(catalog),
                                                          std::move(columns), facts.by_name,
                                                          std::move(source), std::move(on_rows)));
}

std::shared_ptr<arrow::Schema> MetricsInsert::dataset_schema() const {
  return engine::CountSchema();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> MetricsInsert::Named(
    const arrow::RecordBatch& batch) const {
  if (by_name_) return arrow::RecordBatch::Make(batch.schema(), batch.num_rows(), batch.columns());
  if (batch.num_columns() > static_cast<int>(columns_.size())) {
    return Refuse("with " + std::to_string(batch.num_columns()) + " values per row for " +
                  std::to_string(columns_.size()) + " columns");
  }
  arrow::FieldVector fields;
  for (int i = 0; i < batch.num_columns(); ++i) {
    fields.push_back(batch.schema()->field(i)->WithName(columns_[i]));
  }
  return arrow::RecordBatch::Make(arrow::schema(std::move(fields)), batch.num_rows(),
                                  batch.columns());
}

arrow::Result<int64_t> MetricsInsert::ExecuteUpdate() {
  ARROW_ASSIGN_OR_RAISE(auto reader, source_->ExecuteQuery());
  // Read whole: the ingest below runs on the same connection.
  ARROW_ASSIGN_OR_RAISE(auto batches, reader->ToRecordBatches());
  const TableName metrics = WindowCatalog::MetricsTableName();
  arrow::RecordBatchVector rows;
  auto prepared = [&]() -> arrow::Status {
    for (const auto& batch : batches) {
      if (batch->num_rows() == 0) continue;
      ARROW_ASSIGN_OR_RAISE(auto named, Named(*batch));
      ARROW_ASSIGN_OR_RAISE(auto complete, catalog_->PrepareAppend(metrics, named));
      rows.push_back(std::move(complete));
    }
    return arrow::Status::OK();
  }();
  if (rows.empty()) {
    if (!prepared.ok()) catalog_->Abandoned(metrics);
    ARROW_RETURN_NOT_OK(prepared);
    return 0;
  }
  auto written = [&]() -> arrow::Result<int64_t> {
    ARROW_RETURN_NOT_OK(prepared);
    ARROW_ASSIGN_OR_RAISE(auto stored, arrow::RecordBatchReader::Make(rows, rows[0]->schema()));
    engine::IngestRequest request;
    request.table = metrics.table;
    request.if_not_exists = engine::IngestRequest::IfNotExists::kFail;
    request.if_exists = engine::IngestRequest::IfExists::kAppend;
    return connection_->Ingest(request, stored.get());
  }();
  if (!written.ok()) {
    // Rows that went through PrepareAppend but will never be stored.
    catalog_->Abandoned(metrics);
    return written.status();
  }
  on_rows_(std::move(rows));
  return *written;
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> MetricsInsert::ExecuteQuery() {
  ARROW_ASSIGN_OR_RAISE(int64_t count, ExecuteUpdate());
  return engine::CountResult(count);
}

}  // namespace hyprstream::window
