// libFuzzer target: Arrow IPC ingest into DuckDB. Reads the input as an Arrow IPC stream (the
// bytes a DoPut carries) and bulk-ingests it through the DuckDB engine's Ingest into a table of
// an in-memory database (create or replace), then appends the same batches through a streaming
// TableAppender, as the server does for CommandStatementIngest and path DoPuts. A clean error
// status is fine; a crash, leak or sanitizer report is a finding.
// Single-threaded; one engine for the process, the table is replaced by each input.
#include <arrow/buffer.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/reader.h>
#include <arrow/record_batch.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/duckdb_engine.h"

namespace engine = hyprstream::engine;

namespace {

struct Fixture {
  std::shared_ptr<engine::Engine> db;
  std::shared_ptr<engine::EngineConnection> connection;

  Fixture() {
    engine::EngineOptions options;
    options.connection = ":memory:";
    options.options["threads"] = "1";
    options.options["memory_limit"] = "512MB";
    db = engine::OpenDuckDbEngine(options).ValueOrDie();
    connection = db->Connect().ValueOrDie();
  }
};

std::shared_ptr<arrow::RecordBatchReader> Open(const uint8_t* data, size_t size) {
  auto input = std::make_shared<arrow::io::BufferReader>(
      std::make_shared<arrow::Buffer>(data, static_cast<int64_t>(size)));
  auto reader = arrow::ipc::RecordBatchStreamReader::Open(input);
  return reader.ok() ? *reader : nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;
  auto reader = Open(data, size);
  if (!reader) return 0;
  engine::IngestRequest request;
  request.table = "fuzz";
  request.if_not_exists = engine::IngestRequest::IfNotExists::kCreate;
  request.if_exists = engine::IngestRequest::IfExists::kReplace;
  auto rows = fixture.connection->Ingest(request, reader.get());
  if (!rows.ok()) return 0;
  // The table now has the stream's schema: append the batches again, one commit each.
  reader = Open(data, size);
  if (!reader) return 0;
  auto appender = fixture.db->OpenAppender({"fuzz"}, reader->schema());
  if (!appender.ok()) return 0;
  while (true) {
    auto batch = reader->Next();
    if (!batch.ok() || *batch == nullptr) break;
    if (!(*appender)->Append(**batch).ok()) break;
  }
  return 0;
}
