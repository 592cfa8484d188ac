// KeyDictionary: gives every distinct key (the values of one or more key columns) an int32 id
// so window state can live in flat arrays indexed by id. An id is its key's until the owner
// retires the key (Retire); retired ids are handed to new keys again, lowest first, so ids
// stay dense — below about the peak number of keys in use — however many keys come and go.
// Lookups are vectorised over a whole batch: one pass hashes every row (64-bit hash over the
// raw Arrow buffers), a second probes an open-addressing table with software prefetch. Key
// values are kept in flat per-column buffers and come back out as Arrow arrays (Gather).
// Not thread-safe: the owner serialises writers (Intern, Retire) against everything else;
// Find/Gather are const and may run concurrently.
#pragma once

#include <arrow/array.h>
#include <arrow/result.h>
#include <arrow/status.h>
#include <arrow/type_fwd.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace hyprstream::window {

class KeyDictionary {
 public:
  // `fields`: the declared key columns. Accepted types: int8..int64, uint8..uint64 (each batch
  // must then carry exactly that type), utf8/large_utf8 and binary/large_binary (batches may
  // use either offset width or a dictionary of them). Empty: one key for every row.
  static arrow::Result<std::unique_ptr<KeyDictionary>> Make(
      std::vector<std::shared_ptr<arrow::Field>> fields);

  // OK if `type` may carry key column `index` in a batch; else Invalid saying what to send.
  arrow::Status CheckColumnType(size_t index, const arrow::DataType& type) const;

  // columns[c] is key column c for the same `length` rows. ids[i] = row i's id; unseen keys
  // are added (with the lowest free id, else id_limit()).
  arrow::Status Intern(const std::vector<const arrow::Array*>& columns, int64_t length,
                       int32_t* ids);
  // As Intern, but never adds: ids[i] = -1 for a key not in the dictionary.
  arrow::Status Find(const std::vector<const arrow::Array*>& columns, int64_t length,
                     int32_t* ids) const;

  // Removes the keys of `ids` (in use, ascending, no duplicates): lookups no longer find them
  // and their ids are free for new keys. Then gives memory back where much of it is unused:
  // free ids at the top lower id_limit(), the hash table and the key bytes shrink.
  void Retire(const std::vector<int32_t>& ids);

  // The key values of `ids` (ids in use), one array per key column in declared order.
  // Dictionary-typed columns come back as their value type; utf8/binary output that would
  // exceed 2 GiB is Invalid (declare the column large_utf8/large_binary).
  arrow::Result<std::vector<std::shared_ptr<arrow::Array>>> Gather(const int32_t* ids,
                                                                   int64_t n) const;

  // Output fields (declared names; dictionary types replaced by their value type).
  const std::vector<std::shared_ptr<arrow::Field>>& output_fields() const { return output_fields_; }
  // Keys in use.
  int32_t size() const { return size_; }
  // Every id in use is below this; per-id state sized to it covers every key.
  int32_t id_limit() const { return id_limit_; }
  // Bit k of word k / 64 set: id k is in use. id_limit() bits.
  const std::vector<uint64_t>& in_use() const { return in_use_; }
  int64_t memory_bytes() const;

  // Implementation detail, public for the .cc helpers.
  enum class Kind : uint8_t { kInt, kBytes };
  // Length and first bytes of a kBytes key: most keys compare from this one record (a
  // single cache miss, prefetched) without touching the byte arena.
  static constexpr int kInlineBytes = 12;
  struct InlineKey {
    uint32_t length;
    uint8_t prefix[kInlineBytes];  // zero padded
  };
  struct StoredColumn {
    Kind kind;
    std::shared_ptr<arrow::DataType> output_type;
    std::vector<int64_t> ints;           // kInt: value per id (uint64 stored as its bits)
    std::vector<InlineKey> inline_keys;  // kBytes: per id (length 0 for a free id)
    std::vector<int64_t> offsets;        // kBytes: per id, where its inline_keys[id].length
                                         // bytes start in `bytes`
    std::vector<uint8_t> bytes;          // arena; retired keys' bytes stay until compaction
    int64_t live_bytes = 0;              // bytes of keys in use
    std::vector<uint8_t> valid;          // 1 per id, 0 for a null key value
    bool has_nulls = false;              // any key ever added with a null value
  };
  struct BoundColumn;  // one batch column, read through its raw buffers (key_dictionary.cc)

 private:
  explicit KeyDictionary(std::vector<std::shared_ptr<arrow::Field>> fields);

  arrow::Status Bind(const std::vector<const arrow::Array*>& columns, int64_t length,
                     std::vector<BoundColumn>* bound, std::vector<int64_t>* int_scratch,
                     std::vector<int32_t>* index_scratch) const;
  void HashRows(const std::vector<BoundColumn>& bound, int64_t length, uint64_t* hashes) const;
  bool Equal(const std::vector<BoundColumn>& bound, int64_t row, int32_t id) const;
  void PrefetchKey(int32_t id) const;
  // Self is KeyDictionary (Intern: inserts misses) or const KeyDictionary (Find). kShape
  // picks an inlined comparison for the common single-column keys.
  enum class Shape { kGeneric, kOneInt, kOneBytes };
  template <bool kInsert, Shape kShape, typename Self>
  static void Probe(Self* self, const std::vector<BoundColumn>& bound, const uint64_t* hashes,
                    int64_t length, int32_t* ids);
  template <bool kInsert, typename Self>
  static void ProbeAny(Self* self, const std::vector<BoundColumn>& bound, const uint64_t* hashes,
                       int64_t length, int32_t* ids);
  int32_t Add(const std::vector<BoundColumn>& bound, int64_t row, uint64_t hash);
  int32_t TakeId();
  void EraseSlot(int32_t id);
  void Rehash(size_t slot_count);
  void CompactBytes(StoredColumn& column);
  void ShrinkIdSpace();

  // Open addressing, linear probing, load <= 1/2. A slot holds the upper 32 hash bits (tag)
  // and the id (-1: empty); the lower bits pick the slot. Deletion shifts the rest of the
  // probe chain back (no tombstones), so lookups cost the same after any number of retires.
  struct Slot {
    uint32_t tag;
    int32_t id;
  };

  std::vector<std::shared_ptr<arrow::Field>> fields_;
  std::vector<std::shared_ptr<arrow::Field>> output_fields_;
  std::vector<StoredColumn> columns_;
  std::vector<uint64_t> hashes_;  // per id, for rehashing and deletion
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  int32_t size_ = 0;      // ids in use
  int32_t id_limit_ = 0;  // per-id vectors hold this many entries
  std::vector<uint64_t> in_use_;
  std::vector<int32_t> free_ids_;  // below id_limit_ and not in use, descending (lowest last)

  // Reused across Intern calls (no per-batch allocation once warm).
  std::vector<uint64_t> hash_scratch_;
  std::vector<int64_t> int_scratch_;
  std::vector<int32_t> index_scratch_;
};

}  // namespace hyprstream::window
