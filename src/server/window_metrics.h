// The windows' Prometheus series for /metrics: how many definitions; per window the rows
// folded in, late rows, open state bytes and trailing reads' block suffixes used and built;
// the edge cache's bytes and panes (from WindowCatalog::GetStats()). Any thread.
#pragma once

#include <string>

#include "window/window_catalog.h"

namespace hyprstream::server {

std::string WindowMetricsText(const window::WindowCatalog& catalog);

}  // namespace hyprstream::server
