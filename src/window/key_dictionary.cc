#include "window/key_dictionary.h"

#include <arrow/buffer.h>
#include <arrow/type.h>
#include <arrow/util/bit_util.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>

namespace hyprstream::window {
namespace {

using Kind = KeyDictionary::Kind;

// Rows ahead: the slot is prefetched 2x this far ahead, the candidate key record 1x.
constexpr int64_t kPrefetchDistance = 12;
// The hash table never shrinks below this many slots; it shrinks to a quarter load once the
// load falls under 1/8 (and grows at 1/2), so growing and shrinking never alternate.
constexpr size_t kMinSlots = 1024;
// A column's key bytes are compacted once the retired keys' bytes exceed both the live
// keys' bytes and this floor: compaction copies the live bytes, so its cost is paid for by
// the bytes retired since the last one.
constexpr int64_t kMinDeadBytes = 64 * 1024;
// Per-id arrays keep at least this capacity when the id space shrinks.
constexpr size_t kMinIdCapacity = 1024;
constexpr uint64_t kNullHash = 0x6a09e667f3bcc909ULL;

inline uint64_t Mix64(uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint64_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Multiply-xorshift over 8-byte words; short tails read with overlapping loads.
inline uint64_t HashBytes(const uint8_t* p, uint64_t n) {
  uint64_t h = 0x243f6a8885a308d3ULL ^ (n * 0x9e3779b97f4a7c15ULL);
  uint64_t rest = n;
  while (rest > 8) {
    h = (h ^ Load64(p)) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 29;
    p += 8;
    rest -= 8;
  }
  uint64_t w = 0;
  if (rest >= 4) {
    w = (Load32(p) << 32) | Load32(p + rest - 4);
  } else if (rest > 0) {
    w = (uint64_t{p[0]} << 16) | (uint64_t{p[rest >> 1]} << 8) | p[rest - 1];
  }
  return Mix64(h ^ w);
}

// The first n (<= 12) bytes of a and b are equal; never reads past n bytes of either.
inline bool SameHead(const uint8_t* a, const uint8_t* b, size_t n) {
  if (n >= 8) {
    uint64_t a0, b0;
    std::memcpy(&a0, a, 8);
    std::memcpy(&b0, b, 8);
    return a0 == b0 && Load32(a + n - 4) == Load32(b + n - 4);
  }
  if (n >= 4) return Load32(a) == Load32(b) && Load32(a + n - 4) == Load32(b + n - 4);
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// memcpy for the short keys that dominate, without a library call: 8-byte moves; may write
// up to 7 bytes past dst + n (the caller leaves room), never reads past src + n.
inline void CopyShort(uint8_t* dst, const uint8_t* src, int64_t n) {
  if (n > 16) {
    std::memcpy(dst, src, n);
  } else if (n >= 8) {
    uint64_t a, b;
    std::memcpy(&a, src, 8);
    std::memcpy(&b, src + n - 8, 8);
    std::memcpy(dst, &a, 8);
    std::memcpy(dst + n - 8, &b, 8);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

inline uint64_t Combine(uint64_t seed, uint64_t h) {
  return Mix64(seed * 0x9e3779b97f4a7c15ULL + h);
}

bool IsStringType(arrow::Type::type id) {
  return id == arrow::Type::STRING || id == arrow::Type::LARGE_STRING;
}
bool IsBinaryType(arrow::Type::type id) {
  return id == arrow::Type::BINARY || id == arrow::Type::LARGE_BINARY;
}
bool IsBytesType(arrow::Type::type id) { return IsStringType(id) || IsBinaryType(id); }

const arrow::DataType& ValueType(const arrow::DataType& type) {
  if (type.id() == arrow::Type::DICTIONARY) {
    return *static_cast<const arrow::DictionaryType&>(type).value_type();
  }
  return type;
}

// Widens any integer array to int64 (unsigned 64-bit keeps its bits).
template <typename T>
void Widen(const arrow::ArrayData& data, int64_t* out) {
  const T* values = data.GetValues<T>(1);
  for (int64_t i = 0; i < data.length; ++i) out[i] = static_cast<int64_t>(values[i]);
}

arrow::Status WidenIntegers(const arrow::ArrayData& data, int64_t* out) {
  switch (data.type->id()) {
    case arrow::Type::INT8:
      Widen<int8_t>(data, out);
      break;
    case arrow::Type::INT16:
      Widen<int16_t>(data, out);
      break;
    case arrow::Type::INT32:
      Widen<int32_t>(data, out);
      break;
    case arrow::Type::INT64:
      Widen<int64_t>(data, out);
      break;
    case arrow::Type::UINT8:
      Widen<uint8_t>(data, out);
      break;
    case arrow::Type::UINT16:
      Widen<uint16_t>(data, out);
      break;
    case arrow::Type::UINT32:
      Widen<uint32_t>(data, out);
      break;
    case arrow::Type::UINT64:
      Widen<uint64_t>(data, out);
      break;
    default:
      return arrow::Status::TypeError("not an integer type: ", data.type->ToString());
  }
  return arrow::Status::OK();
}

template <typename T>
void Narrow(const int64_t* in, const int32_t* ids, int64_t n, uint8_t* out_bytes) {
  T* out = reinterpret_cast<T*>(out_bytes);
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(in[ids[i]]);
}

}  // namespace

struct KeyDictionary::BoundColumn {
  Kind kind = Kind::kInt;
  const uint8_t* validity = nullptr;  // row validity (the indices' for a dictionary column)
  int64_t validity_offset = 0;
  const int64_t* ints = nullptr;  // kInt, by row
  // kBytes: entry e is data[offsets[e], offsets[e + 1]); e is the row or dict_index[row].
  const int32_t* offsets32 = nullptr;
  const int64_t* offsets64 = nullptr;
  const uint8_t* data = nullptr;
  const int32_t* dict_index = nullptr;
  const uint8_t* entry_validity = nullptr;  // the dictionary values' validity
  int64_t entry_validity_offset = 0;
  int64_t entry_count = 0;

  bool IsValid(int64_t row) const {
    if (validity != nullptr && !arrow::bit_util::GetBit(validity, validity_offset + row)) {
      return false;
    }
    if (entry_validity != nullptr) {
      return arrow::bit_util::GetBit(entry_validity, entry_validity_offset + dict_index[row]);
    }
    return true;
  }
  std::string_view Entry(int64_t e) const {
    int64_t begin = offsets32 != nullptr ? offsets32[e] : offsets64[e];
    int64_t end = offsets32 != nullptr ? offsets32[e + 1] : offsets64[e + 1];
    return {reinterpret_cast<const char*>(data) + begin, static_cast<size_t>(end - begin)};
  }
  std::string_view Bytes(int64_t row) const {
    return Entry(dict_index != nullptr ? dict_index[row] : row);
  }
};

KeyDictionary::KeyDictionary(std::vector<std::shared_ptr<arrow::Field>> fields)
    : fields_(std::move(fields)) {}

arrow::Result<std::unique_ptr<KeyDictionary>> KeyDictionary::Make(
    std::vector<std::shared_ptr<arrow::Field>> fields) {
  std::unique_ptr<KeyDictionary> dict(new KeyDictionary(std::move(fields)));
  for (const auto& field : dict->fields_) {
    const arrow::DataType& type = ValueType(*field->type());
    StoredColumn column;
    if (arrow::is_integer(type.id()) && field->type()->id() != arrow::Type::DICTIONARY) {
      column.kind = Kind::kInt;
    } else if (IsBytesType(type.id())) {
      column.kind = Kind::kBytes;
    } else {
      return arrow::Status::Invalid(
          "key column '", field->name(), "' is ", field->type()->ToString(),
          "; key columns must be integers, utf8/large_utf8, binary/large_binary or a dictionary "
          "of strings — cast it to one of those");
    }
    column.output_type = type.GetSharedPtr();
    dict->output_fields_.push_back(arrow::field(field->name(), column.output_type));
    dict->columns_.push_back(std::move(column));
  }
  dict->slots_.assign(kMinSlots, Slot{0, -1});
  dict->mask_ = dict->slots_.size() - 1;
  return dict;
}

arrow::Status KeyDictionary::CheckColumnType(size_t index, const arrow::DataType& type) const {
  const arrow::Field& declared = *fields_[index];
  const StoredColumn& column = columns_[index];
  bool ok;
  if (column.kind == Kind::kInt) {
    ok = type.id() == column.output_type->id();
  } else {
    const arrow::DataType& value_type = ValueType(type);
    bool declared_string = IsStringType(column.output_type->id());
    ok = declared_string ? IsStringType(value_type.id()) : IsBinaryType(value_type.id());
    if (type.id() == arrow::Type::DICTIONARY &&
        !arrow::is_integer(static_cast<const arrow::DictionaryType&>(type).index_type()->id())) {
      ok = false;
    }
  }
  if (ok) return arrow::Status::OK();
  return arrow::Status::Invalid("key column '", declared.name(), "' is ", type.ToString(),
                                " in this batch but the window store was created for ",
                                declared.type()->ToString(),
                                "; cast the batch to the declared type (integer keys must match "
                                "exactly; string keys may be utf8, large_utf8 or a dictionary)");
}

arrow::Status KeyDictionary::Bind(const std::vector<const arrow::Array*>& columns, int64_t length,
                                  std::vector<BoundColumn>* bound,
                                  std::vector<int64_t>* int_scratch,
                                  std::vector<int32_t>* index_scratch) const {
  if (columns.size() != columns_.size()) {
    return arrow::Status::Invalid("expected ", columns_.size(), " key columns, got ",
                                  columns.size());
  }
  bound->assign(columns.size(), BoundColumn{});
  // Scratch is sized up front so pointers into it stay valid.
  size_t int_columns = 0, dict_columns = 0;
  for (const arrow::Array* array : columns) {
    int_columns += arrow::is_integer(array->type_id());
    dict_columns += array->type_id() == arrow::Type::DICTIONARY;
  }
  if (int_scratch->size() < int_columns * static_cast<size_t>(length)) {
    int_scratch->resize(int_columns * length);
  }
  if (index_scratch->size() < dict_columns * static_cast<size_t>(length)) {
    index_scratch->resize(dict_columns * length);
  }
  size_t next_int = 0, next_dict = 0;
  for (size_t c = 0; c < columns.size(); ++c) {
    const arrow::Array& array = *columns[c];
    ARROW_RETURN_NOT_OK(CheckColumnType(c, *array.type()));
    if (array.length() != length) {
      return arrow::Status::Invalid("key column '", fields_[c]->name(), "' has ", array.length(),
                                    " rows, expected ", length);
    }
    const arrow::ArrayData& data = *array.data();
    BoundColumn& b = (*bound)[c];
    b.kind = columns_[c].kind;
    if (array.null_count() > 0) {
      b.validity = data.buffers[0]->data();
      b.validity_offset = data.offset;
    }
    if (b.kind == Kind::kInt) {
      if (array.type_id() == arrow::Type::INT64 || array.type_id() == arrow::Type::UINT64) {
        b.ints = data.GetValues<int64_t>(1);
      } else {
        int64_t* out = int_scratch->data() + next_int++ * length;
        ARROW_RETURN_NOT_OK(WidenIntegers(data, out));
        b.ints = out;
      }
      continue;
    }
    const arrow::ArrayData* strings = &data;
    if (array.type_id() == arrow::Type::DICTIONARY) {
      strings = data.dictionary.get();
      std::vector<int64_t> indices(length);
      auto index_data = data.Copy();
      index_data->type = static_cast<const arrow::DictionaryType&>(*array.type()).index_type();
      index_data->dictionary = nullptr;
      ARROW_RETURN_NOT_OK(WidenIntegers(*index_data, indices.data()));
      int32_t* out = index_scratch->data() + next_dict++ * length;
      for (int64_t i = 0; i < length; ++i) {
        bool valid =
            b.validity == nullptr || arrow::bit_util::GetBit(b.validity, b.validity_offset + i);
        out[i] = valid ? static_cast<int32_t>(indices[i]) : 0;
        if (valid && (indices[i] < 0 || indices[i] >= strings->length)) {
          return arrow::Status::Invalid("key column '", fields_[c]->name(), "' row ", i,
                                        ": dictionary index ", indices[i], " out of range");
        }
      }
      b.dict_index = out;
      b.entry_count = strings->length;
      if (strings->GetNullCount() > 0) {
        b.entry_validity = strings->buffers[0]->data();
        b.entry_validity_offset = strings->offset;
      }
    } else {
      b.entry_count = length;
    }
    arrow::Type::type value_id = strings->type->id();
    if (value_id == arrow::Type::STRING || value_id == arrow::Type::BINARY) {
      b.offsets32 = strings->GetValues<int32_t>(1);
    } else {
      b.offsets64 = strings->GetValues<int64_t>(1);
    }
    b.data = strings->buffers[2] ? strings->buffers[2]->data() : nullptr;
    static const uint8_t kEmpty = 0;
    if (b.data == nullptr) b.data = &kEmpty;
  }
  return arrow::Status::OK();
}

void KeyDictionary::HashRows(const std::vector<BoundColumn>& bound, int64_t length,
                             uint64_t* hashes) const {
  for (size_t c = 0; c < bound.size(); ++c) {
    const BoundColumn& b = bound[c];
    const bool first = c == 0;
    auto store = [&](int64_t i, uint64_t h) { hashes[i] = first ? h : Combine(hashes[i], h); };
    if (b.kind == Kind::kInt) {
      if (b.validity == nullptr) {
        for (int64_t i = 0; i < length; ++i) store(i, Mix64(static_cast<uint64_t>(b.ints[i])));
      } else {
        for (int64_t i = 0; i < length; ++i) {
          store(i, b.IsValid(i) ? Mix64(static_cast<uint64_t>(b.ints[i])) : kNullHash);
        }
      }
      continue;
    }
    if (b.dict_index != nullptr) {
      // Hash each dictionary entry once.
      std::vector<uint64_t> entry_hashes(b.entry_count);
      for (int64_t e = 0; e < b.entry_count; ++e) {
        std::string_view s = b.Entry(e);
        entry_hashes[e] = HashBytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
      }
      for (int64_t i = 0; i < length; ++i) {
        store(i, b.IsValid(i) ? entry_hashes[b.dict_index[i]] : kNullHash);
      }
      continue;
    }
    if (b.offsets32 != nullptr && b.validity == nullptr) {
      for (int64_t i = 0; i < length; ++i) {
        int32_t begin = b.offsets32[i];
        store(i, HashBytes(b.data + begin, static_cast<uint64_t>(b.offsets32[i + 1] - begin)));
      }
      continue;
    }
    for (int64_t i = 0; i < length; ++i) {
      if (!b.IsValid(i)) {
        store(i, kNullHash);
        continue;
      }
      std::string_view s = b.Bytes(i);
      store(i, HashBytes(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
    }
  }
}

bool KeyDictionary::Equal(const std::vector<BoundColumn>& bound, int64_t row, int32_t id) const {
  for (size_t c = 0; c < bound.size(); ++c) {
    const BoundColumn& b = bound[c];
    const StoredColumn& s = columns_[c];
    const bool valid = b.IsValid(row);
    if (s.has_nulls || !valid) {
      if (valid != (s.valid[id] != 0)) return false;
      if (!valid) continue;
    }
    if (b.kind == Kind::kInt) {
      if (b.ints[row] != s.ints[id]) return false;
      continue;
    }
    std::string_view value = b.Bytes(row);
    const InlineKey& key = s.inline_keys[id];
    if (value.size() != key.length) return false;
    const auto* v = reinterpret_cast<const uint8_t*>(value.data());
    const size_t head = std::min<size_t>(value.size(), kInlineBytes);
    if (!SameHead(v, key.prefix, head)) return false;
    if (value.size() > kInlineBytes &&
        std::memcmp(v + kInlineBytes, s.bytes.data() + s.offsets[id] + kInlineBytes,
                    value.size() - kInlineBytes) != 0) {
      return false;
    }
  }
  return true;
}

void KeyDictionary::PrefetchKey(int32_t id) const {
  for (const StoredColumn& s : columns_) {
    if (s.kind == Kind::kInt) {
      __builtin_prefetch(&s.ints[id]);
    } else {
      __builtin_prefetch(&s.inline_keys[id]);
    }
  }
}

int32_t KeyDictionary::TakeId() {
  int32_t id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
  } else {
    id = id_limit_++;
    for (StoredColumn& s : columns_) {
      s.valid.push_back(0);
      if (s.kind == Kind::kInt) {
        s.ints.push_back(0);
      } else {
        s.inline_keys.push_back(InlineKey{0, {}});
        s.offsets.push_back(0);
      }
    }
    hashes_.push_back(0);
    if (static_cast<size_t>(id / 64) >= in_use_.size()) in_use_.push_back(0);
  }
  in_use_[id / 64] |= uint64_t{1} << (id % 64);
  ++size_;
  return id;
}

int32_t KeyDictionary::Add(const std::vector<BoundColumn>& bound, int64_t row, uint64_t hash) {
  const int32_t id = TakeId();
  for (size_t c = 0; c < bound.size(); ++c) {
    const BoundColumn& b = bound[c];
    StoredColumn& s = columns_[c];
    bool valid = b.IsValid(row);
    s.valid[id] = valid ? 1 : 0;
    s.has_nulls |= !valid;
    if (b.kind == Kind::kInt) {
      s.ints[id] = valid ? b.ints[row] : 0;
    } else {
      InlineKey key{0, {}};
      s.offsets[id] = static_cast<int64_t>(s.bytes.size());
      if (valid) {
        std::string_view value = b.Bytes(row);
        s.bytes.insert(s.bytes.end(), value.begin(), value.end());
        s.live_bytes += static_cast<int64_t>(value.size());
        key.length = static_cast<uint32_t>(value.size());
        std::memcpy(key.prefix, value.data(), std::min<size_t>(value.size(), kInlineBytes));
      }
      s.inline_keys[id] = key;
    }
  }
  hashes_[id] = hash;
  return id;
}

void KeyDictionary::Rehash(size_t slot_count) {
  std::vector<Slot> slots(slot_count, Slot{0, -1});
  const uint64_t mask = slot_count - 1;
  for (int32_t id = 0; id < id_limit_; ++id) {  // by id: hashes_ is read in order
    if (((in_use_[id / 64] >> (id % 64)) & 1) == 0) continue;
    uint64_t pos = hashes_[id] & mask;
    while (slots[pos].id >= 0) pos = (pos + 1) & mask;
    slots[pos] = Slot{static_cast<uint32_t>(hashes_[id] >> 32), id};
  }
  slots_ = std::move(slots);
  mask_ = mask;
}

void KeyDictionary::EraseSlot(int32_t id) {
  uint64_t hole = hashes_[id] & mask_;
  while (slots_[hole].id != id) hole = (hole + 1) & mask_;
  // Backward-shift deletion: walk the rest of the probe chain and move each entry that may
  // live at the hole (its home slot is not between the hole and where it sits) into it.
  for (uint64_t next = (hole + 1) & mask_; slots_[next].id >= 0; next = (next + 1) & mask_) {
    const uint64_t home = hashes_[slots_[next].id] & mask_;
    if (((next - home) & mask_) >= ((next - hole) & mask_)) {
      slots_[hole] = slots_[next];
      hole = next;
    }
  }
  slots_[hole] = Slot{0, -1};
}

void KeyDictionary::Retire(const std::vector<int32_t>& ids) {
  if (ids.empty()) return;
  for (int32_t id : ids) {
    if (!columns_.empty()) EraseSlot(id);
    in_use_[id / 64] &= ~(uint64_t{1} << (id % 64));
    for (StoredColumn& s : columns_) {
      s.valid[id] = 0;
      if (s.kind == Kind::kInt) {
        s.ints[id] = 0;
      } else {
        s.live_bytes -= s.inline_keys[id].length;
        s.inline_keys[id] = InlineKey{0, {}};
        s.offsets[id] = 0;
      }
    }
    hashes_[id] = 0;
  }
  size_ -= static_cast<int32_t>(ids.size());
  // Free ids stay sorted descending so Intern takes the lowest: merge the newly freed.
  const size_t old_free = free_ids_.size();
  free_ids_.insert(free_ids_.end(), ids.rbegin(), ids.rend());
  std::inplace_merge(free_ids_.begin(), free_ids_.begin() + static_cast<ptrdiff_t>(old_free),
                     free_ids_.end(), std::greater<int32_t>());
  ShrinkIdSpace();
  if (!columns_.empty() && slots_.size() > kMinSlots &&
      static_cast<uint64_t>(size_) * 8 < slots_.size()) {
    size_t slot_count = kMinSlots;
    while (slot_count < static_cast<size_t>(size_) * 4) slot_count *= 2;
    Rehash(slot_count);
  }
  for (StoredColumn& s : columns_) {
    const int64_t dead = static_cast<int64_t>(s.bytes.size()) - s.live_bytes;
    if (s.kind == Kind::kBytes && dead > std::max(s.live_bytes, kMinDeadBytes)) CompactBytes(s);
  }
}

void KeyDictionary::ShrinkIdSpace() {
  // Free ids at the top of the id space are dropped from it (free_ids_ is descending).
  size_t top = 0;
  while (top < free_ids_.size() && free_ids_[top] == id_limit_ - 1) {
    --id_limit_;
    ++top;
  }
  if (top == 0) return;
  free_ids_.erase(free_ids_.begin(), free_ids_.begin() + static_cast<ptrdiff_t>(top));
  const size_t limit = static_cast<size_t>(id_limit_);
  // Capacity is given back once at most a quarter of it is used, so a stream whose key
  // count swings does not reallocate every time.
  const bool shrink = hashes_.capacity() > 4 * std::max(limit, kMinIdCapacity);
  auto fit = [&](auto& v) {
    v.resize(limit);
    if (shrink) v.shrink_to_fit();
  };
  for (StoredColumn& s : columns_) {
    fit(s.valid);
    fit(s.ints);
    fit(s.inline_keys);
    fit(s.offsets);
  }
  fit(hashes_);
  in_use_.resize((limit + 63) / 64);
  if (shrink) {
    in_use_.shrink_to_fit();
    free_ids_.shrink_to_fit();
  }
}

void KeyDictionary::CompactBytes(StoredColumn& s) {
  std::vector<uint8_t> bytes;
  bytes.reserve(static_cast<size_t>(s.live_bytes + s.live_bytes / 2));
  for (int32_t id = 0; id < id_limit_; ++id) {
    const uint32_t length = s.inline_keys[id].length;
    if (length == 0) continue;  // free, null or empty: nothing stored
    const int64_t from = s.offsets[id];
    s.offsets[id] = static_cast<int64_t>(bytes.size());
    bytes.insert(bytes.end(), s.bytes.begin() + from, s.bytes.begin() + from + length);
  }
  s.bytes = std::move(bytes);
}

arrow::Status KeyDictionary::Intern(const std::vector<const arrow::Array*>& columns, int64_t length,
                                    int32_t* ids) {
  if (columns_.empty()) {
    if (length > 0 && size_ == 0) TakeId();  // the one key: id 0
    std::fill(ids, ids + length, 0);
    return arrow::Status::OK();
  }
  std::vector<BoundColumn> bound;
  ARROW_RETURN_NOT_OK(Bind(columns, length, &bound, &int_scratch_, &index_scratch_));
  if (hash_scratch_.size() < static_cast<size_t>(length)) hash_scratch_.resize(length);
  HashRows(bound, length, hash_scratch_.data());
  ProbeAny<true>(this, bound, hash_scratch_.data(), length, ids);
  return arrow::Status::OK();
}

template <bool kInsert, typename Self>
void KeyDictionary::ProbeAny(Self* self, const std::vector<BoundColumn>& bound,
                             const uint64_t* hashes, int64_t length, int32_t* ids) {
  const bool one = bound.size() == 1 && !self->columns_[0].has_nulls &&
                   bound[0].validity == nullptr && bound[0].entry_validity == nullptr;
  if (one && bound[0].kind == Kind::kBytes) {
    Probe<kInsert, Shape::kOneBytes>(self, bound, hashes, length, ids);
  } else if (one) {
    Probe<kInsert, Shape::kOneInt>(self, bound, hashes, length, ids);
  } else {
    Probe<kInsert, Shape::kGeneric>(self, bound, hashes, length, ids);
  }
}

template <bool kInsert, KeyDictionary::Shape kShape, typename Self>
void KeyDictionary::Probe(Self* self, const std::vector<BoundColumn>& bound, const uint64_t* hashes,
                          int64_t length, int32_t* ids) {
  const BoundColumn& b0 = bound[0];
  const StoredColumn& s0 = self->columns_[0];
  // Equal() inlined for one column where no row of the batch and no stored key is null.
  auto equal = [&](int64_t row, int32_t id) {
    if constexpr (kShape == Shape::kOneInt) {
      return b0.ints[row] == s0.ints[id];
    } else if constexpr (kShape == Shape::kOneBytes) {
      std::string_view value = b0.Bytes(row);
      const InlineKey& key = s0.inline_keys[id];
      if (value.size() != key.length) return false;
      const auto* v = reinterpret_cast<const uint8_t*>(value.data());
      if (!SameHead(v, key.prefix, std::min<size_t>(value.size(), kInlineBytes))) return false;
      return value.size() <= kInlineBytes ||
             std::memcmp(v + kInlineBytes, s0.bytes.data() + s0.offsets[id] + kInlineBytes,
                         value.size() - kInlineBytes) == 0;
    } else {
      return self->Equal(bound, row, id);
    }
  };
  // Two-stage software pipeline: row i + 2d's slot is fetched, row i + d's slot is read and
  // its candidate key record fetched, row i is compared — so the misses of ~2d rows overlap.
  const int64_t d = kPrefetchDistance;
  const auto& slots = self->slots_;
  for (int64_t i = 0; i < std::min(length, 2 * d); ++i) {
    __builtin_prefetch(&slots[hashes[i] & self->mask_]);
  }
  for (int64_t i = 0; i < length; ++i) {
    const uint64_t mask = self->mask_;  // Rehash() may change it
    if (i + 2 * d < length) __builtin_prefetch(&slots[hashes[i + 2 * d] & mask]);
    if (i + d < length) {
      const Slot ahead = slots[hashes[i + d] & mask];
      if (ahead.id >= 0) self->PrefetchKey(ahead.id);
    }
    const uint64_t h = hashes[i];
    const uint32_t tag = static_cast<uint32_t>(h >> 32);
    uint64_t pos = h & mask;
    while (true) {
      const Slot slot = slots[pos];
      if (slot.id < 0) {
        if constexpr (kInsert) {
          int32_t id = self->Add(bound, i, h);
          self->slots_[pos] = Slot{tag, id};
          ids[i] = id;
          if (static_cast<uint64_t>(self->size_) * 2 > self->slots_.size()) {
            self->Rehash(self->slots_.size() * 2);
          }
        } else {
          ids[i] = -1;
        }
        break;
      }
      if (slot.tag == tag && equal(i, slot.id)) {
        ids[i] = slot.id;
        break;
      }
      pos = (pos + 1) & mask;
    }
  }
}

arrow::Status KeyDictionary::Find(const std::vector<const arrow::Array*>& columns, int64_t length,
                                  int32_t* ids) const {
  if (columns_.empty()) {
    std::fill(ids, ids + length, size_ > 0 ? 0 : -1);
    return arrow::Status::OK();
  }
  std::vector<BoundColumn> bound;
  std::vector<int64_t> int_scratch;
  std::vector<int32_t> index_scratch;
  ARROW_RETURN_NOT_OK(Bind(columns, length, &bound, &int_scratch, &index_scratch));
  std::vector<uint64_t> hashes(length);
  HashRows(bound, length, hashes.data());
  ProbeAny<false>(this, bound, hashes.data(), length, ids);
  return arrow::Status::OK();
}

arrow::Result<std::vector<std::shared_ptr<arrow::Array>>> KeyDictionary::Gather(const int32_t* ids,
                                                                                int64_t n) const {
  std::vector<std::shared_ptr<arrow::Array>> out;
  for (size_t c = 0; c < columns_.size(); ++c) {
    const StoredColumn& s = columns_[c];
    int64_t null_count = 0;
    for (int64_t i = 0; i < n; ++i) null_count += s.valid[ids[i]] == 0;
    std::shared_ptr<arrow::Buffer> validity;
    if (null_count > 0) {
      ARROW_ASSIGN_OR_RAISE(validity, arrow::AllocateEmptyBitmap(n));
      uint8_t* bits = validity->mutable_data();
      for (int64_t i = 0; i < n; ++i) {
        if (s.valid[ids[i]] != 0) arrow::bit_util::SetBit(bits, i);
      }
    }
    const auto& type = s.output_type;
    if (s.kind == Kind::kInt) {
      int width = type->byte_width();
      ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> values,
                            arrow::AllocateBuffer(n * width));
      uint8_t* dst = values->mutable_data();
      switch (width) {
        case 1:
          Narrow<uint8_t>(s.ints.data(), ids, n, dst);
          break;
        case 2:
          Narrow<uint16_t>(s.ints.data(), ids, n, dst);
          break;
        case 4:
          Narrow<uint32_t>(s.ints.data(), ids, n, dst);
          break;
        default:
          Narrow<uint64_t>(s.ints.data(), ids, n, dst);
          break;
      }
      out.push_back(arrow::MakeArray(
          arrow::ArrayData::Make(type, n, {std::move(validity), std::move(values)}, null_count)));
      continue;
    }
    int64_t total = 0;
    for (int64_t i = 0; i < n; ++i) total += s.inline_keys[ids[i]].length;
    const bool large =
        type->id() == arrow::Type::LARGE_STRING || type->id() == arrow::Type::LARGE_BINARY;
    if (!large && total > std::numeric_limits<int32_t>::max()) {
      return arrow::Status::Invalid("key column '", fields_[c]->name(), "': ", total,
                                    " bytes of keys in one result exceed ", type->ToString(),
                                    "'s 2 GiB; declare the column as large_utf8/large_binary or "
                                    "ask for fewer keys");
    }
    ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> offsets,
                          arrow::AllocateBuffer((n + 1) * (large ? 8 : 4)));
    // +8: CopyShort may write up to 7 bytes past a key (overwritten by the next one).
    ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> bytes, arrow::AllocateBuffer(total + 8));
    uint8_t* data = bytes->mutable_data();
    int64_t pos = 0;
    auto* off32 = reinterpret_cast<int32_t*>(offsets->mutable_data());
    auto* off64 = reinterpret_cast<int64_t*>(offsets->mutable_data());
    for (int64_t i = 0; i < n; ++i) {
      if (large)
        off64[i] = pos;
      else
        off32[i] = static_cast<int32_t>(pos);
      int64_t begin = s.offsets[ids[i]];
      int64_t len = s.inline_keys[ids[i]].length;
      CopyShort(data + pos, s.bytes.data() + begin, len);
      pos += len;
    }
    if (large)
      off64[n] = pos;
    else
      off32[n] = static_cast<int32_t>(pos);
    out.push_back(arrow::MakeArray(arrow::ArrayData::Make(
        type, n, {std::move(validity), std::move(offsets), std::move(bytes)}, null_count)));
  }
  return out;
}

int64_t KeyDictionary::memory_bytes() const {
  int64_t bytes = static_cast<int64_t>(
      slots_.capacity() * sizeof(Slot) + hashes_.capacity() * sizeof(uint64_t) +
      in_use_.capacity() * sizeof(uint64_t) + free_ids_.capacity() * sizeof(int32_t));
  for (const auto& c : columns_) {
    bytes += static_cast<int64_t>(c.ints.capacity() * 8 + c.offsets.capacity() * 8 +
                                  c.inline_keys.capacity() * sizeof(InlineKey) +
                                  c.bytes.capacity() + c.valid.capacity());
  }
  return bytes;
}

}  // namespace hyprstream::window
