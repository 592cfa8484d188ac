#include "server/window_metrics.h"

#include <cstdint>
#include <utility>

namespace hyprstream::server {

std::string WindowMetricsText(const window::WindowCatalog& catalog) {
  const window::WindowCatalog::Stats stats = catalog.GetStats();
  using Definition = window::WindowCatalog::Stats::Definition;
  std::string text =
      "# HELP hyprstream_windows Time window definitions maintained.\n"
      "# TYPE hyprstream_windows gauge\nhyprstream_windows " +
      std::to_string(stats.definitions.size()) + "\n";
  auto series = [&](const char* metric, const char* type, auto field) {
    text += std::string("# TYPE ") + metric + " " + type + "\n";
    for (const Definition& definition : stats.definitions) {
      text += std::string(metric) + "{window=\"" + definition.name + "\"} " +
              std::to_string(definition.*field) + "\n";
    }
  };
  series("hyprstream_window_rows_total", "counter", &Definition::rows);
  series("hyprstream_window_late_rows_total", "counter", &Definition::late_rows);
  series("hyprstream_window_open_bytes", "gauge", &Definition::open_bytes);
  series("hyprstream_window_suffix_hits_total", "counter", &Definition::suffix_hits);
  series("hyprstream_window_suffix_builds_total", "counter", &Definition::suffix_builds);
  series("hyprstream_window_rebuilds_total", "counter", &Definition::rebuilds);
  series("hyprstream_window_followed_deletes_total", "counter", &Definition::followed_deletes);
  // One series per state (1: the definition's state now), as hyprstream_windows() reports it.
  text +=
      "# HELP hyprstream_window_state Whether queries are answered from the window's state "
      "(answering), only where they need no closed window until its history is written "
      "(writing history), or by the engine until it is built (building) or rebuilt "
      "(rebuilding).\n# TYPE hyprstream_window_state gauge\n";
  for (const Definition& definition : stats.definitions) {
    for (const char* state : {"answering", "writing history", "building", "rebuilding"}) {
      text += "hyprstream_window_state{window=\"" + definition.name + "\",state=\"" + state +
              "\"} " + (definition.state == state ? "1" : "0") + "\n";
    }
  }
  text += "# TYPE hyprstream_window_edge_bytes gauge\nhyprstream_window_edge_bytes " +
          std::to_string(stats.edge_bytes) + "\n";
  text +=
      "# TYPE hyprstream_window_edge_panes_total counter\n"
      "hyprstream_window_edge_panes_total{outcome=\"kept\"} " +
      std::to_string(stats.edge_panes.kept) +
      "\nhyprstream_window_edge_panes_total{outcome=\"too_large\"} " +
      std::to_string(stats.edge_panes.too_large) + "\n";
  return text;
}

}  // namespace hyprstream::server
