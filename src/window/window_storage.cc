#include "window/window_storage.h"

#include <arrow/array.h>
#include <arrow/array/util.h>
#include <arrow/builder.h>
#include <arrow/compute/cast.h>
#include <arrow/scalar.h>

#include <chrono>
#include <cstdio>

#include <spdlog/spdlog.h>

#include "engine/arrow_to_duckdb_type.h"
#include "engine/engine_sql.h"
#include "engine/prefix_delete.h"
#include "engine/result_provenance.h"
#include "window/event_time.h"

namespace hyprstream::window {
namespace {

constexpr char kDefinitions[] = "window_definitions";

std::string Quote(const std::string& name) { return engine::QuoteIdentifier(name); }

std::string InList(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& value : values) out += (out.empty() ? "" : ", ") + engine::QuoteLiteral(value);
  return out;
}

}  // namespace

arrow::Result<std::unique_ptr<WindowStorage>> WindowStorage::Open(
    std::shared_ptr<engine::Engine> engine) {
  ARROW_ASSIGN_OR_RAISE(auto connection, engine->Connect());
  Flavor flavor = Flavor::kDuckDb;
  auto backend = connection->GetBackendInfo();
  if (backend.ok()) {
    const std::string& vendor = backend->vendor_name;
    flavor = vendor.find("PostgreSQL") != std::string::npos ? Flavor::kPostgres
             : vendor.find("SQLite") != std::string::npos   ? Flavor::kSqlite
             : vendor.find("DuckDB") != std::string::npos   ? Flavor::kDuckDb
                                                            : Flavor::kOther;
  }
  std::string default_schema = "main";
  if (flavor != Flavor::kSqlite) {
    auto schema = engine::QueryValue(*connection, "SELECT current_schema()");
    if (schema.ok() && !schema->empty()) default_schema = *schema;
  }
  return std::unique_ptr<WindowStorage>(
      new WindowStorage(std::move(engine), flavor, Lower(default_schema)));
}

TableName WindowStorage::Canonical(const std::optional<std::string>& schema,
                                   const std::string& table) const {
  TableName name = TableName::Of(schema, table);
  if (name.schema == default_schema_) name.schema = "main";
  return name;
}

std::string WindowStorage::Sql(const TableName& table) const {
  if (table.schema == "main" || flavor_ == Flavor::kSqlite) return Quote(table.table);
  return Quote(table.schema) + "." + Quote(table.table);
}

std::string WindowStorage::TimestampLiteral(int64_t micros) const {
  // SQLite has no timestamp type: ADBC stores ISO 8601 text, which compares as text.
  if (flavor_ == Flavor::kSqlite) return engine::QuoteLiteral(engine::FormatTimestamp(micros, 'T'));
  return engine::TimestampLiteral(micros);
}

bool WindowStorage::ComparesWithTimestampLiteral(const arrow::DataType& type) {
  if (type.id() != arrow::Type::TIMESTAMP) return false;
  const auto& timestamp = static_cast<const arrow::TimestampType&>(type);
  return timestamp.unit() == arrow::TimeUnit::MICRO && timestamp.timezone().empty();
}

std::string WindowStorage::Internal(const std::string& table) const {
  if (flavor_ == Flavor::kSqlite) return Quote(std::string(kInternalSchema) + "_" + table);
  return Quote(kInternalSchema) + "." + Quote(table);
}

std::vector<std::string> WindowStorage::InternalPath(const std::string& table) const {
  if (flavor_ == Flavor::kSqlite) return {std::string(kInternalSchema) + "_" + table};
  return {kInternalSchema, table};
}

arrow::Status WindowStorage::Execute(const std::string& sql) const {
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  return engine::ExecuteStatement(*connection, sql);
}

arrow::Result<std::optional<int64_t>> WindowStorage::QueryTime(const std::string& sql) const {
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  return QueryTime(*connection, sql);
}

arrow::Result<std::optional<int64_t>> WindowStorage::QueryTime(engine::EngineConnection& connection,
                                                               const std::string& sql) {
  ARROW_ASSIGN_OR_RAISE(auto table, engine::QueryTable(connection, sql));
  if (table->num_rows() != 1 || table->num_columns() < 1) {
    return arrow::Status::Invalid("expected one row from: ", sql);
  }
  ARROW_ASSIGN_OR_RAISE(auto scalar, table->column(0)->GetScalar(0));
  if (!scalar->is_valid) return std::nullopt;
  ARROW_ASSIGN_OR_RAISE(auto micros, scalar->CastTo(arrow::timestamp(arrow::TimeUnit::MICRO)));
  return std::static_pointer_cast<arrow::TimestampScalar>(micros)->value;
}

arrow::Status WindowStorage::Start() const {
  if (flavor_ != Flavor::kSqlite) {
    ARROW_RETURN_NOT_OK(
        Execute(std::string("CREATE SCHEMA IF NOT EXISTS ") + Quote(kInternalSchema)));
  }
  return Execute("CREATE TABLE IF NOT EXISTS " + Internal(kDefinitions) +
                 " (name VARCHAR PRIMARY KEY, table_schema VARCHAR NOT NULL, "
                 "table_name VARCHAR NOT NULL, keys VARCHAR, time_column VARCHAR, "
                 "value_columns VARCHAR, windows VARCHAR, aggregates VARCHAR, lateness VARCHAR, "
                 "time_unit VARCHAR, created_at TIMESTAMP DEFAULT current_timestamp)");
}

arrow::Result<std::vector<StoredDefinition>> WindowStorage::LoadDefinitions() const {
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  ARROW_ASSIGN_OR_RAISE(
      auto stored, engine::QueryTable(*connection,
                                      "SELECT name, table_schema, table_name, keys, time_column, "
                                      "value_columns, windows, aggregates, lateness, time_unit "
                                      "FROM " +
                                          Internal(kDefinitions) + " ORDER BY name"));
  ARROW_ASSIGN_OR_RAISE(auto rows, stored->CombineChunksToBatch());
  std::vector<StoredDefinition> out;
  auto text = [&](int column, int64_t row) -> std::string {
    auto values = rows->column(column);
    if (values->IsNull(row)) return "";
    auto scalar = values->GetScalar(row);
    return scalar.ok() ? (*scalar)->ToString() : "";
  };
  for (int64_t row = 0; row < rows->num_rows(); ++row) {
    StoredDefinition definition;
    definition.name = text(0, row);
    definition.table = TableName::Of(text(1, row), text(2, row));
    definition.arguments = WindowArguments{text(3, row), text(4, row), text(5, row), text(6, row),
                                           text(7, row), text(8, row), text(9, row)};
    out.push_back(std::move(definition));
  }
  return out;
}

arrow::Status WindowStorage::SaveDefinition(const StoredDefinition& d) const {
  const WindowArguments& a = d.arguments;
  auto literal = [](const std::string& text) { return engine::QuoteLiteral(text); };
  return Execute("INSERT INTO " + Internal(kDefinitions) +
                 " (name, table_schema, table_name, keys, time_column, value_columns, windows, "
                 "aggregates, lateness, time_unit) VALUES (" +
                 literal(d.name) + ", " + literal(d.table.schema) + ", " + literal(d.table.table) +
                 ", " + literal(a.keys) + ", " + literal(a.time) + ", " + literal(a.values) + ", " +
                 literal(a.windows) + ", " + literal(a.aggregates) + ", " + literal(a.lateness) +
                 ", " + literal(a.time_unit) + ")");
}

arrow::Status WindowStorage::DeleteDefinition(const std::string& name) const {
  return Execute("DELETE FROM " + Internal(kDefinitions) +
                 " WHERE name = " + engine::QuoteLiteral(name));
}

engine::IngestRequest WindowStorage::HistoryTarget(const std::string& name) const {
  const auto path = InternalPath(name + "_history");
  engine::IngestRequest request;
  request.table = path.back();
  if (path.size() == 2) request.schema = path[0];
  request.if_not_exists = engine::IngestRequest::IfNotExists::kCreate;
  return request;
}

arrow::Status WindowStorage::AppendHistory(const std::string& name,
                                           const arrow::RecordBatch& rows) const {
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  engine::IngestRequest request = HistoryTarget(name);
  request.if_exists = engine::IngestRequest::IfExists::kAppend;
  auto batch = arrow::RecordBatch::Make(rows.schema(), rows.num_rows(), rows.column_data());
  ARROW_ASSIGN_OR_RAISE(auto reader, arrow::RecordBatchReader::Make({batch}, rows.schema()));
  return connection->Ingest(request, reader.get()).status();
}

arrow::Result<std::shared_ptr<arrow::Table>> WindowStorage::ReadHistory(
    const std::string& name, const std::vector<std::string>& specs, const std::string& key_column,
    const std::vector<std::string>& key_values) const {
  std::string sql = "SELECT * FROM " + Internal(name + "_history");
  std::string where;
  if (!specs.empty()) where += "window_spec IN (" + InList(specs) + ")";
  if (!key_values.empty()) {
    where += std::string(where.empty() ? "" : " AND ") + Quote(key_column) + " IN (" +
             InList(key_values) + ")";
  }
  if (!where.empty()) sql += " WHERE " + where;
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  auto history = engine::QueryTable(*connection, sql);
  if (!history.ok()) return nullptr;  // no history table yet: nothing has closed
  return *history;
}

arrow::Status WindowStorage::DropHistory(const std::string& name) const {
  return Execute("DROP TABLE IF EXISTS " + Internal(name + "_history"));
}

arrow::Status WindowStorage::ChangeHistory(const std::string& name, const std::string& change,
                                           engine::IngestRequest::IfExists if_exists,
                                           const std::shared_ptr<arrow::Schema>& schema,
                                           const arrow::RecordBatchVector& rows) const {
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  ARROW_RETURN_NOT_OK(connection->BeginTransaction());
  arrow::Status changed = [&]() -> arrow::Status {
    if (!change.empty()) ARROW_RETURN_NOT_OK(engine::ExecuteStatement(*connection, change));
    if (rows.empty()) return arrow::Status::OK();
    engine::IngestRequest request = HistoryTarget(name);
    request.if_exists = if_exists;
    ARROW_ASSIGN_OR_RAISE(auto reader, arrow::RecordBatchReader::Make(rows, schema));
    return connection->Ingest(request, reader.get()).status();
  }();
  if (!changed.ok()) {
    (void)connection->Rollback();
    return changed;
  }
  return connection->Commit();
}

arrow::Status WindowStorage::ReplaceHistory(const std::string& name,
                                            const std::shared_ptr<arrow::Schema>& schema,
                                            const arrow::RecordBatchVector& rows) const {
  return ChangeHistory(name, "DROP TABLE IF EXISTS " + Internal(name + "_history"),
                       engine::IngestRequest::IfExists::kFail, schema, rows);
}

arrow::Status WindowStorage::TrimHistory(const std::string& name, int64_t before_us,
                                         const arrow::RecordBatchVector& rows) const {
  const std::string history = Internal(name + "_history");
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  // (None yet: no window has closed.)
  const bool exists =
      engine::QueryValue(*connection, "SELECT count(*) FROM " + history + " WHERE false").ok();
  return ChangeHistory(
      name,
      exists ? "DELETE FROM " + history + " WHERE window_start < " + TimestampLiteral(before_us)
             : "",
      engine::IngestRequest::IfExists::kAppend, nullptr, rows);
}

arrow::Result<std::shared_ptr<arrow::Schema>> WindowStorage::TableSchema(
    const TableName& table) const {
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  if (flavor_ == Flavor::kSqlite) {
    // SQLite's driver types a result's columns from its values (every column of an empty
    // result is int64): the declared types say what the columns hold.
    auto declared = engine::QueryTable(*connection, "SELECT name, type FROM pragma_table_info(" +
                                                        engine::QuoteLiteral(table.table) + ")");
    if (!declared.ok() || (*declared)->num_rows() == 0) {
      return arrow::Status::KeyError("table ", table.key(), " does not exist; create it first");
    }
    ARROW_ASSIGN_OR_RAISE(auto columns, (*declared)->CombineChunksToBatch());
    auto names = std::dynamic_pointer_cast<arrow::StringArray>(columns->column(0));
    auto types = std::dynamic_pointer_cast<arrow::StringArray>(columns->column(1));
    if (names == nullptr || types == nullptr) {
      return arrow::Status::IOError("reading the columns of ", table.key(), " from SQLite");
    }
    arrow::FieldVector fields;
    for (int64_t i = 0; i < columns->num_rows(); ++i) {
      fields.push_back(arrow::field(
          names->GetString(i), SqliteDeclaredType(types->IsNull(i) ? "" : types->GetString(i))));
    }
    return arrow::schema(std::move(fields));
  }
  auto statement = connection->Prepare("SELECT * FROM " + Sql(table) + " WHERE 1 = 0");
  if (!statement.ok()) {
    return arrow::Status::KeyError("table ", table.key(), " does not exist; create it first");
  }
  ARROW_ASSIGN_OR_RAISE(auto reader, (*statement)->ExecuteQuery());
  auto schema = reader->schema();
  ARROW_RETURN_NOT_OK(reader->ToRecordBatches().status());
  return schema;
}

bool WindowStorage::TableExists(const TableName& table) const { return TableSchema(table).ok(); }

arrow::Status WindowStorage::CreateTable(const TableName& table,
                                         const arrow::Schema& schema) const {
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  engine::IngestRequest request;
  request.table = table.table;
  if (table.schema != "main") request.schema = table.schema;
  request.if_not_exists = engine::IngestRequest::IfNotExists::kCreate;
  request.if_exists = engine::IngestRequest::IfExists::kAppend;
  ARROW_ASSIGN_OR_RAISE(auto empty, arrow::RecordBatchReader::Make(
                                        {}, std::make_shared<arrow::Schema>(schema.fields())));
  return connection->Ingest(request, empty.get()).status();
}

std::string WindowStorage::OrderedQuery(const TableName& table, const std::string& columns,
                                        const std::string& where,
                                        const std::string& time_column) const {
  std::string sql = "SELECT " + columns + " FROM " + Sql(table);
  if (!where.empty()) sql += " WHERE " + where;
  if (flavor_ == Flavor::kSqlite) {
    // SQLite would order its text times as text, where ISO 8601's 'T' sorts after a space;
    // julianday() is monotonic in the time (ties, within its ~50 us, by the normalised text).
    const std::string time = Quote(time_column);
    sql += " ORDER BY julianday(" + time + "), replace(" + time + ", ' ', 'T')";
  } else {
    sql += " ORDER BY " + Quote(time_column);
  }
  return sql;
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> WindowStorage::ReadOrdered(
    const TableName& table, const std::string& columns, const std::string& where,
    const std::string& time_column) const {
  ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
  ARROW_ASSIGN_OR_RAISE(auto statement,
                        connection->Prepare(OrderedQuery(table, columns, where, time_column)));
  ARROW_ASSIGN_OR_RAISE(auto reader, statement->ExecuteQuery());
  // The reader may stream from the connection: keep it alive with the reader.
  struct Holding : arrow::RecordBatchReader {
    std::shared_ptr<engine::EngineConnection> connection;
    std::unique_ptr<engine::EngineStatement> statement;
    std::shared_ptr<arrow::RecordBatchReader> reader;
    std::shared_ptr<arrow::Schema> schema() const override { return reader->schema(); }
    arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) override {
      return reader->ReadNext(batch);
    }
  };
  auto holding = std::make_shared<Holding>();
  holding->connection = std::move(connection);
  holding->statement = std::move(statement);
  holding->reader = std::move(reader);
  return holding;
}

bool WindowStorage::CanReadPartials(const arrow::DataType& type) const {
  if (flavor_ != Flavor::kDuckDb && flavor_ != Flavor::kPostgres) return false;
  if (type.id() == arrow::Type::TIMESTAMP) {
    return static_cast<const arrow::TimestampType&>(type).unit() != arrow::TimeUnit::NANO;
  }
  return type.id() == arrow::Type::INT64 || type.id() == arrow::Type::INT32;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowStorage::TimeBounds(
    const PartialsRequest& request) const {
  if (request.time_type == nullptr || !CanReadPartials(*request.time_type)) {
    return arrow::Status::NotImplemented("rows by time range cannot be read from this engine");
  }
  // The bounds in the column's own terms: a timestamp of the column's zone (an instant for a
  // zoned column), or integers of the epoch unit.
  std::shared_ptr<arrow::Array> lower, upper;
  if (request.time_type->id() == arrow::Type::TIMESTAMP) {
    const auto& type = static_cast<const arrow::TimestampType&>(*request.time_type);
    auto bound_type =
        arrow::timestamp(arrow::TimeUnit::MICRO, type.timezone().empty() ? "" : "UTC");
    ARROW_ASSIGN_OR_RAISE(
        lower, arrow::MakeArrayFromScalar(arrow::TimestampScalar(request.from_us, bound_type), 1));
    ARROW_ASSIGN_OR_RAISE(
        upper, arrow::MakeArrayFromScalar(arrow::TimestampScalar(request.to_us, bound_type), 1));
  } else {
    const arrow::TimeUnit::type unit = request.integer_unit.value_or(arrow::TimeUnit::MICRO);
    const int64_t scale = unit == arrow::TimeUnit::SECOND  ? 1000000
                          : unit == arrow::TimeUnit::MILLI ? 1000
                                                           : 1;
    // An integer t means t * scale microseconds: t * scale >= from  <=>  t >= ceil(from / scale).
    auto ceil_div = [](int64_t a, int64_t b) { return -FloorDiv(-a, b); };
    ARROW_ASSIGN_OR_RAISE(
        lower, arrow::MakeArrayFromScalar(arrow::Int64Scalar(ceil_div(request.from_us, scale)), 1));
    ARROW_ASSIGN_OR_RAISE(
        upper, arrow::MakeArrayFromScalar(arrow::Int64Scalar(ceil_div(request.to_us, scale)), 1));
  }
  return arrow::RecordBatch::Make(
      arrow::schema({arrow::field("from", lower->type()), arrow::field("to", upper->type())}), 1,
      {lower, upper});
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowStorage::ReadPartials(
    const TableName& table, const PartialsRequest& request) const {
  ARROW_ASSIGN_OR_RAISE(auto bounds, TimeBounds(request));
  std::string keys;
  for (const auto& key : request.keys) keys += (keys.empty() ? "" : ", ") + Quote(key);
  std::string sql = "SELECT " + keys + (keys.empty() ? "" : ", ") + "count(*)";
  for (const auto& value : request.values) {
    const std::string v = Quote(value);
    const std::string x = "CAST(" + v + " AS DOUBLE PRECISION)";
    sql += ", count(" + v + ")";
    if (request.sum) sql += ", sum(" + x + ")";
    if (request.min) sql += ", min(" + x + ")";
    if (request.max) sql += ", max(" + x + ")";
    if (request.moments) sql += ", avg(" + x + "), var_pop(" + x + ") * count(" + v + ")";
  }
  const std::string time = Quote(request.time);
  sql += " FROM " + Sql(table) + " WHERE " + time + " >= $1 AND " + time + " < $2";
  if (!keys.empty()) sql += " GROUP BY " + keys;
  return RunPooled(sql, bounds);
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowStorage::ReadRows(
    const TableName& table, const PartialsRequest& request) const {
  ARROW_ASSIGN_OR_RAISE(auto bounds, TimeBounds(request));
  std::string columns;
  for (const auto& key : request.keys) columns += (columns.empty() ? "" : ", ") + Quote(key);
  columns += (columns.empty() ? "" : ", ") + Quote(request.time);
  for (const auto& value : request.values) columns += ", " + Quote(value);
  const std::string time = Quote(request.time);
  const std::string limit =
      request.row_limit > 0 ? " LIMIT " + std::to_string(request.row_limit) : "";
  return RunPooled("SELECT " + columns + " FROM " + Sql(table) + " WHERE " + time + " >= $1 AND " +
                       time + " < $2" + limit,
                   bounds);
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowStorage::RunPooled(
    const std::string& sql, const std::shared_ptr<arrow::RecordBatch>& parameters) const {
  // A prepared statement for this text from the pool (or a new one), returned after the read;
  // one that fails is dropped and the read made once more on a fresh one.
  for (int attempt = 0;; ++attempt) {
    PreparedRead prepared;
    {
      std::lock_guard<std::mutex> lock(partials_mutex_);
      auto& idle = partials_pool_[sql];
      if (!idle.empty()) {
        prepared = std::move(idle.back());
        idle.pop_back();
      }
    }
    if (prepared.statement == nullptr) {
      ARROW_ASSIGN_OR_RAISE(prepared.connection, engine_->Connect());
      ARROW_ASSIGN_OR_RAISE(prepared.statement, prepared.connection->Prepare(sql));
    }
    auto rows = [&]() -> arrow::Result<std::shared_ptr<arrow::RecordBatch>> {
      ARROW_RETURN_NOT_OK(prepared.statement->Bind(parameters));
      ARROW_ASSIGN_OR_RAISE(auto reader, prepared.statement->ExecuteQuery());
      ARROW_ASSIGN_OR_RAISE(auto table, arrow::Table::FromRecordBatchReader(reader.get()));
      return table->CombineChunksToBatch();
    }();
    if (!rows.ok()) {
      if (attempt == 0) continue;
      return rows.status();
    }
    std::lock_guard<std::mutex> lock(partials_mutex_);
    auto& idle = partials_pool_[sql];
    if (idle.size() < kPooledReads) idle.push_back(std::move(prepared));
    return rows;
  }
}

namespace {

// `column` as `type`. Text (SQLite keeps any value in any column) that does not cast whole is
// cast value by value, and a text that is not a `type` (a time that is not ISO 8601, a number
// that is not one) becomes NULL: to the windows a row without a time, or without that value,
// like the rows SQL writes with NULLs. Failing the batch instead left its rows out of the
// windows, and a table holding one such row could not be read back at startup.
arrow::Result<std::shared_ptr<arrow::Array>> CastColumn(
    const std::shared_ptr<arrow::Array>& column, const std::shared_ptr<arrow::DataType>& type,
    const std::string& name) {
  auto whole = arrow::compute::Cast(*column, type);
  if (whole.ok() || column->type_id() != arrow::Type::STRING) return whole;
  ARROW_ASSIGN_OR_RAISE(auto builder, arrow::MakeBuilder(type));
  ARROW_RETURN_NOT_OK(builder->Reserve(column->length()));
  int64_t unreadable = 0;
  for (int64_t i = 0; i < column->length(); ++i) {
    auto one = arrow::compute::Cast(*column->Slice(i, 1), type);
    if (one.ok()) {
      ARROW_RETURN_NOT_OK(builder->AppendArraySlice(arrow::ArraySpan(*(*one)->data()), 0, 1));
    } else {
      ++unreadable;
      ARROW_RETURN_NOT_OK(builder->AppendNull());
    }
  }
  spdlog::warn("{} value(s) of column {} are not {}: the windows read them as NULL", unreadable,
               name, type->ToString());
  return builder->Finish();
}

}  // namespace

std::shared_ptr<arrow::DataType> SqliteDeclaredType(const std::string& declared) {
  const std::string type = Lower(declared);
  auto has = [&](const char* part) { return type.find(part) != std::string::npos; };
  // SQLite's affinity rules, in their order. Times are text: declared ones, and the untyped
  // columns ADBC creates for Arrow timestamps, whose values it writes as ISO 8601 text.
  if (has("int")) return arrow::int64();
  if (has("char") || has("clob") || has("text") || type.empty()) return arrow::utf8();
  if (has("blob")) return arrow::binary();
  if (has("real") || has("floa") || has("doub")) return arrow::float64();
  if (has("date") || has("time")) return arrow::utf8();
  return arrow::float64();  // NUMERIC affinity
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> ConformTo(const arrow::RecordBatch& batch,
                                                             const arrow::Schema& schema) {
  arrow::FieldVector fields = batch.schema()->fields();
  arrow::ArrayVector columns = batch.columns();
  for (size_t i = 0; i < fields.size(); ++i) {
    for (const auto& wanted : schema.fields()) {
      if (!engine::EqualsIgnoringCase(wanted->name(), fields[i]->name()) ||
          columns[i]->type()->Equals(*wanted->type())) {
        continue;
      }
      ARROW_ASSIGN_OR_RAISE(columns[i], CastColumn(columns[i], wanted->type(), wanted->name()));
      fields[i] = fields[i]->WithType(wanted->type());
    }
  }
  return arrow::RecordBatch::Make(arrow::schema(std::move(fields)), batch.num_rows(),
                                  std::move(columns));
}

}  // namespace hyprstream::window
