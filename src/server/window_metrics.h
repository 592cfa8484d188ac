// The windows' Prometheus series for /metrics: how many definitions, and per window the rows
// folded in, late rows and open state bytes (from WindowCatalog::List()). Any thread.
#pragma once

#include <string>

#include "window/window_catalog.h"

namespace hyprstream::server {

std::string WindowMetricsText(const window::WindowCatalog& catalog);

}  // namespace hyprstream::server
