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
  return text;
}

}  // namespace hyprstream::server
