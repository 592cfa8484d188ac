#include "engine/duckdb_statement.h"

#include "engine/arrow_to_duckdb_value.h"
#include "engine/arrow_validation.h"
#include "engine/duckdb_arrow_schema.h"
#include "engine/duckdb_status.h"
#include "sql/clock_bounds.h"

#include <cstring>
#include "sql/select_item_origins.h"
#include "sql/sql_script.h"

#include <arrow/array.h>
#include <arrow/type.h>
#include <arrow/util/byte_size.h>

#include <algorithm>

#include <optional>
#include <string_view>

namespace hyprstream::engine {

namespace {

StatementKind KindOf(duckdb_statement_type type) {
  switch (type) {
    case DUCKDB_STATEMENT_TYPE_SELECT:
      return StatementKind::kQuery;
    case DUCKDB_STATEMENT_TYPE_INSERT:
    case DUCKDB_STATEMENT_TYPE_UPDATE:
    case DUCKDB_STATEMENT_TYPE_DELETE:
    case DUCKDB_STATEMENT_TYPE_CREATE:
    case DUCKDB_STATEMENT_TYPE_DROP:
    case DUCKDB_STATEMENT_TYPE_ALTER:
    case DUCKDB_STATEMENT_TYPE_COPY:
    case DUCKDB_STATEMENT_TYPE_CREATE_FUNC:
    case DUCKDB_STATEMENT_TYPE_ANALYZE:
    case DUCKDB_STATEMENT_TYPE_VACUUM:
    case DUCKDB_STATEMENT_TYPE_ATTACH:
    case DUCKDB_STATEMENT_TYPE_DETACH:
    case DUCKDB_STATEMENT_TYPE_EXPORT:
    case DUCKDB_STATEMENT_TYPE_LOAD:
      return StatementKind::kUpdate;
    default:
      return StatementKind::kOther;
  }
}

// Types DuckDB has not resolved at prepare time (they depend on parameters).
bool IsUnresolved(duckdb_logical_type type) {
  duckdb_type id = duckdb_get_type_id(type);
  return id == DUCKDB_TYPE_INVALID || id == DUCKDB_TYPE_ANY;
}

// DuckDB reports some changes (CREATE TABLE AS, COPY) only as a one-row "Count" column.
std::optional<int64_t> CountColumn(duckdb_result* result) {
  if (duckdb_column_count(result) != 1 || duckdb_column_type(result, 0) != DUCKDB_TYPE_BIGINT) {
    return std::nullopt;
  }
  const char* name = duckdb_column_name(result, 0);
  if (name == nullptr || std::string_view(name) != "Count") return std::nullopt;
  DataChunkHandle chunk(duckdb_fetch_chunk(*result));
  if (chunk == nullptr || duckdb_data_chunk_get_size(chunk.get()) != 1) return std::nullopt;
  duckdb_vector vector = duckdb_data_chunk_get_vector(chunk.get(), 0);
  uint64_t* validity = duckdb_vector_get_validity(vector);
  if (validity != nullptr && !duckdb_validity_row_is_valid(validity, 0)) return std::nullopt;
  return static_cast<const int64_t*>(duckdb_vector_get_data(vector))[0];
}

// Whether the session's TimeZone has no offset and no daylight saving, so TIMESTAMP and
// TIMESTAMPTZ name the same instants (false when it cannot be read: an aborted transaction).
bool TimeZoneIsUtcLocked(DuckDbSession& session) {
  ResultHandle result;
  if (duckdb_query(session.connection(), "SELECT current_setting('TimeZone')", result.out()) !=
      DuckDBSuccess) {
    return false;
  }
  char* value = duckdb_value_varchar(result.get(), 0, 0);
  std::string zone = value != nullptr ? value : "";
  duckdb_free(value);
  static const char* const kUtc[] = {
      "UTC",           "Etc/UTC", "GMT",      "Etc/GMT", "UCT",      "Etc/UCT",   "Universal",
      "Etc/Universal", "Zulu",    "Etc/Zulu", "GMT0",    "Etc/GMT0", "Greenwich", "Etc/Greenwich"};
  return std::any_of(std::begin(kUtc), std::end(kUtc),
                     [&](const char* name) { return zone == name; });
}

// Whether `rewrite` (sql/clock_bounds.h) gives exactly the query's rows here: every column it
// compares with the clock is a TIMESTAMP and the session is in UTC.
bool ClockCastIsExactLocked(DuckDbSession& session, const sql::ClockBoundRewrite& rewrite) {
  if (!TimeZoneIsUtcLocked(session)) return false;
  duckdb_prepared_statement raw = nullptr;
  duckdb_state state = duckdb_prepare(session.connection(), rewrite.probe_sql.c_str(), &raw);
  SharedPrepared probe(raw, [](duckdb_prepared_statement p) { duckdb_destroy_prepare(&p); });
  if (state != DuckDBSuccess) return false;
  const idx_t columns = duckdb_prepared_statement_column_count(raw);
  for (idx_t i = 0; i < columns; ++i) {
    if (duckdb_prepared_statement_column_type(raw, i) != DUCKDB_TYPE_TIMESTAMP) return false;
  }
  return columns > 0;
}

arrow::Result<SharedPrepared> PrepareSqlLocked(DuckDbSession& session, const std::string& sql) {
  duckdb_prepared_statement raw = nullptr;
  duckdb_state state = duckdb_prepare(session.connection(), sql.c_str(), &raw);
  SharedPrepared prepared(raw, [](duckdb_prepared_statement p) { duckdb_destroy_prepare(&p); });
  if (state != DuckDBSuccess) {
    const char* error = raw != nullptr ? duckdb_prepare_error(raw) : nullptr;
    return StatusFromDuckDbMessage(error != nullptr ? error : "prepare failed", "");
  }
  return prepared;
}

// Whether two prepared statements' results have the same column names.
bool SameColumnNames(duckdb_prepared_statement a, duckdb_prepared_statement b) {
  const idx_t columns = duckdb_prepared_statement_column_count(a);
  if (columns != duckdb_prepared_statement_column_count(b)) return false;
  for (idx_t i = 0; i < columns; ++i) {
    char* x = const_cast<char*>(duckdb_prepared_statement_column_name(a, i));
    char* y = const_cast<char*>(duckdb_prepared_statement_column_name(b, i));
    const bool same = x != nullptr && y != nullptr && std::strcmp(x, y) == 0;
    duckdb_free(x);
    duckdb_free(y);
    if (!same) return false;
  }
  return true;
}

}  // namespace

DuckDbStatement::DuckDbStatement(std::shared_ptr<DuckDbSession> session, SharedPrepared prepared,
                                 std::string sql)
    : session_(std::move(session)), prepared_(std::move(prepared)), sql_(std::move(sql)) {}

DuckDbStatement::~DuckDbStatement() {
  std::lock_guard<std::recursive_mutex> lock(session_->mutex());
  prepared_.reset();
  probe_.reset();
}


arrow::Result<std::unique_ptr<DuckDbStatement>> DuckDbStatement::PrepareLocked(
    std::shared_ptr<DuckDbSession> session, const std::string& sql) {
  SharedPrepared prepared;
  bool clock_cast = false;
  if (auto rewrite = sql::ClockBoundRewriteOf(sql);
      rewrite != nullptr && ClockCastIsExactLocked(*session, *rewrite)) {
    auto cast = PrepareSqlLocked(*session, rewrite->sql);
    if (cast.ok() && rewrite->names_may_differ) {
      // The query as written names the result; the printed one must name it the same.
      auto as_written = PrepareSqlLocked(*session, sql);
      if (!as_written.ok() || !SameColumnNames(as_written->get(), cast->get())) {
        cast = arrow::Status::Invalid("the cast query names its columns differently");
      }
    }
    if (cast.ok()) {
      prepared = std::move(*cast);
      clock_cast = true;
    }
  }
  if (!clock_cast) {
    ARROW_ASSIGN_OR_RAISE(prepared, PrepareSqlLocked(*session, sql));
  }
  std::unique_ptr<DuckDbStatement> statement(
      new DuckDbStatement(std::move(session), std::move(prepared), sql));
  statement->clock_cast_ = clock_cast;
  ARROW_RETURN_NOT_OK(statement->DescribeLocked());
  if (statement->kind_ == StatementKind::kQuery && statement->dataset_schema_ != nullptr &&
      statement->parameter_schema_->num_fields() == 0) {
    if (auto call = ParseDirectTableCall(sql)) {
      auto spec = statement->session_->database().FindDirectFunction(call->function);
      if (spec != nullptr && DirectCallFits(*call, *spec)) {
        statement->direct_function_ = std::move(spec);
        statement->direct_args_ = std::move(call->args);
        statement->direct_columns_ = std::move(call->columns);
      }
    }
  }
  return statement;
}

arrow::Status DuckDbStatement::KeepExactLocked() {
  if (!clock_cast_ || TimeZoneIsUtcLocked(*session_)) return arrow::Status::OK();
  // The session left UTC since the statement was prepared: run the query as written.
  ARROW_ASSIGN_OR_RAISE(prepared_, PrepareSqlLocked(*session_, sql_));
  clock_cast_ = false;
  return arrow::Status::OK();
}

void DuckDbStatement::NoteExecutedLocked(bool succeeded) {
  switch (statement_type_) {
    case DUCKDB_STATEMENT_TYPE_TRANSACTION:
      session_->NoteTransactionStatement(sql_, succeeded);
      break;
    case DUCKDB_STATEMENT_TYPE_SET:  // USE, SET schema / search_path
    case DUCKDB_STATEMENT_TYPE_ATTACH:
    case DUCKDB_STATEMENT_TYPE_DETACH:
      session_->ForgetNamespaceLocked();
      break;
    default:
      break;
  }
}

std::vector<ColumnOrigin> DuckDbStatement::ColumnOriginsLocked(size_t columns) {
  const auto script = sql::Analyze(sql_);  // owns the statement read below
  const sql::StatementInfo* statement = script->Single();
  if (statement == nullptr) return {};
  auto tables = sql::ResultColumnTables(sql::SelectItemOrigins(*statement), columns);
  std::vector<ColumnOrigin> origins(tables.size());
  bool any = false;
  for (size_t i = 0; i < tables.size(); ++i) {
    if (!tables[i]) continue;
    // Consecutive columns usually name the same table: resolve it once.
    if (i > 0 && tables[i - 1] == tables[i]) {
      origins[i] = origins[i - 1];
    } else if (auto origin = session_->ResolveTableLocked(*tables[i])) {
      origins[i] = *origin;
    }
    any |= !origins[i].table.empty();
  }
  return any ? origins : std::vector<ColumnOrigin>{};
}

arrow::Status DuckDbStatement::DescribeLocked() {
  duckdb_prepared_statement p = prepared_.get();
  statement_type_ = duckdb_prepared_statement_type(p);
  kind_ = KindOf(statement_type_);
  ArrowOptionsHandle options = ArrowOptionsOf(session_->connection());

  // Result schema.
  idx_t columns = duckdb_prepared_statement_column_count(p);
  std::vector<LogicalTypeHandle> owned;
  std::vector<duckdb_logical_type> types;
  std::vector<std::string> names;
  bool resolved = true;
  for (idx_t i = 0; i < columns; ++i) {
    owned.emplace_back(duckdb_prepared_statement_column_logical_type(p, i));
    if (owned.back() == nullptr || IsUnresolved(owned.back().get())) {
      resolved = false;
      break;
    }
    types.push_back(owned.back().get());
    const char* name = duckdb_prepared_statement_column_name(p, i);  // ours to free
    names.emplace_back(name != nullptr ? name : "");
    if (name != nullptr) duckdb_free(const_cast<char*>(name));
  }
  if (resolved) {
    if (kind_ == StatementKind::kQuery) origins_ = ColumnOriginsLocked(types.size());
    auto schema = ArrowSchemaFromDuckDb(options.get(), types, names, origins_);
    // A type DuckDB cannot express in Arrow is only an unknown schema here; execution tells.
    if (schema.ok()) dataset_schema_ = *schema;
  }

  // Parameter schema: unknown types are arrow::null().
  idx_t params = duckdb_nparams(p);
  arrow::FieldVector fields;
  for (idx_t i = 0; i < params; ++i) {
    std::string name = "parameter_" + std::to_string(i + 1);
    std::shared_ptr<arrow::DataType> type = arrow::null();
    LogicalTypeHandle logical(duckdb_param_logical_type(p, i + 1));
    if (logical != nullptr && !IsUnresolved(logical.get()) &&
        duckdb_get_type_id(logical.get()) != DUCKDB_TYPE_SQLNULL) {
      duckdb_logical_type raw = logical.get();
      auto schema = ArrowSchemaFromDuckDb(options.get(), {raw}, {name});
      if (schema.ok() && (*schema)->num_fields() == 1) type = (*schema)->field(0)->type();
    }
    fields.push_back(arrow::field(std::move(name), std::move(type)));
  }
  parameter_schema_ = arrow::schema(std::move(fields));
  return arrow::Status::OK();
}

arrow::Status DuckDbStatement::Bind(std::shared_ptr<arrow::RecordBatch> parameters) {
  if (parameters == nullptr || parameters->num_rows() == 0) {
    parameters_.reset();
    return arrow::Status::OK();
  }
  int expected = parameter_schema_->num_fields();
  if (parameters->num_columns() != expected) {
    return arrow::Status::Invalid("the statement takes ", expected, " parameter(s) but ",
                                  parameters->num_columns(), " column(s) were bound");
  }
  // Parameter values come from the client and become DuckDB values: sound buffers and UTF-8.
  auto valid = ValidateArrowBatch(*parameters);
  if (!valid.ok()) return arrow::Status::Invalid("parameters: ", valid.message());
  parameters_ = std::move(parameters);
  return arrow::Status::OK();
}

std::shared_ptr<arrow::RecordBatchReader> DuckDbStatement::ExecuteDirect() {
  if (direct_function_ == nullptr || parameters_ != nullptr) return nullptr;
  if (session_->in_transaction()) {
    // An aborted transaction refuses every statement: let DuckDB say whether it would run,
    // with a prepared SELECT 1 (a fraction of the cost of running SQL text).
    std::lock_guard<std::recursive_mutex> lock(session_->mutex());
    session_->QuiesceLocked();
    if (probe_ == nullptr) {
      duckdb_prepared_statement raw = nullptr;
      duckdb_state state = duckdb_prepare(session_->connection(), "SELECT 1", &raw);
      probe_ = SharedPrepared(raw, [](duckdb_prepared_statement p) { duckdb_destroy_prepare(&p); });
      if (state != DuckDBSuccess) {
        probe_.reset();
        return nullptr;
      }
    }
    ResultHandle result;
    if (duckdb_execute_prepared(probe_.get(), result.out()) != DuckDBSuccess) return nullptr;
  }
  auto rows = direct_function_->rows(direct_args_);
  // A failure is left to DuckDB, which reports it as it would have anyway.
  if (!rows.ok()) return nullptr;
  arrow::ArrayVector columns = (*rows)->columns();
  if (!direct_columns_.empty()) {
    const std::vector<std::string> names = (*rows)->schema()->field_names();
    columns.clear();
    for (const auto& name : direct_columns_) {
      auto found = FindColumn(names, name);
      if (!found) return nullptr;
      columns.push_back((*rows)->column(*found));
    }
  }
  if (static_cast<int>(columns.size()) != dataset_schema_->num_fields()) return nullptr;
  for (int i = 0; i < dataset_schema_->num_fields(); ++i) {
    if (!columns[i]->type()->Equals(*dataset_schema_->field(i)->type())) return nullptr;
  }
  auto batch = arrow::RecordBatch::Make(dataset_schema_, (*rows)->num_rows(), std::move(columns));
  // Batches of at most result_batch_rows rows and about kDirectBatchBytes: the rows are in
  // memory already, so small batches cost nothing to make and let the client decode one while
  // the next is on the wire (a 100k-row window read over ADBC: 10-20% faster than 4 MiB ones).
  constexpr int64_t kDirectBatchBytes = 1 << 20;
  const int64_t total = batch->num_rows();
  int64_t per_batch = session_->database().result_batch_rows();
  const int64_t bytes = arrow::util::TotalBufferSize(*batch);
  if (bytes > kDirectBatchBytes && total > 0) {
    per_batch =
        std::min<int64_t>(per_batch, std::max<int64_t>(1, total * kDirectBatchBytes / bytes));
  }
  arrow::RecordBatchVector batches;
  for (int64_t offset = 0; offset < total; offset += per_batch) {
    batches.push_back(batch->Slice(offset, per_batch));
  }
  auto reader = arrow::RecordBatchReader::Make(std::move(batches), dataset_schema_);
  return reader.ok() ? *reader : nullptr;
}

arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> DuckDbStatement::ExecuteQuery() {
  if (auto direct = ExecuteDirect()) return direct;
  std::lock_guard<std::recursive_mutex> lock(session_->mutex());
  session_->QuiesceLocked();
  ARROW_RETURN_NOT_OK(KeepExactLocked());
  auto reader = DuckDbResultReader::StartLocked(session_, prepared_, parameters_, origins_);
  NoteExecutedLocked(reader.ok());
  ARROW_RETURN_NOT_OK(reader.status());
  session_->SetOpenReaderLocked(*reader);
  return std::shared_ptr<arrow::RecordBatchReader>(std::move(*reader));
}

arrow::Result<int64_t> DuckDbStatement::ExecuteUpdate() {
  std::lock_guard<std::recursive_mutex> lock(session_->mutex());
  session_->QuiesceLocked();
  ARROW_RETURN_NOT_OK(KeepExactLocked());
  int64_t executions = parameters_ != nullptr ? parameters_->num_rows() : 1;
  int64_t changed = 0;
  bool known = false;
  // Several parameter rows outside a transaction run as one: all rows or none.
  const bool own_transaction = executions > 1 && !session_->in_transaction() &&
                               statement_type_ != DUCKDB_STATEMENT_TYPE_TRANSACTION;
  if (own_transaction) {
    ARROW_RETURN_NOT_OK(session_->ExecuteLocked("BEGIN TRANSACTION", "executing parameter rows"));
  }
  arrow::Status status;
  for (int64_t row = 0; row < executions && status.ok(); ++row) {
    if (parameters_ != nullptr) {
      status = BindParameterRow(prepared_.get(), *parameters_, row);
      if (!status.ok()) break;
    } else {
      duckdb_clear_bindings(prepared_.get());  // nothing bound means no values
    }
    ResultHandle result;
    if (duckdb_execute_prepared(prepared_.get(), result.out()) != DuckDBSuccess) {
      status = StatusFromResult(result.get(), "");
      if (status.ok()) status = arrow::Status::IOError("DuckDB execution failed");
      break;
    }
    if (duckdb_result_return_type(*result.get()) == DUCKDB_RESULT_TYPE_CHANGED_ROWS) {
      changed += static_cast<int64_t>(duckdb_rows_changed(result.get()));
      known = true;
    } else if (kind_ == StatementKind::kUpdate) {
      if (auto count = CountColumn(result.get())) {
        changed += *count;
        known = true;
      }
    }
  }
  if (own_transaction) {
    if (status.ok()) {
      status = session_->ExecuteLocked("COMMIT", "committing parameter rows");
    } else {
      arrow::Status rolled_back = session_->ExecuteLocked("ROLLBACK", "");
      (void)rolled_back;  // the execution's error is the one to report
    }
  }
  NoteExecutedLocked(status.ok());
  ARROW_RETURN_NOT_OK(status);
  if (known) return changed;
  // DDL changes no rows: 0, as JDBC's executeUpdate expects; -1 only when truly unknown.
  return kind_ == StatementKind::kUpdate ? 0 : -1;
}

}  // namespace hyprstream::engine
