// Where a result came from, as schema metadata every client can read (and the protocol layer
// repeats as x-hyprstream-* response headers): hyprstream.cache (hit | miss | bypass),
// hyprstream.source (cache | result-cache | backend | windows) and hyprstream.as_of (when the
// data was last known equal to the backend, UTC ISO 8601). Plus the timestamp text the layers
// share. Pure functions; any thread.
#pragma once

#include <arrow/record_batch.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace hyprstream::engine {

// Puts provenance metadata on every batch of `reader`.
std::shared_ptr<arrow::RecordBatchReader> WithProvenance(
    std::shared_ptr<arrow::RecordBatchReader> reader, const std::string& cache,
    const std::string& source, std::chrono::system_clock::time_point as_of);

// Microseconds since the epoch as "2026-11-25<separator>10:00:00.000000" (UTC).
std::string FormatTimestamp(int64_t epoch_us, char separator = ' ');
// A time as UTC ISO 8601 ("2026-11-25T10:00:00.000000Z").
std::string IsoTime(std::chrono::system_clock::time_point t);

}  // namespace hyprstream::engine
