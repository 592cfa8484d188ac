#include "engine/result_provenance.h"

#include <arrow/type.h>
#include <arrow/util/key_value_metadata.h>

#include <cstdio>

namespace hyprstream::engine {
namespace {

class ProvenanceReader : public arrow::RecordBatchReader {
 public:
  ProvenanceReader(std::shared_ptr<arrow::RecordBatchReader> inner,
                   std::shared_ptr<const arrow::KeyValueMetadata> metadata)
      : inner_(std::move(inner)),
        schema_(inner_->schema()->WithMetadata(metadata)),
        metadata_(std::move(metadata)) {}
  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* out) override {
    ARROW_RETURN_NOT_OK(inner_->ReadNext(out));
    if (*out) *out = (*out)->ReplaceSchemaMetadata(metadata_);
    return arrow::Status::OK();
  }
  arrow::Status Close() override { return inner_->Close(); }

 private:
  std::shared_ptr<arrow::RecordBatchReader> inner_;
  std::shared_ptr<arrow::Schema> schema_;
  std::shared_ptr<const arrow::KeyValueMetadata> metadata_;
};

}  // namespace

std::shared_ptr<arrow::RecordBatchReader> WithProvenance(
    std::shared_ptr<arrow::RecordBatchReader> reader, const std::string& cache,
    const std::string& source, std::chrono::system_clock::time_point as_of) {
  auto existing = reader->schema()->metadata();
  auto metadata = existing ? existing->Copy() : std::make_shared<arrow::KeyValueMetadata>();
  metadata->Append("hyprstream.cache", cache);
  metadata->Append("hyprstream.source", source);
  metadata->Append("hyprstream.as_of", IsoTime(as_of));
  return std::make_shared<ProvenanceReader>(std::move(reader), std::move(metadata));
}

std::string FormatTimestamp(int64_t epoch_us, char separator) {
  using namespace std::chrono;
  const sys_time<microseconds> at{microseconds(epoch_us)};
  const auto day = floor<days>(at);
  const year_month_day date{day};
  const hh_mm_ss<microseconds> time{at - day};
  char text[64];
  std::snprintf(
      text, sizeof(text), "%04d-%02u-%02u%c%02ld:%02ld:%02ld.%06ld", static_cast<int>(date.year()),
      static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()), separator,
      static_cast<long>(time.hours().count()), static_cast<long>(time.minutes().count()),
      static_cast<long>(time.seconds().count()), static_cast<long>(time.subseconds().count()));
  return text;
}

std::string IsoTime(std::chrono::system_clock::time_point t) {
  return FormatTimestamp(
             std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count(),
             'T') +
         "Z";
}

}  // namespace hyprstream::engine
