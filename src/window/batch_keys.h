// BatchKeys: the distinct keys of one batch, looked up once and shared by the window
// definitions of a table keyed by the same columns. Each store then interns only the distinct
// keys into its own KeyDictionary (its own ids, its own key retirement) and maps the rows to
// ids by index, instead of hashing and probing every row again (WindowStore::Update).
// Distinct keys are in order of first occurrence, so a store hands out new ids in the same
// order as when it interns the rows themselves. Immutable once made: any number of stores may
// read it, one after another or at once.
#pragma once

#include <arrow/array.h>
#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hyprstream::window {

struct BatchKeys {
  // `columns` of `batch` (by name), as a key: Invalid if one is missing or of a type keys
  // cannot have (KeyDictionary's rules).
  static arrow::Result<std::shared_ptr<const BatchKeys>> Make(
      const arrow::RecordBatch& batch, const std::vector<std::string>& columns);

  std::vector<std::string> columns;  // the key columns' names, in order
  // Per key column: each distinct key once, in order of first occurrence in the batch.
  std::vector<std::shared_ptr<arrow::Array>> distinct;
  int64_t distinct_count = 0;
  std::vector<int32_t> row_key;  // per batch row: its key's index into `distinct`

  // Make where sharing pays, else nullptr: the batch has at least kRowsPerKey rows per key
  // its readers hold (`held_keys`), and at most half its rows are distinct keys. Where a
  // batch has about as many keys as rows (a stream's small batches), interning the distinct
  // keys costs each store as much as interning the rows, and making them costs that again.
  static constexpr int64_t kRowsPerKey = 8;
  static arrow::Result<std::shared_ptr<const BatchKeys>> MakeIfRepeated(
      const arrow::RecordBatch& batch, const std::vector<std::string>& columns, int64_t held_keys);
};

}  // namespace hyprstream::window
