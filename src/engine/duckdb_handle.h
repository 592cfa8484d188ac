// Owning wrappers for DuckDB C API handles: each is a std::unique_ptr whose deleter calls the
// matching duckdb_destroy_* function, so early returns never leak. Internal to src/engine.
#pragma once

#include <duckdb.h>

#include <memory>
#include <type_traits>

namespace hyprstream::engine {

template <typename Handle, void (*Destroy)(Handle*)>
struct DuckDbDeleter {
  void operator()(std::remove_pointer_t<Handle>* handle) const {
    Handle h = handle;
    Destroy(&h);
  }
};

template <typename Handle, void (*Destroy)(Handle*)>
using DuckDbHandle = std::unique_ptr<std::remove_pointer_t<Handle>, DuckDbDeleter<Handle, Destroy>>;

inline void DestroyAppender(duckdb_appender* appender) { duckdb_appender_destroy(appender); }

using LogicalTypeHandle = DuckDbHandle<duckdb_logical_type, duckdb_destroy_logical_type>;
using ValueHandle = DuckDbHandle<duckdb_value, duckdb_destroy_value>;
using DataChunkHandle = DuckDbHandle<duckdb_data_chunk, duckdb_destroy_data_chunk>;
using ErrorDataHandle = DuckDbHandle<duckdb_error_data, duckdb_destroy_error_data>;
using ArrowOptionsHandle = DuckDbHandle<duckdb_arrow_options, duckdb_destroy_arrow_options>;
using PreparedHandle = DuckDbHandle<duckdb_prepared_statement, duckdb_destroy_prepare>;
using PendingHandle = DuckDbHandle<duckdb_pending_result, duckdb_destroy_pending>;
using AppenderHandle = DuckDbHandle<duckdb_appender, DestroyAppender>;
using ConvertedSchemaHandle =
    DuckDbHandle<duckdb_arrow_converted_schema, duckdb_destroy_arrow_converted_schema>;
using TableDescriptionHandle =
    DuckDbHandle<duckdb_table_description, duckdb_table_description_destroy>;

// duckdb_result is a struct, not a pointer: this owns one and destroys it once.
class ResultHandle {
 public:
  ResultHandle() = default;
  ~ResultHandle() { Reset(); }
  ResultHandle(const ResultHandle&) = delete;
  ResultHandle& operator=(const ResultHandle&) = delete;

  duckdb_result* get() { return &result_; }
  // Marks the struct as filled by a duckdb_* call (even a failed one, which must be destroyed).
  duckdb_result* out() {
    Reset();
    valid_ = true;
    return &result_;
  }
  bool valid() const { return valid_; }
  void Reset() {
    if (valid_) duckdb_destroy_result(&result_);
    valid_ = false;
  }

 private:
  duckdb_result result_{};
  bool valid_ = false;
};

}  // namespace hyprstream::engine
