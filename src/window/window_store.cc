#include "window/window_store.h"

#include "window/event_time.h"

#include <arrow/buffer.h>
#include <arrow/compute/cast.h>
#include <arrow/type.h>
#include <arrow/util/bit_util.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <numeric>
#include <unordered_set>

namespace hyprstream::window {
namespace {

// The last instance end at or before `watermark` for a window of width/slide (every
// instance ending there or earlier is closed); kNoTime while there is no watermark.
int64_t LastClosedEnd(int64_t watermark, int64_t width, int64_t slide) {
  if (watermark == kNoTime) return kNoTime;
  return FloorDiv(watermark - width, slide) * slide + width;
}

arrow::Result<int> FindColumn(const arrow::Schema& schema, const std::string& name,
                              const char* role, const char* where = "batch") {
  std::vector<int> found = schema.GetAllFieldIndices(name);
  if (found.size() == 1) return found[0];
  std::string columns;
  for (const auto& field : schema.fields()) {
    columns += (columns.empty() ? "" : ", ") + field->name();
  }
  if (found.empty()) {
    return arrow::Status::Invalid("no ", role, " column '", name, "' in the ", where,
                                  " (columns: ", columns, "); send it or change the window spec");
  }
  return arrow::Status::Invalid(role, " column '", name, "' appears ", found.size(),
                                " times in the ", where, "; column names must be unique");
}

arrow::Status CheckValueType(const arrow::DataType& type, const std::string& name) {
  if (arrow::is_integer(type.id()) || arrow::is_floating(type.id()) ||
      arrow::is_decimal(type.id())) {
    return arrow::Status::OK();
  }
  return arrow::Status::Invalid("value column '", name, "' is ", type.ToString(),
                                "; value columns must be numeric (integer, floating point or "
                                "decimal) — cast it or leave it out of value_columns");
}

}  // namespace

arrow::Status WindowStore::LeftTheBuffer(int64_t horizon, const WindowDef& def, int64_t since) {
  return arrow::Status::Invalid("rows at or before ", FormatEventTime(horizon), " have left the ",
                                def.ToString(), " buffer, so an answer since ",
                                FormatEventTime(since),
                                " would miss rows; ask for a later bound or widen the trailing "
                                "window");
}

namespace {

arrow::Result<std::shared_ptr<arrow::Array>> ConstantTimestamps(int64_t value, int64_t n) {
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> buffer, arrow::AllocateBuffer(n * 8));
  std::fill_n(reinterpret_cast<int64_t*>(buffer->mutable_data()), n, value);
  return arrow::MakeArray(arrow::ArrayData::Make(arrow::timestamp(arrow::TimeUnit::MICRO), n,
                                                 {nullptr, std::move(buffer)}, 0));
}

arrow::Result<std::shared_ptr<arrow::Array>> ConstantBools(bool value, int64_t n) {
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> buffer, arrow::AllocateBitmap(n));
  arrow::bit_util::SetBitsTo(buffer->mutable_data(), 0, n, value);
  return arrow::MakeArray(
      arrow::ArrayData::Make(arrow::boolean(), n, {nullptr, std::move(buffer)}, 0));
}

}  // namespace

struct WindowStore::PanedWindow {
  bool active = false;  // false for trailing windows
  size_t level = 0;
  int64_t width = 0;
  int64_t slide = 0;
  // LastClosedEnd(watermark_): every instance ending here or before is closed.
  int64_t closed_end = kNoTime;
};

// Panes of one width. A level whose width is a multiple of a finer level's is "fed" by it:
// rows fold only into the finest (root) level, and each pane is merged into the panes of the
// level it feeds once the watermark passes its end ("sealing", finest first, so 5m panes
// reach 30m, 30m panes reach 1h, ...); a row arriving for an already sealed pane is folded
// into the fed level directly. So an in-order row costs one slot update however many nested
// windows (5m, 30m, 1h, 1d) the stream has, and the panes of a level hold disjoint time
// ranges from those still waiting in finer levels.
struct WindowStore::Level {
  Level(int64_t width, const AggregateLayout* layout) : ring(width, layout) {}
  PaneRing ring;
  std::vector<size_t> windows;        // spec indices of the windows built from these panes
  int feeder = -1;                    // index of the finer level feeding this one, or -1 (a root)
  std::vector<size_t> fed;            // the levels this one feeds
  int64_t sealed_before = INT64_MIN;  // panes ending at or before this are merged into `fed`
};

struct WindowStore::RetainedWindow {
  size_t window;
  int64_t start;
  int64_t end;
  std::vector<int32_t> ids;      // ascending
  std::vector<StateWord> slots;  // ids.size() x stride
};

struct WindowStore::InstanceRows {
  std::vector<int32_t> ids;
  std::vector<const StateWord*> slots;
  std::vector<StateWord> merged;  // storage when the instance spans several panes
};

namespace {
std::atomic<uint64_t> store_serials{0};
}  // namespace

WindowStore::WindowStore(WindowSpec spec, WindowStoreOptions options)
    : spec_(std::move(spec)),
      options_(std::move(options)),
      serial_(++store_serials),
      max_time_(kNoTime),
      watermark_(kNoTime),
      last_retire_watermark_(kNoTime) {}

WindowStore::~WindowStore() = default;

arrow::Result<std::unique_ptr<WindowStore>> WindowStore::Make(
    WindowSpec spec, const std::shared_ptr<arrow::Schema>& input_schema,
    WindowStoreOptions options) {
  ARROW_RETURN_NOT_OK(spec.Validate());
  if (input_schema == nullptr) return arrow::Status::Invalid("window store: no input schema");
  if (options.max_panes_per_window < 1) {
    return arrow::Status::Invalid("window store: max_panes_per_window must be at least 1");
  }
  std::unique_ptr<WindowStore> store(new WindowStore(std::move(spec), std::move(options)));
  ARROW_RETURN_NOT_OK(store->Init(input_schema));
  return store;
}

arrow::Status WindowStore::Init(const std::shared_ptr<arrow::Schema>& input_schema) {
  const arrow::Schema& schema = *input_schema;
  ARROW_ASSIGN_OR_RAISE(int time_index, FindColumn(schema, spec_.time_column, "time", "schema"));
  ARROW_RETURN_NOT_OK(CheckEventTimeType(*schema.field(time_index)->type(), spec_.integer_time_unit,
                                         spec_.time_column));
  std::vector<std::shared_ptr<arrow::Field>> key_fields;
  for (const auto& name : spec_.key_columns) {
    ARROW_ASSIGN_OR_RAISE(int index, FindColumn(schema, name, "key", "schema"));
    key_fields.push_back(schema.field(index));
  }
  for (const auto& name : spec_.value_columns) {
    ARROW_ASSIGN_OR_RAISE(int index, FindColumn(schema, name, "value", "schema"));
    ARROW_RETURN_NOT_OK(CheckValueType(*schema.field(index)->type(), name));
  }
  ARROW_ASSIGN_OR_RAISE(keys_, KeyDictionary::Make(std::move(key_fields)));
  layout_ = std::make_unique<AggregateLayout>(spec_);

  arrow::FieldVector fields = keys_->output_fields();
  fields.push_back(arrow::field("window_start", arrow::timestamp(arrow::TimeUnit::MICRO), false));
  fields.push_back(arrow::field("window_end", arrow::timestamp(arrow::TimeUnit::MICRO), false));
  aggregate_columns_ = spec_.AggregateColumns();
  for (const auto& column : aggregate_columns_) {
    fields.push_back(arrow::field(column.name, AggregateLayout::OutputType(column.kind)));
  }
  fields.push_back(arrow::field("closed", arrow::boolean(), false));
  output_schema_ = arrow::schema(std::move(fields));

  // Pane widths: each window's widest tiling pane (gcd of width and slide), or with
  // max_panes_per_window > 1 an existing finer width that tiles it in few enough panes.
  const size_t window_count = spec_.windows.size();
  paned_.resize(window_count);
  std::vector<size_t> order;
  for (size_t w = 0; w < window_count; ++w) {
    if (spec_.windows[w].is_paned()) order.push_back(w);
  }
  auto pane_of = [&](size_t w) {
    return std::gcd(spec_.windows[w].width_us, spec_.windows[w].slide_us);
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return pane_of(a) < pane_of(b); });
  for (size_t w : order) {
    const WindowDef& def = spec_.windows[w];
    const int64_t pane = pane_of(w);
    int chosen = -1;
    for (size_t l = 0; l < levels_.size(); ++l) {
      const int64_t width = levels_[l]->ring.width();
      if (width == pane) {
        chosen = static_cast<int>(l);
        break;
      }
      if (pane % width == 0 && def.width_us / width <= options_.max_panes_per_window) {
        chosen = static_cast<int>(l);  // widest qualifying (levels are ascending)
      }
    }
    if (chosen < 0) {
      levels_.push_back(std::make_unique<Level>(pane, layout_.get()));
      chosen = static_cast<int>(levels_.size() - 1);
    }
    levels_[chosen]->windows.push_back(w);
    paned_[w] = PanedWindow{true, static_cast<size_t>(chosen), def.width_us, def.slide_us, kNoTime};
  }

  // Each level is fed by the coarsest finer level dividing its width (levels are in
  // ascending width), so nested widths form chains: 5m -> 30m -> 1h -> 1d.
  for (size_t l = 0; l < levels_.size(); ++l) {
    for (size_t f = l; f-- > 0;) {
      if (levels_[l]->ring.width() % levels_[f]->ring.width() == 0) {
        levels_[l]->feeder = static_cast<int>(f);
        levels_[f]->fed.push_back(l);
        break;
      }
    }
  }

  arrow::FieldVector trailing_fields;
  for (size_t w = 0; w < window_count; ++w) {
    if (spec_.windows[w].is_paned()) continue;
    if (options_.trailing_as_buffers && options_.trailing_as_panes) {
      trailing_panes_.push_back(std::make_unique<TrailingPanes>(
          spec_.windows[w], layout_.get(), spec_.windows[w].width_us + options_.trailing_slack_us,
          options_.trailing_panes));
      trailing_panes_index_.push_back(w);
      // Keys are looked at for retiring once the bound has moved by a pane.
      min_trailing_width_ = std::min(min_trailing_width_, trailing_panes_.back()->pane_width());
      continue;
    }
    trailing_.push_back(std::make_unique<TrailingWindow>(spec_, spec_.windows[w],
                                                         options_.trailing_as_buffers
                                                             ? TrailingWindow::Mode::kBuffer
                                                             : TrailingWindow::Mode::kPerRow));
    trailing_index_.push_back(w);
    min_trailing_width_ = std::min(min_trailing_width_, spec_.windows[w].width_us);
    if (options_.trailing_as_buffers) continue;  // read by TrailingSnapshot, no row columns
    for (const auto& f : trailing_.back()->fields()) trailing_fields.push_back(f);
  }
  trailing_schema_ = arrow::schema(std::move(trailing_fields));

  stats_.max_event_time_us = kNoTime;
  stats_.watermark_us = kNoTime;
  stats_.late_rows.assign(window_count, 0);
  stats_.closed_windows.assign(window_count, 0);
  stats_.closed_rows.assign(window_count, 0);
  return arrow::Status::OK();
}

arrow::Status WindowStore::BindBatch(const arrow::RecordBatch& batch, BatchColumns* columns) {
  return BindColumns(batch, columns, &times_, &value_inputs_);
}

arrow::Status WindowStore::BindColumns(const arrow::RecordBatch& batch, BatchColumns* columns,
                                       std::vector<int64_t>* times,
                                       std::vector<ValueInput>* inputs) const {
  const arrow::Schema& schema = *batch.schema();
  const int64_t n = batch.num_rows();
  ARROW_ASSIGN_OR_RAISE(int time_index, FindColumn(schema, spec_.time_column, "time"));
  times->resize(std::max<int64_t>(n, 1));
  ARROW_RETURN_NOT_OK(ReadEventTime(*batch.column(time_index), spec_.integer_time_unit,
                                    spec_.time_column, times->data()));
  for (size_t c = 0; c < spec_.key_columns.size(); ++c) {
    ARROW_ASSIGN_OR_RAISE(int index, FindColumn(schema, spec_.key_columns[c], "key"));
    ARROW_RETURN_NOT_OK(keys_->CheckColumnType(c, *schema.field(index)->type()));
    columns->keys.push_back(batch.column(index).get());
  }
  if (layout_->value_blocks() > 0) {
    for (const auto& name : spec_.value_columns) {
      ARROW_ASSIGN_OR_RAISE(int index, FindColumn(schema, name, "value"));
      std::shared_ptr<arrow::Array> array = batch.column(index);
      ARROW_RETURN_NOT_OK(CheckValueType(*array->type(), name));
      if (array->type_id() != arrow::Type::DOUBLE) {
        // Unsafe: large integers and decimals may round; that is fine for aggregates.
        auto cast =
            arrow::compute::Cast(*array, arrow::float64(), arrow::compute::CastOptions::Unsafe());
        if (!cast.ok()) {
          return arrow::Status::Invalid("value column '", name, "' (", array->type()->ToString(),
                                        ") could not be read as double: ", cast.status().message());
        }
        array = std::move(cast).ValueOrDie();
      }
      columns->values.push_back(std::move(array));
    }
  }
  inputs->clear();
  for (const auto& array : columns->values) {
    const arrow::ArrayData& data = *array->data();
    ValueInput in;
    in.values = data.GetValues<double>(1);
    if (array->null_count() > 0) {
      in.validity = data.buffers[0]->data();
      in.validity_offset = data.offset;
    }
    inputs->push_back(in);
  }
  return arrow::Status::OK();
}

arrow::Status WindowStore::InternKeys(const BatchColumns& columns, int64_t n,
                                      const BatchKeys* keys) {
  ids_.resize(std::max<int64_t>(n, 1));
  if (keys == nullptr) return keys_->Intern(columns.keys, n, ids_.data());
  if (keys->columns != spec_.key_columns || static_cast<int64_t>(keys->row_key.size()) != n) {
    return arrow::Status::Invalid(
        "window store: the batch's shared keys are not of its key "
        "columns or rows");
  }
  std::vector<const arrow::Array*> distinct;
  for (const auto& array : keys->distinct) distinct.push_back(array.get());
  distinct_ids_.resize(std::max<int64_t>(keys->distinct_count, 1));
  ARROW_RETURN_NOT_OK(keys_->Intern(distinct, keys->distinct_count, distinct_ids_.data()));
  const int32_t* row_key = keys->row_key.data();
  const int32_t* ids = distinct_ids_.data();
  for (int64_t i = 0; i < n; ++i) ids_[i] = ids[row_key[i]];
  return arrow::Status::OK();
}

arrow::Result<UpdateResult> WindowStore::Update(const arrow::RecordBatch& batch,
                                                const BatchKeys* keys) {
  std::unique_lock lock(mutex_);
  BatchColumns columns;
  ARROW_RETURN_NOT_OK(BindBatch(batch, &columns));
  const int64_t n = batch.num_rows();
  UpdateResult result;
  result.rows = n;
  ARROW_RETURN_NOT_OK(InternKeys(columns, n, keys));
  const int64_t id_limit = keys_->id_limit();
  for (auto& level : levels_) level->ring.ReserveKeys(id_limit);
  for (auto& trailing : trailing_) trailing->ReserveKeys(id_limit);
  for (auto& panes : trailing_panes_) panes->ReserveKeys(id_limit);
  for (int64_t i = 0; i < n; ++i) result.null_time_rows += times_[i] == kNoTime;

  if (!trailing_.empty() && !options_.trailing_as_buffers) {
    std::vector<std::shared_ptr<arrow::Array>> arrays;
    for (size_t t = 0; t < trailing_.size(); ++t) {
      int64_t late = 0;
      ARROW_RETURN_NOT_OK(trailing_[t]->Process(ids_.data(), times_.data(), value_inputs_.data(), n,
                                                watermark_, max_time_, spec_.allowed_lateness_us,
                                                &arrays, &late));
      stats_.late_rows[trailing_index_[t]] += late;
      // Every trailing window has the same lateness test (time below the watermark), which
      // every row late for a tumbling/hopping window also fails.
      result.late_rows = late;
    }
    result.trailing = arrow::RecordBatch::Make(trailing_schema_, n, std::move(arrays));
  }
  ARROW_RETURN_NOT_OK(ApplyPanes(n, &result));
  if (!trailing_.empty() && options_.trailing_as_buffers && watermark_ != kNoTime) {
    int64_t now = options_.wall_clock ? options_.wall_clock() : watermark_;
    for (size_t t = 0; t < trailing_.size(); ++t) {
      int64_t dropped = 0;
      const int64_t bound = std::min(watermark_, now) - spec_.windows[trailing_index_[t]].width_us -
                            options_.trailing_slack_us;
      trailing_[t]->Buffer(ids_.data(), times_.data(), value_inputs_.data(), n, bound, &dropped);
      stats_.late_rows[trailing_index_[t]] += dropped;
    }
  }

  if (!trailing_panes_.empty()) {
    if (watermark_ != kNoTime) {
      const int64_t now = options_.wall_clock ? options_.wall_clock() : watermark_;
      for (size_t t = 0; t < trailing_panes_.size(); ++t) {
        int64_t dropped = 0;
        const int64_t bound = std::min(watermark_, now) -
                              spec_.windows[trailing_panes_index_[t]].width_us -
                              options_.trailing_slack_us;
        trailing_panes_[t]->Fold(ids_.data(), times_.data(), value_inputs_.data(), n, bound,
                                 &dropped);
        stats_.late_rows[trailing_panes_index_[t]] += dropped;
      }
    }
  }

  stats_.batches += 1;
  stats_.rows += n;
  stats_.null_time_rows += result.null_time_rows;
  stats_.max_event_time_us = max_time_;
  stats_.watermark_us = watermark_;
  RetireIdleKeys();
  return result;
}

void WindowStore::RetireIdleKeys() {
  // Trailing rows expire as the watermark moves; the sweeps that drop them run once per
  // width, so looking once per (narrowest) width finds what they freed.
  const bool trailing_due = (!trailing_.empty() || !trailing_panes_.empty()) &&
                            watermark_ != kNoTime &&
                            (last_retire_watermark_ == kNoTime ||
                             watermark_ - last_retire_watermark_ >= min_trailing_width_);
  if (!retire_due_ && !trailing_due) return;
  retire_due_ = false;
  last_retire_watermark_ = watermark_;

  // Held: rows in an open pane (a slot without its key bit is empty), or a row of a retained
  // closed window (read back by id).
  const int32_t id_limit = keys_->id_limit();
  const int64_t words = (id_limit + 63) / 64;
  held_.assign(words, 0);
  for (const auto& level : levels_) level->ring.CollectKeys(held_.data(), words);
  for (const auto& panes : trailing_panes_) panes->CollectKeys(held_.data(), words);
  for (const RetainedWindow& r : retained_) {
    for (int32_t id : r.ids) SetKeyBit(held_.data(), id);
  }
  // Of the rest, those whose trailing rows no longer matter.
  const std::vector<uint64_t>& in_use = keys_->in_use();
  retiring_.clear();
  for (int64_t w = 0; w < words; ++w) {
    for (uint64_t word = in_use[w] & ~held_[w]; word != 0; word &= word - 1) {
      const auto id = static_cast<int32_t>(w * 64 + __builtin_ctzll(word));
      bool idle = true;
      for (const auto& trailing : trailing_) idle = idle && trailing->Idle(id, watermark_);
      if (idle) retiring_.push_back(id);
    }
  }
  if (retiring_.empty()) return;
  for (int32_t id : retiring_) {
    for (auto& trailing : trailing_) trailing->Forget(id);
  }
  keys_->Retire(retiring_);
  stats_.retired_keys += static_cast<int64_t>(retiring_.size());
  const int64_t limit = keys_->id_limit();
  for (auto& level : levels_) level->ring.ShrinkKeys(limit);
  for (auto& trailing : trailing_) trailing->ShrinkKeys(limit);
  for (auto& panes : trailing_panes_) panes->ShrinkKeys(limit);
}

int64_t WindowStore::NextCloseBoundary() const {
  if (watermark_ == kNoTime) return INT64_MIN;  // the first watermark initialises closed_end
  int64_t next = INT64_MAX;
  for (const PanedWindow& w : paned_) {
    if (w.active) next = std::min(next, w.closed_end + w.slide);
  }
  return next;
}

arrow::Status WindowStore::ApplyPanes(int64_t n, UpdateResult* result) {
  // Rows are applied in runs during which no window closes; between runs the windows the
  // watermark passed are closed, so each row sees exactly the windows open at its arrival.
  const int64_t lateness = spec_.allowed_lateness_us;
  int64_t next_close = NextCloseBoundary();
  int64_t begin = 0;
  for (int64_t row = 0; row < n; ++row) {
    const int64_t t = times_[row];
    if (t == kNoTime || (max_time_ != kNoTime && t <= max_time_)) continue;
    max_time_ = t;
    const int64_t watermark = std::max(watermark_, t - lateness);
    if (watermark < next_close) {
      watermark_ = watermark;
      continue;
    }
    ApplyRun(begin, row, result);
    ARROW_RETURN_NOT_OK(CloseUpTo(watermark, result));
    watermark_ = watermark;
    next_close = NextCloseBoundary();
    begin = row;
  }
  ApplyRun(begin, n, result);
  return arrow::Status::OK();
}

int64_t WindowStore::AliveThreshold(const Level& level) const {
  // A pane is dead once every window instance containing it is closed: for a window whose
  // last closed instance ends at E, that holds for times before E - width + slide.
  int64_t threshold = INT64_MAX;
  for (size_t w : level.windows) {
    const PanedWindow& p = paned_[w];
    if (p.closed_end == kNoTime) return INT64_MIN;
    threshold = std::min(threshold, p.closed_end - p.width + p.slide);
  }
  return threshold;
}

void WindowStore::ApplyRun(int64_t begin, int64_t end, UpdateResult* result) {
  if (begin >= end || levels_.empty()) return;
  const int64_t* times = times_.data();
  int64_t run_min = INT64_MAX, run_max = INT64_MIN;
  for (int64_t i = begin; i < end; ++i) {
    const int64_t t = times[i];
    if (t == kNoTime) continue;
    run_min = std::min(run_min, t);
    run_max = std::max(run_max, t);
  }
  if (run_max == INT64_MIN) return;  // only rows without time

  // Late rows: before the end of the last closed instance of some window. Only rows older
  // than the latest such end need a look.
  int64_t latest_closed_end = kNoTime;
  for (const PanedWindow& p : paned_) {
    if (p.active) latest_closed_end = std::max(latest_closed_end, p.closed_end);
  }
  if (run_min < latest_closed_end) {
    int64_t any = 0;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t t = times[i];
      if (t == kNoTime || t >= latest_closed_end) continue;
      ++any;
      for (size_t w = 0; w < paned_.size(); ++w) {
        stats_.late_rows[w] += paned_[w].active && t < paned_[w].closed_end;
      }
    }
    if (trailing_.empty() || options_.trailing_as_buffers) result->late_rows += any;
  }

  slot_of_row_.resize(std::max<size_t>(slot_of_row_.size(), static_cast<size_t>(end)));
  const int64_t stride = layout_->stride();
  const int32_t* ids = ids_.data();
  for (auto& level_ptr : levels_) {
    Level& level = *level_ptr;
    PaneRing& ring = level.ring;
    const int64_t width = ring.width();
    // Rows at or after `alive` still matter to an open window of this level; a fed level
    // takes rows directly only below its feeder's sealed bound (the rest arrive by sealing).
    const int64_t alive = AliveThreshold(level);
    const int64_t before = level.feeder >= 0 ? levels_[level.feeder]->sealed_before : INT64_MAX;
    const int64_t from = std::max(run_min, alive);
    const int64_t to = std::min(run_max, before == INT64_MAX ? INT64_MAX : before - 1);
    if (from > to) continue;
    const int64_t lo = FloorDiv(from, width), hi = FloorDiv(to, width);
    ring.Cover(lo, hi);
    columns_in_run_.resize(hi - lo + 1);
    key_bits_in_run_.resize(hi - lo + 1);
    panes_with_rows_.assign(hi - lo + 1, 0);
    // Older panes get columns only if a row lands there.
    for (int64_t p = lo; p < hi; ++p) {
      columns_in_run_[p - lo] = ring.Column(p);
      key_bits_in_run_[p - lo] = columns_in_run_[p - lo] ? ring.KeyBits(p) : nullptr;
    }
    StateWord* newest = ring.MutableColumn(hi);
    uint64_t* newest_keys = ring.KeyBits(hi);
    columns_in_run_[hi - lo] = newest;
    key_bits_in_run_[hi - lo] = newest_keys;
    StateWord** columns = columns_in_run_.data();
    const int64_t newest_start = hi * width;
    bool newest_has_rows = false;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t t = times[i];
      StateWord* slot = nullptr;
      if (t >= newest_start && t <= to) {  // the common case: no division
        slot = newest + ids[i] * stride;
        SetKeyBit(newest_keys, ids[i]);
        newest_has_rows = true;
      } else if (t != kNoTime && t >= alive && t < before) {
        const int64_t pane = FloorDiv(t, width);
        if (columns[pane - lo] == nullptr) {
          columns[pane - lo] = ring.MutableColumn(pane);
          key_bits_in_run_[pane - lo] = ring.KeyBits(pane);
        }
        slot = columns[pane - lo] + ids[i] * stride;
        SetKeyBit(key_bits_in_run_[pane - lo], ids[i]);
        panes_with_rows_[pane - lo] = 1;
      }
      slot_of_row_[i] = slot;
    }
    if (newest_has_rows) panes_with_rows_[hi - lo] = 1;
    for (int64_t p = lo; p <= hi; ++p) {
      if (panes_with_rows_[p - lo]) ring.MarkRows(p);
    }
    layout_->Fold(slot_of_row_.data(), begin, end, times, value_inputs_.data());
  }
}

void WindowStore::Seal(int64_t watermark) {
  for (auto& level_ptr : levels_) {  // finest first: a pane has all its rows before it seals
    Level& level = *level_ptr;
    if (level.fed.empty()) continue;
    const int64_t width = level.ring.width();
    const int64_t before = FloorTo(std::min(watermark, kEndOfTime), width);
    if (before <= level.sealed_before) continue;
    int64_t p = level.ring.first();
    if (level.sealed_before != INT64_MIN) p = std::max(p, level.sealed_before / width);
    for (; p < level.ring.end() && p < before / width; ++p) {
      if (!level.ring.HasRows(p)) continue;
      for (size_t l : level.fed) {
        PaneRing& ring = levels_[l]->ring;
        const int64_t q = FloorDiv(p * width, ring.width());
        ring.Cover(q, q);
        const uint64_t* from = level.ring.KeyBits(p);
        const int64_t words = level.ring.key_words();
        layout_->MergeKeys(ring.MutableColumn(q), level.ring.Column(p), from, words);
        uint64_t* to = ring.KeyBits(q);
        for (int64_t w = 0; w < words; ++w) to[w] |= from[w];
        ring.MarkRows(q);
      }
    }
    level.sealed_before = before;
  }
}

arrow::Status WindowStore::CloseUpTo(int64_t watermark, UpdateResult* result) {
  Seal(watermark);
  for (size_t w = 0; w < paned_.size(); ++w) {
    PanedWindow& p = paned_[w];
    if (!p.active) continue;
    const int64_t new_end = LastClosedEnd(watermark, p.width, p.slide);
    const int64_t old_end = p.closed_end;
    if (old_end != kNoTime && new_end <= old_end) continue;
    p.closed_end = new_end;
    if (old_end == kNoTime) continue;  // first watermark: nothing can have rows yet
    retire_due_ = true;
    // Instances k (start k*slide) ending in (old_end, new_end], visited only where a pane
    // has rows: instance k contains pane q iff k*slide <= q*width < k*slide + width.
    const PaneRing& ring = levels_[p.level]->ring;
    const int64_t pane_width = ring.width();
    const int64_t k_last = (new_end - p.width) / p.slide;
    int64_t k_next = (old_end - p.width) / p.slide + 1;
    for (int64_t q = ring.first(); q < ring.end() && k_next <= k_last; ++q) {
      if (!ring.HasRows(q)) continue;
      const int64_t pane_start = q * pane_width;
      const int64_t k_lo = std::max(k_next, FloorDiv(pane_start - p.width, p.slide) + 1);
      const int64_t k_hi = std::min(k_last, FloorDiv(pane_start, p.slide));
      for (int64_t k = k_lo; k <= k_hi; ++k) {
        const int64_t start = k * p.slide;
        InstanceRows rows;
        if (!Collect(w, start, nullptr, &rows)) continue;
        ARROW_ASSIGN_OR_RAISE(auto batch,
                              BuildBatch(rows.ids, rows.slots, start, start + p.width, true));
        stats_.closed_windows[w] += 1;
        stats_.closed_rows[w] += batch->num_rows();
        result->closed_windows += 1;
        if (spec_.retention_us > 0) {
          RetainedWindow kept{w, start, start + p.width, rows.ids, {}};
          kept.slots.resize(rows.ids.size() * layout_->stride());
          for (size_t i = 0; i < rows.slots.size(); ++i) {
            std::copy_n(rows.slots[i], layout_->stride(),
                        kept.slots.data() + i * layout_->stride());
          }
          retained_.push_back(std::move(kept));
        }
        ClosedWindow closed{w, start, start + p.width, std::move(batch)};
        if (options_.on_close) {
          ARROW_RETURN_NOT_OK(options_.on_close(closed));
        } else {
          pending_.push_back(std::move(closed));
        }
      }
      k_next = std::max(k_next, k_hi + 1);
    }
  }
  for (auto& level : levels_) {
    const int64_t alive = AliveThreshold(*level);
    if (alive != INT64_MIN) level->ring.DropBefore(FloorDiv(alive, level->ring.width()));
  }
  while (!retained_.empty()) {
    auto oldest = std::min_element(
        retained_.begin(), retained_.end(),
        [](const RetainedWindow& a, const RetainedWindow& b) { return a.end < b.end; });
    if (oldest->end + spec_.retention_us > watermark) break;
    retained_.erase(oldest);
  }
  return arrow::Status::OK();
}

int64_t WindowStore::OldestTimeHeld() const {
  std::shared_lock lock(mutex_);
  if (!trailing_.empty()) return kNoTime;
  int64_t oldest = INT64_MAX;
  for (const auto& level : levels_) {
    if (!level->ring.empty()) oldest = std::min(oldest, level->ring.first() * level->ring.width());
  }
  for (const auto& panes : trailing_panes_) oldest = std::min(oldest, panes->OldestTimeHeld());
  for (const ClosedWindow& closed : pending_) oldest = std::min(oldest, closed.start_us);
  for (const RetainedWindow& kept : retained_) oldest = std::min(oldest, kept.start);
  return oldest;
}

arrow::Status WindowStore::AdvanceWatermark(int64_t watermark_us) {
  std::unique_lock lock(mutex_);
  const int64_t watermark = std::min(watermark_us, kEndOfTime);
  if (watermark_ != kNoTime && watermark <= watermark_) return arrow::Status::OK();
  UpdateResult ignored;
  ARROW_RETURN_NOT_OK(CloseUpTo(watermark, &ignored));
  watermark_ = watermark;
  stats_.watermark_us = watermark_;
  RetireIdleKeys();
  return arrow::Status::OK();
}

std::vector<ClosedWindow> WindowStore::TakeClosed() {
  std::unique_lock lock(mutex_);
  std::vector<ClosedWindow> out;
  out.swap(pending_);
  return out;
}

bool WindowStore::Collect(size_t w, int64_t start, const std::vector<int32_t>* ids,
                          InstanceRows* out) const {
  const PanedWindow& p = paned_[w];
  const PaneRing& ring = levels_[p.level]->ring;
  const int64_t pane_width = ring.width();
  const int64_t first = FloorDiv(start, pane_width);
  const int64_t count = p.width / pane_width;
  std::vector<const StateWord*> columns;
  std::vector<const uint64_t*> key_bits;
  for (int64_t q = first; q < first + count; ++q) {
    if (ring.HasRows(q)) {
      columns.push_back(ring.Column(q));
      key_bits.push_back(ring.KeyBits(q));
    }
  }
  // Rows still in finer panes that have not sealed yet are only there: walk the feeders.
  const int64_t end = start + p.width;
  for (int f = levels_[p.level]->feeder; f >= 0; f = levels_[f]->feeder) {
    const Level& finer = *levels_[f];
    const int64_t width = finer.ring.width();
    int64_t q = std::max(FloorDiv(start, width), finer.ring.first());
    if (finer.sealed_before != INT64_MIN) q = std::max(q, finer.sealed_before / width);
    for (; q < finer.ring.end() && q * width < end; ++q) {
      if (finer.ring.HasRows(q)) {
        columns.push_back(finer.ring.Column(q));
        key_bits.push_back(finer.ring.KeyBits(q));
      }
    }
  }
  if (columns.empty()) return false;
  const int64_t stride = layout_->stride();
  const int64_t words = ring.key_words();  // every ring has the same key capacity
  if (ids == nullptr) {
    // Keys with rows: the union of the panes' key bits, in key order.
    std::vector<uint64_t> all(key_bits[0], key_bits[0] + words);
    for (size_t c = 1; c < key_bits.size(); ++c) {
      for (int64_t w = 0; w < words; ++w) all[w] |= key_bits[c][w];
    }
    int64_t with_rows = 0;
    for (uint64_t word : all) with_rows += __builtin_popcountll(word);
    out->ids.reserve(with_rows);
    out->slots.reserve(with_rows);
    if (columns.size() == 1) {
      ForEachKey(all.data(), words, [&](int32_t k) {
        out->ids.push_back(k);
        out->slots.push_back(columns[0] + k * stride);
      });
      return with_rows > 0;
    }
    out->merged.resize(with_rows * stride);
    layout_->Init(out->merged.data(), with_rows);
    int64_t i = 0;
    ForEachKey(all.data(), words, [&](int32_t k) {
      StateWord* slot = out->merged.data() + i++ * stride;
      for (const StateWord* column : columns) layout_->Merge(slot, column + k * stride);
      out->ids.push_back(k);
    });
    for (int64_t j = 0; j < with_rows; ++j) out->slots.push_back(out->merged.data() + j * stride);
    return with_rows > 0;
  }
  if (columns.size() == 1) {
    for (int32_t id : *ids) {
      const StateWord* slot = columns[0] + id * stride;
      if (AggregateLayout::RowCount(slot) > 0) {
        out->ids.push_back(id);
        out->slots.push_back(slot);
      }
    }
    return !out->ids.empty();
  }
  out->merged.resize(ids->size() * stride);
  size_t used = 0;
  for (int32_t id : *ids) {
    StateWord* slot = out->merged.data() + used * stride;
    std::copy_n(columns[0] + id * stride, stride, slot);
    for (size_t c = 1; c < columns.size(); ++c) layout_->Merge(slot, columns[c] + id * stride);
    if (AggregateLayout::RowCount(slot) > 0) {
      out->ids.push_back(id);
      ++used;
    }
  }
  for (size_t i = 0; i < used; ++i) out->slots.push_back(out->merged.data() + i * stride);
  return used > 0;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowStore::BuildBatch(
    const std::vector<int32_t>& ids, const std::vector<const StateWord*>& slots, int64_t start,
    int64_t end, bool closed) const {
  ARROW_ASSIGN_OR_RAISE(auto aggregates, layout_->Finalize(aggregate_columns_, slots.data(),
                                                           static_cast<int64_t>(ids.size())));
  return OutputBatch(ids, start, end, std::move(aggregates), closed);
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowStore::OutputBatch(
    const std::vector<int32_t>& ids, int64_t start, int64_t end,
    std::vector<std::shared_ptr<arrow::Array>> aggregates, bool closed) const {
  const int64_t n = static_cast<int64_t>(ids.size());
  ARROW_ASSIGN_OR_RAISE(std::vector<std::shared_ptr<arrow::Array>> columns,
                        keys_->Gather(ids.data(), n));
  ARROW_ASSIGN_OR_RAISE(auto starts, ConstantTimestamps(start, n));
  ARROW_ASSIGN_OR_RAISE(auto ends, ConstantTimestamps(end, n));
  columns.push_back(std::move(starts));
  columns.push_back(std::move(ends));
  for (auto& array : aggregates) columns.push_back(std::move(array));
  ARROW_ASSIGN_OR_RAISE(auto flags, ConstantBools(closed, n));
  columns.push_back(std::move(flags));
  return arrow::RecordBatch::Make(output_schema_, n, std::move(columns));
}

arrow::Result<std::vector<int32_t>> WindowStore::WantedIds(
    const std::shared_ptr<arrow::RecordBatch>& keys) const {
  std::vector<int32_t> wanted;
  std::vector<const arrow::Array*> key_arrays;
  for (size_t c = 0; c < spec_.key_columns.size(); ++c) {
    ARROW_ASSIGN_OR_RAISE(
        int index, FindColumn(*keys->schema(), spec_.key_columns[c], "key", "snapshot key filter"));
    ARROW_RETURN_NOT_OK(keys_->CheckColumnType(c, *keys->column(index)->type()));
    key_arrays.push_back(keys->column(index).get());
  }
  std::vector<int32_t> found(keys->num_rows());
  ARROW_RETURN_NOT_OK(keys_->Find(key_arrays, keys->num_rows(), found.data()));
  for (int32_t id : found) {
    if (id >= 0) wanted.push_back(id);
  }
  // A key asked for twice is answered once, at its first position.
  std::vector<int32_t> sorted = wanted;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    std::vector<int32_t> unique;
    std::unordered_set<int32_t> seen;
    for (int32_t id : wanted) {
      if (seen.insert(id).second) unique.push_back(id);
    }
    wanted = std::move(unique);
  }
  return wanted;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowStore::Snapshot(
    const SnapshotFilter& filter) const {
  std::shared_lock lock(mutex_);
  if (filter.window) {
    if (*filter.window >= spec_.windows.size()) {
      return arrow::Status::Invalid("snapshot: window #", *filter.window,
                                    " does not exist; the spec has ", spec_.windows.size(),
                                    " windows");
    }
    if (!paned_[*filter.window].active) {
      return arrow::Status::Invalid("snapshot: window #", *filter.window, " (",
                                    spec_.windows[*filter.window].ToString(),
                                    ") is a trailing window; its values come per row from Update");
    }
  }
  std::vector<int32_t> wanted;
  if (filter.keys != nullptr) {
    ARROW_ASSIGN_OR_RAISE(wanted, WantedIds(filter.keys));
  }
  const std::vector<int32_t>* ids = filter.keys != nullptr ? &wanted : nullptr;
  const int64_t from = filter.from_us.value_or(INT64_MIN);
  const int64_t to = filter.to_us.value_or(INT64_MAX);
  const int64_t stride = layout_->stride();

  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  for (size_t w = 0; w < paned_.size(); ++w) {
    const PanedWindow& p = paned_[w];
    if (!p.active || (filter.window && *filter.window != w)) continue;
    if (max_time_ == kNoTime) continue;
    const int64_t current = FloorDiv(max_time_, p.slide) * p.slide;
    auto wanted_instance = [&](int64_t start) {
      if (filter.current_only && start != current) return false;
      return start < to && start + p.width > from;
    };
    if (filter.include_closed) {
      for (const RetainedWindow& r : retained_) {
        if (r.window != w || !wanted_instance(r.start)) continue;
        if (r.end + spec_.retention_us <= watermark_) continue;  // expired, dropped at next close
        std::vector<int32_t> row_ids;
        std::vector<const StateWord*> slots;
        if (ids == nullptr) {
          row_ids = r.ids;
          for (size_t i = 0; i < r.ids.size(); ++i) slots.push_back(r.slots.data() + i * stride);
        } else {
          for (int32_t id : *ids) {
            auto it = std::lower_bound(r.ids.begin(), r.ids.end(), id);
            if (it == r.ids.end() || *it != id) continue;
            row_ids.push_back(id);
            slots.push_back(r.slots.data() + (it - r.ids.begin()) * stride);
          }
        }
        if (row_ids.empty()) continue;
        ARROW_ASSIGN_OR_RAISE(auto batch, BuildBatch(row_ids, slots, r.start, r.end, true));
        batches.push_back(std::move(batch));
      }
    }
    if (filter.include_open) {
      // Open instances: ending after closed_end, up to the one holding the newest time.
      int64_t k = (p.closed_end - p.width) / p.slide + 1;
      const int64_t k_last = FloorDiv(max_time_, p.slide);
      if (filter.current_only) k = std::max(k, k_last);
      for (; k <= k_last; ++k) {
        const int64_t start = k * p.slide;
        if (!wanted_instance(start)) continue;
        InstanceRows rows;
        if (!Collect(w, start, ids, &rows)) continue;
        ARROW_ASSIGN_OR_RAISE(auto batch,
                              BuildBatch(rows.ids, rows.slots, start, start + p.width, false));
        batches.push_back(std::move(batch));
      }
    }
  }
  if (batches.empty()) return arrow::RecordBatch::MakeEmpty(output_schema_);
  if (batches.size() == 1) return batches[0];
  return arrow::ConcatenateRecordBatches(batches);
}

int64_t WindowStore::TrailingHorizon(size_t window) const {
  std::shared_lock lock(mutex_);
  for (size_t t = 0; t < trailing_.size(); ++t) {
    if (trailing_index_[t] == window) return trailing_[t]->horizon();
  }
  for (size_t t = 0; t < trailing_panes_.size(); ++t) {
    if (trailing_panes_index_[t] == window) return trailing_panes_[t]->horizon();
  }
  return kNoTime;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowStore::TrailingSnapshot(
    const TrailingFilter& filter) const {
  std::shared_lock lock(mutex_);
  if (!trailing_panes_.empty()) {
    return arrow::Status::Invalid(
        "this store keeps its trailing windows as panes: read them with BeginTrailingRead and "
        "FinishTrailingRead");
  }
  if (!options_.trailing_as_buffers || trailing_.empty()) {
    return arrow::Status::Invalid(
        "this window definition keeps no trailing buffer; add a "
        "trailing window (e.g. 'trailing 1h') to read the last N "
        "minutes as of now");
  }
  size_t t = 0;
  if (filter.window) {
    while (t < trailing_.size() && trailing_index_[t] != *filter.window) ++t;
    if (t == trailing_.size()) {
      return arrow::Status::Invalid("window #", *filter.window, " is not a trailing window");
    }
  }
  const TrailingWindow& trailing = *trailing_[t];
  if (trailing.horizon() != kNoTime && (filter.inclusive ? filter.since_us <= trailing.horizon()
                                                         : filter.since_us < trailing.horizon())) {
    return LeftTheBuffer(trailing.horizon(), trailing.def(), filter.since_us);
  }
  std::vector<int32_t> ids;
  if (filter.keys != nullptr) {
    ARROW_ASSIGN_OR_RAISE(ids, WantedIds(filter.keys));
  } else {
    ids.resize(keys_->id_limit());  // free ids hold no rows and are skipped
    std::iota(ids.begin(), ids.end(), 0);
  }
  std::vector<int32_t> kept;
  std::vector<std::shared_ptr<arrow::Array>> aggregates;
  ARROW_RETURN_NOT_OK(trailing.ReadSince(ids, filter.since_us, filter.inclusive, aggregate_columns_,
                                         &kept, &aggregates));
  return OutputBatch(kept, filter.since_us, filter.until_us, std::move(aggregates), false);
}

int64_t WindowStore::key_count() const {
  std::shared_lock lock(mutex_);
  return keys_->size();
}

WindowStoreStats WindowStore::GetStats() const {
  std::shared_lock lock(mutex_);
  WindowStoreStats stats = stats_;
  stats.keys = keys_->size();
  stats.key_ids = keys_->id_limit();
  stats.pane_widths = static_cast<int64_t>(levels_.size());
  stats.slot_bytes = layout_->slot_bytes();
  stats.key_bytes = keys_->memory_bytes();
  for (const auto& level : levels_) {
    stats.open_panes += level->ring.open_panes();
    stats.allocated_panes += level->ring.allocated_panes();
    stats.pane_bytes += level->ring.memory_bytes();
  }
  for (const auto& trailing : trailing_) {
    stats.trailing_bytes += trailing->memory_bytes();
    stats.trailing_rows += trailing->buffered_rows();
  }
  for (const auto& panes : trailing_panes_) {
    stats.trailing_bytes += panes->memory_bytes();
    stats.open_panes += panes->open_panes();
    stats.trailing_suffix_hits += panes->suffixes().hits();
    stats.trailing_suffix_builds += panes->suffixes().builds();
  }
  for (const auto& r : retained_) {
    stats.retained_closed_bytes +=
        static_cast<int64_t>(r.ids.capacity() * 4 + r.slots.capacity() * sizeof(StateWord));
  }
  stats.pending_closed = static_cast<int64_t>(pending_.size());
  return stats;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> WindowStore::WithTrailingColumns(
    const std::shared_ptr<arrow::RecordBatch>& batch, const UpdateResult& result) {
  if (result.trailing == nullptr) return batch;
  if (result.trailing->num_rows() != batch->num_rows()) {
    return arrow::Status::Invalid("trailing columns have ", result.trailing->num_rows(),
                                  " rows but the batch has ", batch->num_rows());
  }
  std::shared_ptr<arrow::RecordBatch> out = batch;
  for (int c = 0; c < result.trailing->num_columns(); ++c) {
    ARROW_ASSIGN_OR_RAISE(out,
                          out->AddColumn(out->num_columns(), result.trailing->schema()->field(c),
                                         result.trailing->column(c)));
  }
  return out;
}

}  // namespace hyprstream::window
