#include "window/metrics_table.h"

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/compute/cast.h>
#include <arrow/type.h>
#include <arrow/util/decimal.h>
#include <spdlog/spdlog.h>

#include <string>

#include "engine/arrow_validation.h"

namespace hyprstream::window {
namespace {

constexpr char kCount[] = "value_running_window_count";

// Late rows (and rows without time) get running values of null; their count is 0 so that a
// stored row always has a count (SQL-written rows are recognised by a null count).
arrow::Result<std::shared_ptr<arrow::Array>> ZeroNullCounts(
    const std::shared_ptr<arrow::Array>& counts) {
  if (counts->null_count() == 0) return counts;
  const auto& typed = static_cast<const arrow::Int64Array&>(*counts);
  arrow::Int64Builder out;
  ARROW_RETURN_NOT_OK(out.Reserve(typed.length()));
  for (int64_t i = 0; i < typed.length(); ++i) {
    out.UnsafeAppend(typed.IsNull(i) ? 0 : typed.Value(i));
  }
  return out.Finish();
}

// A decimal column as doubles the way SQL engines cast DECIMAL to DOUBLE: the unscaled integer
// divided by 10^scale (one correctly rounded division; Arrow's cast multiplies by 10^-scale,
// which is off by an ulp for values such as 45.913).
arrow::Result<std::shared_ptr<arrow::Array>> DecimalToDouble(const arrow::Array& column) {
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const auto& type = static_cast<const arrow::DecimalType&>(*column.type());
  if (column.type_id() != arrow::Type::DECIMAL128 || type.scale() < 0 || type.scale() > 22) {
    return arrow::compute::Cast(column, arrow::float64());
  }
  const auto& decimals = static_cast<const arrow::Decimal128Array&>(column);
  arrow::DoubleBuilder out;
  ARROW_RETURN_NOT_OK(out.Reserve(decimals.length()));
  for (int64_t i = 0; i < decimals.length(); ++i) {
    if (decimals.IsNull(i)) {
      out.UnsafeAppendNull();
    } else {
      arrow::Decimal128 value(decimals.GetValue(i));
      out.UnsafeAppend(value.ToDouble(0) / kPow10[type.scale()]);
    }
  }
  return out.Finish();
}

}  // namespace

arrow::Result<std::shared_ptr<arrow::RecordBatch>> MetricsTable::Normalise(
    const arrow::RecordBatch& batch, std::optional<arrow::TimeUnit::type> integer_unit) {
  const auto& kSchema = ClientSchema();
  arrow::ArrayVector columns;
  for (const auto& target : kSchema->fields()) {
    auto column = batch.GetColumnByName(target->name());
    if (column == nullptr) {
      return arrow::Status::Invalid(
          "metrics rows need the columns metric_id, timestamp and "
          "value; '",
          target->name(), "' is missing");
    }
    if (target->name() == "timestamp" && arrow::is_integer(column->type_id())) {
      if (!integer_unit) {
        return arrow::Status::Invalid(
            "metrics.timestamp is an integer (", column->type()->ToString(),
            ") but its unit is unknown: send an Arrow timestamp, or set "
            "metrics_integer_time_unit (s, ms, us or ns) in the configuration");
      }
      ARROW_ASSIGN_OR_RAISE(auto as_int64, arrow::compute::Cast(*column, arrow::int64()));
      ARROW_ASSIGN_OR_RAISE(column, as_int64->View(arrow::timestamp(*integer_unit)));
    }
    if (target->name() == "value" && arrow::is_decimal(column->type_id())) {
      ARROW_ASSIGN_OR_RAISE(column, DecimalToDouble(*column));
    }
    if (!column->type()->Equals(*target->type())) {
      auto cast = arrow::compute::Cast(*column, target->type());
      if (!cast.ok()) {
        return arrow::Status::Invalid("metrics.", target->name(), " must be ",
                                      target->type()->ToString(), "-compatible; got ",
                                      column->type()->ToString(), ": ", cast.status().message());
      }
      column = *cast;
    }
    columns.push_back(std::move(column));
  }
  return arrow::RecordBatch::Make(kSchema, batch.num_rows(), std::move(columns));
}

const std::shared_ptr<arrow::Schema>& MetricsTable::ClientSchema() {
  static const auto kSchema =
      arrow::schema({arrow::field("metric_id", arrow::utf8()),
                     arrow::field("timestamp", arrow::timestamp(arrow::TimeUnit::MICRO)),
                     arrow::field("value", arrow::float64())});
  return kSchema;
}

arrow::Result<std::unique_ptr<MetricsTable>> MetricsTable::Open(const WindowStorage& storage,
                                                                MetricsTableOptions options) {
  std::unique_ptr<MetricsTable> table(new MetricsTable(storage, options));
  ARROW_ASSIGN_OR_RAISE(table->running_, table->MakeRunningStore());
  ARROW_ASSIGN_OR_RAISE(auto stored, table->StoredSchema(*ClientSchema()));
  const TableName name{"main", "metrics"};
  auto existing = storage.TableSchema(name);
  if (!existing.ok()) {
    ARROW_RETURN_NOT_OK(storage.CreateTable(name, *stored));
  } else {
    // The columns hyprstream writes must be there, of a type it can write and read back.
    for (const auto& field : stored->fields()) {
      auto found = (*existing)->GetFieldByName(field->name());
      const bool fits =
          found != nullptr &&
          (found->type()->Equals(*field->type()) || found->type()->id() == arrow::Type::STRING ||
           (arrow::is_floating(field->type()->id()) && arrow::is_floating(found->type()->id())) ||
           (arrow::is_integer(field->type()->id()) && arrow::is_integer(found->type()->id())) ||
           (field->type()->id() == arrow::Type::TIMESTAMP &&
            found->type()->id() == arrow::Type::TIMESTAMP));
      if (!fits) {
        return arrow::Status::Invalid(
            "table metrics exists but is not hyprstream's metrics table: column ", field->name(),
            found == nullptr ? " is missing" : " is " + found->type()->ToString(),
            " (hyprstream's has ", stored->ToString(),
            "); rename or drop that table, or start with --metrics-table=false");
      }
    }
  }
  ARROW_RETURN_NOT_OK(table->ReplayRecent(*table->running_));
  return table;
}

arrow::Result<std::unique_ptr<WindowStore>> MetricsTable::MakeRunningStore() const {
  WindowSpec running;
  running.key_columns = {"metric_id"};
  running.time_column = "timestamp";
  running.value_columns = {"value"};
  running.aggregates = {AggregateKind::kSum, AggregateKind::kAvg, AggregateKind::kCount};
  running.windows = {WindowDef::Trailing(options_.running_width_us)};
  running.allowed_lateness_us = options_.allowed_lateness_us;
  return WindowStore::Make(running, ClientSchema());
}

arrow::Status MetricsTable::ReplayRecent(WindowStore& store) const {
  // Rows without running columns were not written through hyprstream (or by a version that
  // completed SQL-written rows afterwards and stopped before it did): they are left out.
  const TableName metrics{"main", "metrics"};
  ARROW_ASSIGN_OR_RAISE(
      auto newest, storage_.QueryTime("SELECT max(\"timestamp\") FROM " + storage_.Sql(metrics) +
                                      " WHERE " + kCount + " IS NOT NULL"));
  if (!newest) return arrow::Status::OK();  // no row yet
  // The running state had the watermark newest - lateness: a later row is on time only at or
  // after it, so its window (t - width, t] holds no row at or before newest - width -
  // lateness. Of the rows after that, those with a count of 0 joined no window (late, or
  // with no value in theirs): a late row must stay out of later rows' windows as it did
  // before the start.
  const int64_t keep_us = options_.running_width_us + options_.allowed_lateness_us;
  ARROW_ASSIGN_OR_RAISE(auto reader,
                        storage_.ReadOrdered(metrics, "metric_id, \"timestamp\", value",
                                             std::string(kCount) + " > 0 AND \"timestamp\" >= " +
                                                 storage_.TimestampLiteral(*newest - keep_us),
                                             "timestamp"));
  while (true) {
    std::shared_ptr<arrow::RecordBatch> batch;
    ARROW_RETURN_NOT_OK(reader->ReadNext(&batch));
    if (!batch) break;
    ARROW_ASSIGN_OR_RAISE(auto normalised, Normalise(*batch, std::nullopt));
    ARROW_RETURN_NOT_OK(store.Update(*normalised).status());
  }
  return store.AdvanceWatermark(*newest - options_.allowed_lateness_us);
}

void MetricsTable::Abandoned() {
  auto rebuild = [&]() -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(auto store, MakeRunningStore());
    std::lock_guard<std::mutex> lock(mutex_);
    ARROW_RETURN_NOT_OK(ReplayRecent(*store));
    running_ = std::move(store);
    return arrow::Status::OK();
  };
  arrow::Status status = rebuild();
  if (!status.ok()) {
    spdlog::error("metrics running state kept rows that were not stored (rebuild failed: {})",
                  status.ToString());
  } else {
    spdlog::debug("metrics running state rebuilt from committed rows after a rollback");
  }
}

arrow::Result<std::shared_ptr<arrow::Schema>> MetricsTable::StoredSchema(
    const arrow::Schema& incoming) const {
  for (const auto& field : ClientSchema()->fields()) {
    if (incoming.GetFieldByName(field->name()) == nullptr) {
      return arrow::Status::Invalid(
          "metrics rows need the columns metric_id, timestamp and value; '", field->name(),
          "' is missing");
    }
  }
  arrow::FieldVector fields = ClientSchema()->fields();
  for (const auto& f : running_->TrailingSchema()->fields()) fields.push_back(f);
  return arrow::schema(std::move(fields));
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> MetricsTable::Prepare(
    const arrow::RecordBatch& batch) {
  // Client data: sound buffers before the running state reads it (the engine checks it again).
  ARROW_RETURN_NOT_OK(engine::ValidateArrowBatch(batch));
  ARROW_ASSIGN_OR_RAISE(auto rows, Normalise(batch, options_.integer_time_unit));
  std::lock_guard<std::mutex> lock(mutex_);
  ARROW_ASSIGN_OR_RAISE(auto result, running_->Update(*rows));
  ARROW_ASSIGN_OR_RAISE(auto with_running, WindowStore::WithTrailingColumns(rows, result));
  int count_index = with_running->schema()->GetFieldIndex(kCount);
  if (count_index >= 0) {
    ARROW_ASSIGN_OR_RAISE(auto counts, ZeroNullCounts(with_running->column(count_index)));
    ARROW_ASSIGN_OR_RAISE(
        with_running,
        with_running->SetColumn(count_index, with_running->schema()->field(count_index), counts));
  }
  return with_running;
}

}  // namespace hyprstream::window
