// floor_client: the point query of bench/run's point_query workload, spoken to a Flight SQL
// server with Arrow's C++ Flight client and nothing else (no ADBC, no Go, no Python), so the
// report can show what the server costs apart from the ADBC Flight SQL driver.
//
// Per query it makes the calls the ADBC driver makes for a prepared statement with one
// parameter: DoPut(CommandPreparedStatementQuery) with a 1-row int64 batch, GetFlightInfo of
// the same command, DoGet of its ticket, reading every batch. It prepares once
// (CreatePreparedStatement), warms up, times `--queries` queries on random keys in
// [0, --keys), checks each answer is the one row with that id, and prints one JSON object:
// {"samples", "p50_ms", "p95_ms", "p99_ms", "mean_ms", "client_cpu_ms_per_query",
//  "latencies_ms": [...]}; client CPU is this process's (all threads) over the timed loop.
// With --sync it prints {"ready": true} after the warm-up and waits for a line on stdin
// before timing, and waits for another after the result before closing, so a caller can
// meter the server's CPU over exactly the timed queries.
//
//   floor_client --uri grpc://127.0.0.1:PORT --sql 'SELECT id, value, label FROM points
//                WHERE id = ?' --keys 100000 [--queries 300] [--warmup 50] [--seed 42] [--sync]
#include <arrow/api.h>
#include <arrow/flight/client.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/reader.h>

#include <google/protobuf/any.pb.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "flight_sql.pb.h"

namespace {

namespace fl = arrow::flight;
namespace pb = arrow::flight::protocol::sql;

struct Options {
  std::string uri;
  std::string sql;
  int64_t keys = 0;
  int queries = 300;
  int warmup = 50;
  uint64_t seed = 42;
  bool sync = false;
};

std::string PackAny(const google::protobuf::Message& message) {
  google::protobuf::Any any;
  any.PackFrom(message);
  return any.SerializeAsString();
}

template <typename T>
arrow::Result<T> UnpackAny(const arrow::Buffer& body) {
  google::protobuf::Any any;
  T message;
  if (!any.ParseFromArray(body.data(), static_cast<int>(body.size())) || !any.UnpackTo(&message)) {
    return arrow::Status::IOError("reply is not a packed ", T::descriptor()->full_name());
  }
  return message;
}

double CpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// One prepared point query on one connection (one gRPC channel: one server session).
class PointQuery {
 public:
  static arrow::Result<PointQuery> Prepare(const Options& options) {
    ARROW_ASSIGN_OR_RAISE(auto location, fl::Location::Parse(options.uri));
    PointQuery query;
    ARROW_ASSIGN_OR_RAISE(query.client_, fl::FlightClient::Connect(location));
    pb::ActionCreatePreparedStatementRequest request;
    request.set_query(options.sql);
    ARROW_ASSIGN_OR_RAISE(auto results,
                          query.client_->DoAction({"CreatePreparedStatement",
                                                   arrow::Buffer::FromString(PackAny(request))}));
    ARROW_ASSIGN_OR_RAISE(auto result, results->Next());
    if (result == nullptr) return arrow::Status::IOError("CreatePreparedStatement: no result");
    ARROW_ASSIGN_OR_RAISE(auto prepared,
                          UnpackAny<pb::ActionCreatePreparedStatementResult>(*result->body));
    ARROW_RETURN_NOT_OK(results->Drain());
    query.handle_ = prepared.prepared_statement_handle();
    // The parameter's name as the server announced it (the ADBC driver sends its own); the
    // type is int64, as the Python ints the workload binds.
    std::string name = "0";
    if (!prepared.parameter_schema().empty()) {
      arrow::io::BufferReader reader(arrow::Buffer::FromString(prepared.parameter_schema()));
      arrow::ipc::DictionaryMemo memo;
      ARROW_ASSIGN_OR_RAISE(auto schema, arrow::ipc::ReadSchema(&reader, &memo));
      if (schema->num_fields() > 0) name = schema->field(0)->name();
    }
    query.parameter_schema_ = arrow::schema({arrow::field(name, arrow::int64())});
    return query;
  }

  // Runs the query for `key`; returns the number of rows and checks the first row's id.
  arrow::Result<int64_t> Run(int64_t key) {
    pb::CommandPreparedStatementQuery command;
    command.set_prepared_statement_handle(handle_);
    auto descriptor = fl::FlightDescriptor::Command(PackAny(command));

    arrow::Int64Builder builder;
    ARROW_RETURN_NOT_OK(builder.Append(key));
    ARROW_ASSIGN_OR_RAISE(auto column, builder.Finish());
    auto parameters = arrow::RecordBatch::Make(parameter_schema_, 1, {column});
    ARROW_ASSIGN_OR_RAISE(auto put, client_->DoPut(descriptor, parameter_schema_));
    ARROW_RETURN_NOT_OK(put.writer->WriteRecordBatch(*parameters));
    ARROW_RETURN_NOT_OK(put.writer->DoneWriting());
    std::shared_ptr<arrow::Buffer> metadata;
    ARROW_RETURN_NOT_OK(put.reader->ReadMetadata(&metadata));
    ARROW_RETURN_NOT_OK(put.writer->Close());
    if (metadata != nullptr && metadata->size() > 0) {  // the server may hand out a new handle
      pb::DoPutPreparedStatementResult bound;           // the message itself, not packed in an Any
      if (!bound.ParseFromArray(metadata->data(), static_cast<int>(metadata->size()))) {
        return arrow::Status::IOError("DoPut reply is not a DoPutPreparedStatementResult");
      }
      if (bound.has_prepared_statement_handle()) {
        handle_ = bound.prepared_statement_handle();
        command.set_prepared_statement_handle(handle_);
        descriptor = fl::FlightDescriptor::Command(PackAny(command));
      }
    }

    ARROW_ASSIGN_OR_RAISE(auto info, client_->GetFlightInfo(descriptor));
    int64_t rows = 0;
    for (const auto& endpoint : info->endpoints()) {
      ARROW_ASSIGN_OR_RAISE(auto stream, client_->DoGet(endpoint.ticket));
      while (true) {
        ARROW_ASSIGN_OR_RAISE(auto chunk, stream->Next());
        if (chunk.data == nullptr) break;
        if (rows == 0 && chunk.data->num_rows() > 0) {
          ARROW_ASSIGN_OR_RAISE(auto id, chunk.data->column(0)->GetScalar(0));
          ARROW_ASSIGN_OR_RAISE(auto as_int, id->CastTo(arrow::int64()));
          if (static_cast<const arrow::Int64Scalar&>(*as_int).value != key) {
            return arrow::Status::Invalid("key ", key, " answered with id ", id->ToString());
          }
        }
        rows += chunk.data->num_rows();
      }
    }
    return rows;
  }

  arrow::Status Close() {
    pb::ActionClosePreparedStatementRequest request;
    request.set_prepared_statement_handle(handle_);
    ARROW_ASSIGN_OR_RAISE(
        auto results,
        client_->DoAction({"ClosePreparedStatement", arrow::Buffer::FromString(PackAny(request))}));
    ARROW_RETURN_NOT_OK(results->Drain());
    return client_->Close();
  }

 private:
  std::unique_ptr<fl::FlightClient> client_;
  std::string handle_;
  std::shared_ptr<arrow::Schema> parameter_schema_;
};

double Percentile(std::vector<double> sorted, double p) {  // nearest rank, as bench_util
  size_t at = static_cast<size_t>(std::lround(p / 100 * static_cast<double>(sorted.size() - 1)));
  return sorted[std::min(sorted.size() - 1, at)];
}

void WaitForLine() {
  std::string line;
  std::getline(std::cin, line);
}

arrow::Status Run(const Options& options) {
  ARROW_ASSIGN_OR_RAISE(auto query, PointQuery::Prepare(options));
  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<int64_t> keys(0, options.keys - 1);
  auto check = [&](int64_t key) -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(auto rows, query.Run(key));
    if (rows != 1) return arrow::Status::Invalid("key ", key, " answered with ", rows, " rows");
    return arrow::Status::OK();
  };
  for (int k = 0; k < options.warmup; ++k) ARROW_RETURN_NOT_OK(check(keys(rng)));
  if (options.sync) {
    std::printf("{\"ready\": true}\n");
    std::fflush(stdout);
    WaitForLine();
  }

  std::vector<double> latencies;
  latencies.reserve(options.queries);
  double cpu = CpuSeconds();
  for (int k = 0; k < options.queries; ++k) {
    int64_t key = keys(rng);
    auto start = std::chrono::steady_clock::now();
    ARROW_RETURN_NOT_OK(check(key));
    std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
    latencies.push_back(took.count());
  }
  cpu = CpuSeconds() - cpu;

  std::vector<double> sorted = latencies;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double v : latencies) sum += v;
  std::string out = "{\"samples\": " + std::to_string(options.queries);
  auto add = [&](const char* key, double v) {
    char text[64];
    std::snprintf(text, sizeof text, ", \"%s\": %.4f", key, v);
    out += text;
  };
  add("p50_ms", Percentile(sorted, 50));
  add("p95_ms", Percentile(sorted, 95));
  add("p99_ms", Percentile(sorted, 99));
  add("mean_ms", sum / static_cast<double>(latencies.size()));
  add("client_cpu_ms_per_query", cpu * 1000 / options.queries);
  out += ", \"latencies_ms\": [";
  for (size_t k = 0; k < latencies.size(); ++k) {
    char text[32];
    std::snprintf(text, sizeof text, "%s%.4f", k ? ", " : "", latencies[k]);
    out += text;
  }
  out += "]}\n";
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);
  if (options.sync) WaitForLine();
  return query.Close();
}

arrow::Result<Options> ParseArgs(int argc, char** argv) {
  Options options;
  for (int k = 1; k < argc; ++k) {
    std::string arg = argv[k];
    if (arg == "--sync") {
      options.sync = true;
      continue;
    }
    if (k + 1 >= argc) return arrow::Status::Invalid("missing value after ", arg);
    std::string value = argv[++k];
    try {
      if (arg == "--uri") {
        options.uri = value;
      } else if (arg == "--sql") {
        options.sql = value;
      } else if (arg == "--keys") {
        options.keys = std::stoll(value);
      } else if (arg == "--queries") {
        options.queries = std::stoi(value);
      } else if (arg == "--warmup") {
        options.warmup = std::stoi(value);
      } else if (arg == "--seed") {
        options.seed = std::stoull(value);
      } else {
        return arrow::Status::Invalid("unknown option ", arg);
      }
    } catch (const std::exception&) {
      return arrow::Status::Invalid("bad number for ", arg, ": ", value);
    }
  }
  if (options.uri.empty() || options.sql.empty() || options.keys <= 0 || options.queries <= 0 ||
      options.warmup < 0) {
    return arrow::Status::Invalid(
        "usage: floor_client --uri URI --sql SQL --keys N [--queries N] [--warmup N] "
        "[--seed N] [--sync]");
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  auto options = ParseArgs(argc, argv);
  arrow::Status status = options.ok() ? Run(*options) : options.status();
  if (!status.ok()) {
    std::fprintf(stderr, "floor_client: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
