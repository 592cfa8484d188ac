// The windows' SQL surface, registered on the engine that hosts table functions:
//   hyprstream_window(name [, width :=, current :=, key :=, since :=, inclusive :=])
//   hyprstream_create_window(name, table, keys :=, time_column :=, value_columns :=, ...)
//   hyprstream_drop_window(name), hyprstream_windows()
//   tumble(table, time_column, width), hop(table, time_column, slide, width)   (DuckDB macros)
// Each function calls back into `catalog`, which must outlive every query on `host`.
#pragma once

#include <arrow/status.h>

#include "engine/engine.h"
#include "window/window_catalog.h"

namespace hyprstream::window {

arrow::Status RegisterWindowFunctions(WindowCatalog* catalog, engine::Engine& host);

}  // namespace hyprstream::window
