// AdbcTableAppender: streaming ingest into one backend table on a connection it holds (taken
// from the pool for the appender's life). Each Append is one ADBC bulk ingest (append mode)
// under autocommit, so it is committed before it returns. One thread at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "engine/adbc_connection_pool.h"
#include "engine/engine.h"

namespace hyprstream::engine {

class AdbcTableAppender : public TableAppender {
 public:
  // Opens the appender on [catalog.][schema.]table; creates the table from `schema` when
  // missing.
  static arrow::Result<std::unique_ptr<TableAppender>> Open(
      const std::shared_ptr<AdbcConnectionPool>& pool, const std::vector<std::string>& path,
      const std::shared_ptr<arrow::Schema>& schema);

  const std::shared_ptr<arrow::Schema>& schema() const override { return schema_; }
  arrow::Result<int64_t> Append(const arrow::RecordBatch& batch) override;

 private:
  AdbcTableAppender() = default;

  std::shared_ptr<AdbcConnectionPool> pool_;
  std::shared_ptr<AdbcConnectionLease> lease_;
  IngestRequest target_;
  std::shared_ptr<arrow::Schema> schema_;
};

}  // namespace hyprstream::engine
