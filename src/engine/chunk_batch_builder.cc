#include "engine/chunk_batch_builder.h"

#include <arrow/array/data.h>
#include <arrow/type.h>
#include <arrow/util/bit_util.h>
#include <arrow/util/bitmap_generate.h>
#include <arrow/util/bitmap_ops.h>
#include <arrow/util/key_value_metadata.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

namespace hyprstream::engine {

namespace {

constexpr int64_t kInlinedLength = 12;  // duckdb_string_t holds strings up to this long inline

// The layout DuckDB's Arrow converter gives `type` when it produces `arrow_type` (checked, so a
// session's SET arrow_* options that change the output fall back to DuckDB's converter).
std::optional<std::pair<ChunkBatchBuilder::Layout, int>> LayoutOf(duckdb_type type,
                                                                  const arrow::DataType& arrow) {
  using L = ChunkBatchBuilder::Layout;
  auto fixed = [&](arrow::Type::type id) -> std::optional<std::pair<L, int>> {
    if (arrow.id() != id) return std::nullopt;
    return std::pair{L::kFixedWidth, arrow.byte_width()};
  };
  auto timestamp = [&](arrow::TimeUnit::type unit) -> std::optional<std::pair<L, int>> {
    if (arrow.id() != arrow::Type::TIMESTAMP ||
        static_cast<const arrow::TimestampType&>(arrow).unit() != unit) {
      return std::nullopt;
    }
    return std::pair{L::kFixedWidth, 8};
  };
  auto string = [&](arrow::Type::type narrow,
                    arrow::Type::type large) -> std::optional<std::pair<L, int>> {
    if (arrow.id() == narrow) return std::pair{L::kString32, 0};
    if (arrow.id() == large) return std::pair{L::kString64, 0};
    return std::nullopt;
  };
  switch (type) {
    case DUCKDB_TYPE_BOOLEAN:
      if (arrow.id() != arrow::Type::BOOL) return std::nullopt;
      return std::pair{L::kBoolean, 0};
    case DUCKDB_TYPE_TINYINT:
      return fixed(arrow::Type::INT8);
    case DUCKDB_TYPE_SMALLINT:
      return fixed(arrow::Type::INT16);
    case DUCKDB_TYPE_INTEGER:
      return fixed(arrow::Type::INT32);
    case DUCKDB_TYPE_BIGINT:
      return fixed(arrow::Type::INT64);
    case DUCKDB_TYPE_UTINYINT:
      return fixed(arrow::Type::UINT8);
    case DUCKDB_TYPE_USMALLINT:
      return fixed(arrow::Type::UINT16);
    case DUCKDB_TYPE_UINTEGER:
      return fixed(arrow::Type::UINT32);
    case DUCKDB_TYPE_UBIGINT:
      return fixed(arrow::Type::UINT64);
    case DUCKDB_TYPE_FLOAT:
      return fixed(arrow::Type::FLOAT);
    case DUCKDB_TYPE_DOUBLE:
      return fixed(arrow::Type::DOUBLE);
    case DUCKDB_TYPE_DATE:
      return fixed(arrow::Type::DATE32);
    case DUCKDB_TYPE_TIME:
      if (arrow.id() != arrow::Type::TIME64 ||
          static_cast<const arrow::Time64Type&>(arrow).unit() != arrow::TimeUnit::MICRO) {
        return std::nullopt;
      }
      return std::pair{L::kFixedWidth, 8};
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      return timestamp(arrow::TimeUnit::MICRO);
    case DUCKDB_TYPE_TIMESTAMP_S:
      return timestamp(arrow::TimeUnit::SECOND);
    case DUCKDB_TYPE_TIMESTAMP_MS:
      return timestamp(arrow::TimeUnit::MILLI);
    case DUCKDB_TYPE_TIMESTAMP_NS:
      return timestamp(arrow::TimeUnit::NANO);
    case DUCKDB_TYPE_VARCHAR:
      return string(arrow::Type::STRING, arrow::Type::LARGE_STRING);
    case DUCKDB_TYPE_BLOB:
      return string(arrow::Type::BINARY, arrow::Type::LARGE_BINARY);
    default:
      return std::nullopt;
  }
}

bool IsValid(const uint64_t* validity, int64_t row) {
  return validity == nullptr || ((validity[row >> 6] >> (row & 63)) & 1) != 0;
}

bool AllValid(const uint64_t* validity, int64_t rows) {
  if (validity == nullptr) return true;
  const int64_t words = rows >> 6;
  for (int64_t w = 0; w < words; ++w) {
    if (validity[w] != ~uint64_t{0}) return false;
  }
  const int64_t rest = rows & 63;
  if (rest == 0) return true;
  const uint64_t mask = (uint64_t{1} << rest) - 1;
  return (validity[words] & mask) == mask;
}

int64_t StringBytes(const duckdb_string_t* strings, const uint64_t* validity, int64_t rows) {
  int64_t total = 0;
  if (validity == nullptr) {
    for (int64_t i = 0; i < rows; ++i) total += strings[i].value.inlined.length;
  } else {
    for (int64_t i = 0; i < rows; ++i) {
      if (IsValid(validity, i)) total += strings[i].value.inlined.length;
    }
  }
  return total;
}

arrow::Status Grow(std::shared_ptr<arrow::ResizableBuffer>* buffer, int64_t bytes) {
  if (*buffer == nullptr) {
    ARROW_ASSIGN_OR_RAISE(*buffer, arrow::AllocateResizableBuffer(0));
  }
  if (bytes > (*buffer)->capacity()) ARROW_RETURN_NOT_OK((*buffer)->Reserve(bytes));
  return arrow::Status::OK();
}

int OffsetWidth(ChunkBatchBuilder::Layout layout) {
  return layout == ChunkBatchBuilder::Layout::kString32 ? 4 : 8;
}

bool IsString(ChunkBatchBuilder::Layout layout) {
  return layout == ChunkBatchBuilder::Layout::kString32 ||
         layout == ChunkBatchBuilder::Layout::kString64;
}

}  // namespace

std::unique_ptr<ChunkBatchBuilder> ChunkBatchBuilder::Make(std::shared_ptr<arrow::Schema> schema,
                                                           const std::vector<duckdb_type>& types,
                                                           int64_t expected_rows) {
  if (schema == nullptr || static_cast<size_t>(schema->num_fields()) != types.size()) {
    return nullptr;
  }
  std::vector<Column> columns;
  for (int i = 0; i < schema->num_fields(); ++i) {
    const auto& field = *schema->field(i);
    // Extension types (a session's arrow_lossless_conversion) stay with DuckDB's converter.
    if (field.type()->id() == arrow::Type::EXTENSION ||
        (field.metadata() != nullptr && field.metadata()->Contains("ARROW:extension:name"))) {
      return nullptr;
    }
    auto layout = LayoutOf(types[i], *field.type());
    if (!layout) return nullptr;
    Column column;
    column.layout = layout->first;
    column.byte_width = layout->second;
    columns.push_back(std::move(column));
  }
  return std::unique_ptr<ChunkBatchBuilder>(new ChunkBatchBuilder(
      std::move(schema), std::move(columns), std::max<int64_t>(1, expected_rows)));
}

int64_t ChunkBatchBuilder::num_bytes() const {
  int64_t bytes = 0;
  for (const auto& column : columns_) {
    switch (column.layout) {
      case Layout::kBoolean:
        bytes += arrow::bit_util::BytesForBits(length_);
        break;
      case Layout::kFixedWidth:
        bytes += length_ * column.byte_width;
        break;
      case Layout::kString32:
      case Layout::kString64:
        bytes += (length_ + 1) * OffsetWidth(column.layout) + column.data_size;
        break;
    }
    if (column.validity != nullptr) bytes += arrow::bit_util::BytesForBits(length_);
  }
  return bytes;
}

arrow::Status ChunkBatchBuilder::Reserve(int64_t rows) {
  if (rows <= capacity_) return arrow::Status::OK();
  // The first chunk gets exactly its rows (most results are one chunk); a second one means a
  // large result, so room for a full batch at once rather than growing chunk by chunk.
  int64_t capacity = rows;
  if (length_ > 0) capacity = std::max({rows, expected_rows_, 2 * capacity_});
  for (auto& column : columns_) {
    switch (column.layout) {
      case Layout::kBoolean:
        ARROW_RETURN_NOT_OK(Grow(&column.values, arrow::bit_util::BytesForBits(capacity)));
        break;
      case Layout::kFixedWidth:
        ARROW_RETURN_NOT_OK(Grow(&column.values, capacity * column.byte_width));
        break;
      case Layout::kString32:
      case Layout::kString64: {
        const bool fresh = column.values == nullptr;
        ARROW_RETURN_NOT_OK(Grow(&column.values, (capacity + 1) * OffsetWidth(column.layout)));
        if (fresh) std::memset(column.values->mutable_data(), 0, OffsetWidth(column.layout));
        if (length_ > 0) {  // as many bytes per row as so far, plus a little
          const int64_t expected = column.data_size / length_ * capacity + capacity;
          ARROW_RETURN_NOT_OK(Grow(&column.data, std::min<int64_t>(expected, 64 << 20)));
        }
        break;
      }
    }
    if (column.validity != nullptr) {
      ARROW_RETURN_NOT_OK(Grow(&column.validity, arrow::bit_util::BytesForBits(capacity)));
    }
  }
  capacity_ = capacity;
  return arrow::Status::OK();
}

arrow::Status ChunkBatchBuilder::AppendValidity(Column& column, const uint64_t* validity,
                                                int64_t rows) {
  if (AllValid(validity, rows)) {
    if (column.validity != nullptr) {
      arrow::bit_util::SetBitsTo(column.validity->mutable_data(), length_, rows, true);
    }
    return arrow::Status::OK();
  }
  if (column.validity == nullptr) {  // the first null: every row before it was valid
    ARROW_RETURN_NOT_OK(Grow(&column.validity, arrow::bit_util::BytesForBits(capacity_)));
    arrow::bit_util::SetBitsTo(column.validity->mutable_data(), 0, length_, true);
  }
  arrow::internal::CopyBitmap(reinterpret_cast<const uint8_t*>(validity), 0, rows,
                              column.validity->mutable_data(), length_);
  return arrow::Status::OK();
}

template <typename Offset>
void ChunkBatchBuilder::AppendStrings(Column& column, const duckdb_string_t* strings,
                                      const uint64_t* validity, int64_t rows) {
  auto* offsets = reinterpret_cast<Offset*>(column.values->mutable_data()) + length_;
  uint8_t* data = column.data == nullptr ? nullptr : column.data->mutable_data();
  Offset end = offsets[0];
  for (int64_t i = 0; i < rows; ++i) {
    if (IsValid(validity, i)) {
      const uint32_t length = strings[i].value.inlined.length;
      if (length <= kInlinedLength) {
        // A fixed-size copy (two moves, no call): the buffer keeps kInlinedLength spare bytes.
        std::memcpy(data + end, strings[i].value.inlined.inlined, kInlinedLength);
      } else {
        std::memcpy(data + end, strings[i].value.pointer.ptr, length);
      }
      end += static_cast<Offset>(length);
    }
    offsets[i + 1] = end;
  }
  column.data_size = end;
}

arrow::Result<bool> ChunkBatchBuilder::Append(duckdb_data_chunk chunk) {
  const int64_t rows = static_cast<int64_t>(duckdb_data_chunk_get_size(chunk));
  if (rows == 0) return true;
  // Strings first: a chunk that does not fit is refused before any column takes its rows.
  std::vector<int64_t> string_bytes(columns_.size(), 0);
  for (size_t c = 0; c < columns_.size(); ++c) {
    Column& column = columns_[c];
    if (!IsString(column.layout)) continue;
    duckdb_vector vector = duckdb_data_chunk_get_vector(chunk, c);
    string_bytes[c] =
        StringBytes(static_cast<const duckdb_string_t*>(duckdb_vector_get_data(vector)),
                    duckdb_vector_get_validity(vector), rows);
    if (column.layout == Layout::kString32 &&
        column.data_size + string_bytes[c] > std::numeric_limits<int32_t>::max()) {
      if (length_ > 0) return false;
      return arrow::Status::Invalid("column ", schema_->field(static_cast<int>(c))->name(), ": ",
                                    string_bytes[c],
                                    " bytes of strings in one chunk exceed a utf8/binary "
                                    "array's 2 GiB; SET arrow_large_buffer_size = true");
    }
  }
  ARROW_RETURN_NOT_OK(Reserve(length_ + rows));
  for (size_t c = 0; c < columns_.size(); ++c) {
    Column& column = columns_[c];
    duckdb_vector vector = duckdb_data_chunk_get_vector(chunk, c);
    const void* values = duckdb_vector_get_data(vector);
    const uint64_t* validity = duckdb_vector_get_validity(vector);
    ARROW_RETURN_NOT_OK(AppendValidity(column, validity, rows));
    switch (column.layout) {
      case Layout::kBoolean: {
        // Read as bytes: DuckDB leaves any byte in the slot of a NULL, which is no bool.
        const auto* bytes = static_cast<const uint8_t*>(values);
        int64_t i = 0;
        arrow::internal::GenerateBitsUnrolled(column.values->mutable_data(), length_, rows,
                                              [&] { return bytes[i++] != 0; });
        break;
      }
      case Layout::kFixedWidth:
        std::memcpy(column.values->mutable_data() + length_ * column.byte_width, values,
                    rows * column.byte_width);
        break;
      case Layout::kString32:
      case Layout::kString64: {
        const int64_t needed = column.data_size + string_bytes[c] + kInlinedLength;
        if (column.data == nullptr || needed > column.data->capacity()) {
          const int64_t current = column.data == nullptr ? 0 : column.data->capacity();
          ARROW_RETURN_NOT_OK(Grow(&column.data, std::max(needed, 2 * current)));
        }
        const auto* strings = static_cast<const duckdb_string_t*>(values);
        if (column.layout == Layout::kString32) {
          AppendStrings<int32_t>(column, strings, validity, rows);
        } else {
          AppendStrings<int64_t>(column, strings, validity, rows);
        }
        break;
      }
    }
  }
  length_ += rows;
  return true;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> ChunkBatchBuilder::Finish() {
  if (length_ == 0) return nullptr;
  std::vector<std::shared_ptr<arrow::ArrayData>> arrays;
  arrays.reserve(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) {
    Column& column = columns_[c];
    int64_t null_count = 0;
    if (column.validity != nullptr) {
      ARROW_RETURN_NOT_OK(column.validity->Resize(arrow::bit_util::BytesForBits(length_),
                                                  /*shrink_to_fit=*/false));
      null_count = length_ - arrow::internal::CountSetBits(column.validity->data(), 0, length_);
    }
    std::vector<std::shared_ptr<arrow::Buffer>> buffers{column.validity};
    switch (column.layout) {
      case Layout::kBoolean:
        ARROW_RETURN_NOT_OK(column.values->Resize(arrow::bit_util::BytesForBits(length_), false));
        buffers.push_back(column.values);
        break;
      case Layout::kFixedWidth:
        ARROW_RETURN_NOT_OK(column.values->Resize(length_ * column.byte_width, false));
        buffers.push_back(column.values);
        break;
      case Layout::kString32:
      case Layout::kString64:
        ARROW_RETURN_NOT_OK(
            column.values->Resize((length_ + 1) * OffsetWidth(column.layout), false));
        ARROW_RETURN_NOT_OK(Grow(&column.data, 0));  // all strings empty: still a buffer
        ARROW_RETURN_NOT_OK(column.data->Resize(column.data_size, false));
        buffers.push_back(column.values);
        buffers.push_back(column.data);
        break;
    }
    arrays.push_back(arrow::ArrayData::Make(schema_->field(static_cast<int>(c))->type(), length_,
                                            std::move(buffers), null_count));
    column.validity.reset();
    column.values.reset();
    column.data.reset();
    column.data_size = 0;
  }
  auto batch = arrow::RecordBatch::Make(schema_, length_, std::move(arrays));
  length_ = 0;
  capacity_ = 0;
  return batch;
}

}  // namespace hyprstream::engine
