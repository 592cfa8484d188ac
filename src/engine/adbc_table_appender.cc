#include "engine/adbc_table_appender.h"

#include "engine/adbc_ingest.h"

namespace hyprstream::engine {

arrow::Result<std::unique_ptr<TableAppender>> AdbcTableAppender::Open(
    const std::shared_ptr<AdbcConnectionPool>& pool, const std::vector<std::string>& path,
    const std::shared_ptr<arrow::Schema>& schema) {
  if (path.empty() || path.size() > 3) {
    return arrow::Status::Invalid("appender target must be [catalog.][schema.]table");
  }
  std::unique_ptr<AdbcTableAppender> appender(new AdbcTableAppender());
  appender->pool_ = pool;
  ARROW_ASSIGN_OR_RAISE(auto lease, pool->Acquire());
  appender->lease_ = std::move(lease);
  appender->target_.table = path.back();
  if (path.size() >= 2) appender->target_.schema = path[path.size() - 2];
  if (path.size() == 3) appender->target_.catalog = path[0];
  appender->target_.if_not_exists = IngestRequest::IfNotExists::kCreate;
  appender->target_.if_exists = IngestRequest::IfExists::kAppend;
  AdbcIngest ingest(appender->lease_, nullptr);
  ARROW_ASSIGN_OR_RAISE(bool exists, ingest.TableExists(appender->target_));
  if (exists) {
    appender->schema_ = schema;
    if (!appender->schema_) {
      ARROW_ASSIGN_OR_RAISE(appender->schema_,
                            ReadTableSchema(*appender->lease_, appender->target_.catalog,
                                            appender->target_.schema, appender->target_.table));
    }
  } else {
    if (!schema) {
      return arrow::Status::KeyError("table ", path.back(),
                                     " does not exist and no schema was given to create it");
    }
    appender->schema_ = schema;
    ARROW_ASSIGN_OR_RAISE(auto empty, arrow::RecordBatchReader::Make({}, schema));
    ARROW_RETURN_NOT_OK(ingest.Write(appender->target_, empty.get(), false).status());
  }
  return std::unique_ptr<TableAppender>(std::move(appender));
}

arrow::Result<int64_t> AdbcTableAppender::Append(const arrow::RecordBatch& batch) {
  if (!lease_) {
    ARROW_ASSIGN_OR_RAISE(lease_, pool_->Acquire());
  }
  auto shared = arrow::RecordBatch::Make(batch.schema(), batch.num_rows(), batch.column_data());
  ARROW_ASSIGN_OR_RAISE(auto reader, arrow::RecordBatchReader::Make({shared}, batch.schema()));
  AdbcIngest ingest(lease_, nullptr);
  auto rows = ingest.Write(target_, reader.get(), /*own_transaction=*/false);
  if (!rows.ok() && IsBackendUnavailable(rows.status())) lease_.reset();  // reconnect next time
  return rows;
}

}  // namespace hyprstream::engine
