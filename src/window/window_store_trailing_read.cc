// WindowStore's two-step trailing read over panes (BeginTrailingRead / FinishTrailingRead)
// and the edge it adds: the kept rows of the split pane with their suffix states
// (MakeEdgeRows) or a table's partial aggregates (EdgeSchema). See window_store.h.
#include "window/window_store.h"

#include "window/event_time.h"

#include <arrow/compute/cast.h>
#include <arrow/type.h>

#include <algorithm>
#include <mutex>

namespace hyprstream::window {

arrow::Result<TrailingRead> WindowStore::BeginTrailingRead(const TrailingFilter& filter) const {
  std::shared_lock lock(mutex_);
  size_t index = 0;
  const TrailingPanes* found = PanesOf(filter.window, &index);
  if (found == nullptr) {
    return arrow::Status::Invalid(
        "this window definition keeps no trailing panes",
        filter.window ? " for window #" + std::to_string(*filter.window) : std::string());
  }
  const TrailingPanes& panes = *found;
  TrailingRead read;
  read.filter = filter;
  read.window = trailing_panes_index_[index];
  read.keys = keys_->id_limit();
  read.slots.resize(static_cast<size_t>(read.keys) * layout_->stride());  // MergeFrom fills
  read.has_rows.assign((read.keys + 63) / 64, 0);
  const int64_t first = TrailingPanes::FirstIncluded(filter.since_us, filter.inclusive);
  if (!panes.MergeFrom(first, read.keys, read.slots.data(), read.has_rows.data())) {
    if (panes.horizon() != kNoTime && first <= panes.horizon()) {
      return LeftTheBuffer(panes.horizon(), panes.def(), filter.since_us);
    }
    return arrow::Status::Invalid(
        "rows far ahead of the clock are kept together, so an answer since ",
        FormatEventTime(filter.since_us), " would split them; ask for an earlier bound");
  }
  panes.EdgeOf(first, &read.edge_begin, &read.edge_end);
  read.edge_pane_begin = FloorTo(first, panes.pane_width());
  read.edge_pane_fold = panes.LastFoldInto(first);
  if (filter.keys != nullptr) {
    ARROW_ASSIGN_OR_RAISE(auto wanted, WantedIds(filter.keys));
    read.wanted = std::move(wanted);
  }
  return read;
}

const TrailingPanes* WindowStore::PanesOf(std::optional<size_t> window, size_t* index) const {
  for (size_t t = 0; t < trailing_panes_.size(); ++t) {
    if (!window || trailing_panes_index_[t] == *window) {
      *index = t;
      return trailing_panes_[t].get();
    }
  }
  return nullptr;
}

uint64_t WindowStore::TrailingPaneFold(size_t window, int64_t time) const {
  std::shared_lock lock(mutex_);
  size_t index = 0;
  const TrailingPanes* panes = PanesOf(window, &index);
  return panes == nullptr ? 0 : panes->LastFoldInto(time);
}

int64_t TrailingEdgeRows::memory_bytes() const {
  int64_t bytes = static_cast<int64_t>(ids.capacity() * 4 + times.capacity() * 8);
  for (const auto& v : values) bytes += static_cast<int64_t>(v.capacity() * 8);
  for (const auto& v : validity) bytes += static_cast<int64_t>(v.capacity());
  bytes += static_cast<int64_t>(suffixes.capacity() * sizeof(TrailingEdgeSuffix));
  for (const auto& s : suffixes) {
    bytes +=
        static_cast<int64_t>(s.slots.capacity() * sizeof(StateWord) + s.has_rows.capacity() * 8);
  }
  return bytes;
}

int64_t WindowStore::EdgeSuffixCount(int64_t rows_bytes, int64_t keys, int64_t slot_bytes) {
  const int64_t per_suffix = keys * slot_bytes + (keys + 63) / 64 * 8;
  if (per_suffix <= 0) return 0;
  return std::clamp<int64_t>(rows_bytes / per_suffix, 0, kMaxEdgeSuffixes);
}

bool WindowStore::FoldEdgeRows(const TrailingEdgeRows& rows, int64_t begin, int64_t end,
                               int64_t keys, StateWord* slots, uint64_t* has_rows) const {
  const int64_t stride = layout_->stride();
  constexpr int64_t kChunk = 4096;
  std::vector<StateWord*> slot_of_row(std::min(kChunk, std::max<int64_t>(end - begin, 0)));
  std::vector<ValueInput> inputs(rows.values.size());
  for (int64_t row = begin; row < end; row += kChunk) {
    const int64_t m = std::min(kChunk, end - row);
    for (int64_t k = 0; k < m; ++k) {
      const int32_t id = rows.ids[row + k];
      if (id >= keys) return false;
      slot_of_row[k] = slots + static_cast<int64_t>(id) * stride;
      SetKeyBit(has_rows, id);
    }
    for (size_t v = 0; v < inputs.size(); ++v) {
      inputs[v].values = rows.values[v].data() + row;
      inputs[v].validity = rows.validity[v].empty() ? nullptr : rows.validity[v].data();
      inputs[v].validity_offset = row;
    }
    layout_->Fold(slot_of_row.data(), 0, m, rows.times.data() + row, inputs.data());
  }
  return true;
}

void WindowStore::BuildEdgeSuffixes(int64_t count, TrailingEdgeRows* rows) const {
  const auto n = static_cast<int64_t>(rows->times.size());
  // At most one suffix per row after the first, so their rows are distinct and inside.
  count = std::clamp<int64_t>(count, 0, std::max<int64_t>(n - 1, 0));
  rows->suffixes.clear();
  if (count == 0) return;
  const int64_t keys = rows->suffix_keys;
  std::vector<StateWord> state(static_cast<size_t>(keys * layout_->stride()));
  layout_->Init(state.data(), keys);
  std::vector<uint64_t> bits(static_cast<size_t>((keys + 63) / 64), 0);
  int32_t max_id = -1;
  rows->suffixes.resize(static_cast<size_t>(count));
  // From the last suffix back: each adds the rows up to the one after it.
  int64_t end = n;
  for (int64_t j = count - 1; j >= 0; --j) {
    TrailingEdgeSuffix& suffix = rows->suffixes[static_cast<size_t>(j)];
    suffix.row = (j + 1) * n / (count + 1);
    FoldEdgeRows(*rows, suffix.row, end, keys, state.data(), bits.data());
    for (int64_t k = suffix.row; k < end; ++k) max_id = std::max(max_id, rows->ids[k]);
    suffix.max_id = max_id;
    suffix.slots = state;
    suffix.has_rows = bits;
    end = suffix.row;
  }
}

arrow::Result<std::shared_ptr<const TrailingEdgeRows>> WindowStore::MakeEdgeRows(
    size_t window, int64_t pane_begin, int64_t pane_end, uint64_t pane_fold,
    const arrow::RecordBatch& batch, std::optional<int64_t> suffixes) const {
  BatchColumns columns;
  std::vector<int64_t> times;
  std::vector<ValueInput> inputs;
  ARROW_RETURN_NOT_OK(BindColumns(batch, &columns, &times, &inputs));
  const int64_t n = batch.num_rows();
  std::vector<int32_t> ids(std::max<int64_t>(n, 1));
  {
    std::shared_lock lock(mutex_);
    ARROW_RETURN_NOT_OK(keys_->Find(columns.keys, n, ids.data()));
  }
  // Rows of the pane only, in time order.
  std::vector<int64_t> order;
  order.reserve(n);
  for (int64_t i = 0; i < n; ++i) {
    if (times[i] == kNoTime || times[i] < pane_begin || times[i] >= pane_end) continue;
    if (ids[i] < 0) return nullptr;  // a key the state has not seen: rows not folded yet
    order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return times[a] < times[b]; });
  auto rows = std::make_shared<TrailingEdgeRows>();
  rows->window = window;
  rows->pane_begin = pane_begin;
  rows->pane_end = pane_end;
  rows->pane_fold = pane_fold;
  rows->store_serial = serial_;
  const auto m = static_cast<int64_t>(order.size());
  rows->ids.resize(m);
  rows->times.resize(m);
  for (int64_t k = 0; k < m; ++k) {
    rows->ids[k] = ids[order[k]];
    rows->times[k] = times[order[k]];
  }
  for (const ValueInput& in : inputs) {
    std::vector<double> values(m);
    std::vector<uint8_t> validity;
    if (in.validity != nullptr) validity.assign((m + 7) / 8, 0);
    for (int64_t k = 0; k < m; ++k) {
      const int64_t i = order[k];
      values[k] = in.values[i];
      if (in.validity != nullptr && arrow::bit_util::GetBit(in.validity, in.validity_offset + i)) {
        arrow::bit_util::SetBit(validity.data(), k);
      }
    }
    rows->values.push_back(std::move(values));
    rows->validity.push_back(std::move(validity));
  }
  int32_t max_id = -1;
  for (int32_t id : rows->ids) max_id = std::max(max_id, id);
  rows->suffix_keys = int64_t{max_id} + 1;
  BuildEdgeSuffixes(suffixes.value_or(EdgeSuffixCount(rows->memory_bytes(), rows->suffix_keys,
                                                      layout_->slot_bytes())),
                    rows.get());
  return std::shared_ptr<const TrailingEdgeRows>(std::move(rows));
}

std::shared_ptr<arrow::Schema> WindowStore::EdgeSchema() const {
  arrow::FieldVector fields = keys_->output_fields();
  fields.push_back(arrow::field("row_count", arrow::int64()));
  const BlockOffsets& o = layout_->offsets();
  for (int v = 0; v < layout_->value_blocks(); ++v) {
    const std::string& name = spec_.value_columns[v];
    fields.push_back(arrow::field(name + "_count", arrow::int64()));
    if (o.sum >= 0) fields.push_back(arrow::field(name + "_sum", arrow::float64()));
    if (o.min >= 0) fields.push_back(arrow::field(name + "_min", arrow::float64()));
    if (o.max >= 0) fields.push_back(arrow::field(name + "_max", arrow::float64()));
    if (o.mean >= 0) {
      fields.push_back(arrow::field(name + "_mean", arrow::float64()));
      fields.push_back(arrow::field(name + "_m2", arrow::float64()));
    }
  }
  return arrow::schema(std::move(fields));
}

namespace {

// Column `index` of `edge` as int64 / double values (nulls: `validity` bit clear).
arrow::Result<std::shared_ptr<arrow::Array>> EdgeColumn(
    const arrow::RecordBatch& edge, int index, const std::shared_ptr<arrow::DataType>& type) {
  if (index >= edge.num_columns()) {
    return arrow::Status::Invalid("the trailing edge has ", edge.num_columns(),
                                  " columns; expected at least ", index + 1);
  }
  std::shared_ptr<arrow::Array> column = edge.column(index);
  if (column->type()->Equals(*type)) return column;
  return arrow::compute::Cast(*column, type);
}

}  // namespace

arrow::Result<std::optional<std::shared_ptr<arrow::RecordBatch>>> WindowStore::FinishTrailingRead(
    TrailingRead read, const arrow::RecordBatch* edge, const TrailingEdgeRows* edge_rows) const {
  std::shared_lock lock(mutex_);
  const int64_t stride = layout_->stride();
  if (read.edge_begin < read.edge_end) {
    // Rows folded into the edge's pane since the read began (or since its rows were read) may
    // be in the storage the edge came from without being in the merged panes, or the other
    // way round.
    size_t index = 0;
    const TrailingPanes* panes = PanesOf(read.window, &index);
    if (panes == nullptr || panes->LastFoldInto(read.edge_begin) != read.edge_pane_fold) {
      return std::nullopt;
    }
    if (edge_rows != nullptr) {
      if (edge_rows->store_serial != serial_ || edge_rows->pane_fold != read.edge_pane_fold ||
          edge_rows->pane_begin != read.edge_pane_begin || edge_rows->pane_end != read.edge_end) {
        return std::nullopt;
      }
      // The rows from the bound to the next suffix folded, then that suffix merged.
      const auto n = static_cast<int64_t>(edge_rows->times.size());
      const int64_t row =
          std::lower_bound(edge_rows->times.begin(), edge_rows->times.end(), read.edge_begin) -
          edge_rows->times.begin();
      const auto& suffixes = edge_rows->suffixes;
      const auto suffix =
          std::lower_bound(suffixes.begin(), suffixes.end(), row,
                           [](const TrailingEdgeSuffix& s, int64_t r) { return s.row < r; });
      const int64_t fold_end = suffix == suffixes.end() ? n : suffix->row;
      if (!FoldEdgeRows(*edge_rows, row, fold_end, read.keys, read.slots.data(),
                        read.has_rows.data())) {
        return std::nullopt;
      }
      if (suffix != suffixes.end()) {
        if (suffix->max_id >= read.keys) return std::nullopt;
        // Key bits past read.keys are clear (max_id is below it).
        const auto words =
            static_cast<int64_t>(std::min(suffix->has_rows.size(), read.has_rows.size()));
        layout_->MergeKeys(read.slots.data(), suffix->slots.data(), suffix->has_rows.data(), words);
        for (int64_t w = 0; w < words; ++w) read.has_rows[w] |= suffix->has_rows[w];
      }
      edge = nullptr;
    }
  }
  if (edge != nullptr && edge->num_rows() > 0) {
    const size_t key_count = spec_.key_columns.size();
    std::vector<const arrow::Array*> key_arrays;
    for (size_t c = 0; c < key_count; ++c) {
      ARROW_RETURN_NOT_OK(keys_->CheckColumnType(c, *edge->column(static_cast<int>(c))->type()));
      key_arrays.push_back(edge->column(static_cast<int>(c)).get());
    }
    const int64_t n = edge->num_rows();
    std::vector<int32_t> ids(n);
    ARROW_RETURN_NOT_OK(keys_->Find(key_arrays, n, ids.data()));
    int index = static_cast<int>(key_count);
    ARROW_ASSIGN_OR_RAISE(auto row_counts, EdgeColumn(*edge, index++, arrow::int64()));
    const auto* rows = static_cast<const arrow::Int64Array*>(row_counts.get());
    const BlockOffsets& o = layout_->offsets();
    struct Block {
      std::shared_ptr<arrow::Array> count, sum, min, max, mean, m2;
    };
    std::vector<Block> blocks(layout_->value_blocks());
    for (Block& b : blocks) {
      ARROW_ASSIGN_OR_RAISE(b.count, EdgeColumn(*edge, index++, arrow::int64()));
      if (o.sum >= 0) {
        ARROW_ASSIGN_OR_RAISE(b.sum, EdgeColumn(*edge, index++, arrow::float64()));
      }
      if (o.min >= 0) {
        ARROW_ASSIGN_OR_RAISE(b.min, EdgeColumn(*edge, index++, arrow::float64()));
      }
      if (o.max >= 0) {
        ARROW_ASSIGN_OR_RAISE(b.max, EdgeColumn(*edge, index++, arrow::float64()));
      }
      if (o.mean >= 0) {
        ARROW_ASSIGN_OR_RAISE(b.mean, EdgeColumn(*edge, index++, arrow::float64()));
        ARROW_ASSIGN_OR_RAISE(b.m2, EdgeColumn(*edge, index++, arrow::float64()));
      }
    }
    auto number = [](const std::shared_ptr<arrow::Array>& a, int64_t i) {
      return static_cast<const arrow::DoubleArray*>(a.get())->Value(i);
    };
    std::vector<StateWord> partial(stride);
    for (int64_t i = 0; i < n; ++i) {
      // A key the state never saw has rows not folded yet: the state moved.
      if (ids[i] < 0 || ids[i] >= read.keys) return std::nullopt;
      if (rows->IsNull(i) || rows->Value(i) == 0) continue;
      layout_->Init(partial.data(), 1);
      partial[0].i = rows->Value(i);
      for (size_t v = 0; v < blocks.size(); ++v) {
        const Block& b = blocks[v];
        StateWord* block = partial.data() + 1 + v * o.size;
        const int64_t count =
            b.count->IsNull(i) ? 0 : static_cast<const arrow::Int64Array*>(b.count.get())->Value(i);
        if (count == 0) continue;
        block[o.count].i = count;
        if (o.sum >= 0) block[o.sum].d = number(b.sum, i);
        if (o.min >= 0) block[o.min].d = number(b.min, i);
        if (o.max >= 0) block[o.max].d = number(b.max, i);
        if (o.mean >= 0) {
          block[o.mean].d = number(b.mean, i);
          block[o.m2].d = b.m2->IsNull(i) ? 0.0 : number(b.m2, i);
        }
      }
      layout_->Merge(read.slots.data() + static_cast<int64_t>(ids[i]) * stride, partial.data());
      SetKeyBit(read.has_rows.data(), ids[i]);
    }
  }
  // The keys answered: those asked for (in that order) or every key, that have rows.
  std::vector<int32_t> kept;
  auto has = [&](int32_t id) {
    return id >= 0 && id < read.keys && ((read.has_rows[id >> 6] >> (id & 63)) & 1) != 0;
  };
  if (read.wanted) {
    for (int32_t id : *read.wanted) {
      if (has(id)) kept.push_back(id);
    }
  } else {
    ForEachKey(read.has_rows.data(), static_cast<int64_t>(read.has_rows.size()),
               [&](int32_t id) { kept.push_back(id); });
  }
  std::vector<const StateWord*> slots(kept.size());
  for (size_t i = 0; i < kept.size(); ++i)
    slots[i] = read.slots.data() + static_cast<int64_t>(kept[i]) * stride;
  ARROW_ASSIGN_OR_RAISE(auto batch, BuildBatch(kept, slots, read.filter.since_us,
                                               read.filter.until_us, /*closed=*/false));
  return std::make_optional(std::move(batch));
}

}  // namespace hyprstream::window
