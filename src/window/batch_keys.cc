#include "window/batch_keys.h"

#include <algorithm>
#include <numeric>

#include "window/key_dictionary.h"

namespace hyprstream::window {

arrow::Result<std::shared_ptr<const BatchKeys>> BatchKeys::Make(
    const arrow::RecordBatch& batch, const std::vector<std::string>& columns) {
  std::vector<std::shared_ptr<arrow::Field>> fields;
  std::vector<const arrow::Array*> arrays;
  for (const auto& name : columns) {
    const int index = batch.schema()->GetFieldIndex(name);
    if (index < 0) {
      return arrow::Status::Invalid("no key column '", name, "' (or more than one) in the batch");
    }
    fields.push_back(batch.schema()->field(index));
    arrays.push_back(batch.column(index).get());
  }
  // A fresh dictionary hands out ids 0, 1, ... in order of first occurrence: the ids are the
  // indexes into the distinct keys.
  ARROW_ASSIGN_OR_RAISE(auto dictionary, KeyDictionary::Make(std::move(fields)));
  auto keys = std::make_shared<BatchKeys>();
  keys->columns = columns;
  const int64_t n = batch.num_rows();
  keys->row_key.resize(static_cast<size_t>(n));
  ARROW_RETURN_NOT_OK(dictionary->Intern(arrays, n, keys->row_key.data()));
  keys->distinct_count = dictionary->id_limit();
  std::vector<int32_t> ids(static_cast<size_t>(keys->distinct_count));
  std::iota(ids.begin(), ids.end(), 0);
  ARROW_ASSIGN_OR_RAISE(keys->distinct, dictionary->Gather(ids.data(), keys->distinct_count));
  return keys;
}

arrow::Result<std::shared_ptr<const BatchKeys>> BatchKeys::MakeIfRepeated(
    const arrow::RecordBatch& batch, const std::vector<std::string>& columns, int64_t held_keys) {
  if (batch.num_rows() < kRowsPerKey * std::max<int64_t>(held_keys, 1)) return nullptr;
  ARROW_ASSIGN_OR_RAISE(auto keys, Make(batch, columns));
  if (keys->distinct_count * 2 > batch.num_rows()) return nullptr;
  return keys;
}

}  // namespace hyprstream::window
