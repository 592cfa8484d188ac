#include "engine/arrow_validation.h"

#include <arrow/array.h>

#include "engine/arrow_to_duckdb_type.h"

namespace hyprstream::engine {

arrow::Status ValidateArrowBatch(const arrow::RecordBatch& batch) {
  for (int i = 0; i < batch.num_columns(); ++i) {
    const std::shared_ptr<arrow::ArrayData>& column = batch.column_data(i);
    arrow::Status status = column->length != batch.num_rows()
                               ? arrow::Status::Invalid("it has ", column->length, " values for ",
                                                        batch.num_rows(), " rows")
                               : arrow::MakeArray(column)->ValidateFull();
    if (!status.ok()) {
      return arrow::Status::Invalid("column ", QuoteIdentifier(batch.schema()->field(i)->name()),
                                    " of the Arrow data is invalid: ", status.message());
    }
  }
  return arrow::Status::OK();
}

}  // namespace hyprstream::engine
