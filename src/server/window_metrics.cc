#include "server/window_metrics.h"

#include <arrow/array.h>
#include <arrow/scalar.h>

namespace hyprstream::server {

std::string WindowMetricsText(const window::WindowCatalog& catalog) {
  auto listed = catalog.List();
  if (!listed.ok()) return "";
  const arrow::RecordBatch& windows = **listed;
  std::string text =
      "# HELP hyprstream_windows Time window definitions maintained.\n"
      "# TYPE hyprstream_windows gauge\nhyprstream_windows " +
      std::to_string(windows.num_rows()) + "\n";
  auto names = std::dynamic_pointer_cast<arrow::StringArray>(windows.GetColumnByName("name"));
  if (!names) return text;
  const std::pair<const char*, const char*> series[] = {
      {"rows", "hyprstream_window_rows_total"},
      {"late_rows", "hyprstream_window_late_rows_total"},
      {"open_bytes", "hyprstream_window_open_bytes"}};
  for (const auto& [column_name, metric] : series) {
    auto column =
        std::dynamic_pointer_cast<arrow::Int64Array>(windows.GetColumnByName(column_name));
    if (!column) continue;
    text += std::string("# TYPE ") + metric +
            (std::string(metric).ends_with("_total") ? " counter\n" : " gauge\n");
    for (int64_t i = 0; i < windows.num_rows(); ++i) {
      if (column->IsNull(i) || names->IsNull(i)) continue;
      text += std::string(metric) + "{window=\"" + names->GetString(i) + "\"} " +
              std::to_string(column->Value(i)) + "\n";
    }
  }
  const window::WindowCatalog::ReadStats reads = catalog.GetReadStats();
  using Definition = window::WindowCatalog::ReadStats::Definition;
  const std::pair<const char*, uint64_t Definition::*> per_definition[] = {
      {"hyprstream_window_suffix_hits_total", &Definition::suffix_hits},
      {"hyprstream_window_suffix_builds_total", &Definition::suffix_builds}};
  for (const auto& [metric, field] : per_definition) {
    text += std::string("# TYPE ") + metric + " counter\n";
    for (const auto& definition : reads.definitions) {
      text += std::string(metric) + "{window=\"" + definition.name + "\"} " +
              std::to_string(definition.*field) + "\n";
    }
  }
  text += "# TYPE hyprstream_window_edge_bytes gauge\nhyprstream_window_edge_bytes " +
          std::to_string(reads.edge_bytes) + "\n";
  text +=
      "# TYPE hyprstream_window_edge_panes_total counter\n"
      "hyprstream_window_edge_panes_total{outcome=\"kept\"} " +
      std::to_string(reads.edge_panes.kept) +
      "\nhyprstream_window_edge_panes_total{outcome=\"too_large\"} " +
      std::to_string(reads.edge_panes.too_large) + "\n";
  return text;
}

}  // namespace hyprstream::server
