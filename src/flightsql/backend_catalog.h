// Catalog metadata answered from the engine's backend catalog (EngineConnection::
// GetCatalogObjects / GetTableTypes / GetTableSchema, i.e. ADBC GetObjects), for engines that
// front another database. Same result schemas, filters and ordering as catalog_metadata.
// Stateless; NotImplemented when the engine has no backend catalog (DuckDB: use SQL).
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <memory>

#include "engine/engine.h"
#include "flightsql/command.h"

namespace hyprstream::flightsql {

arrow::Result<std::shared_ptr<arrow::RecordBatch>> QueryBackendCatalog(
    engine::EngineConnection& connection, const Command& command);

}  // namespace hyprstream::flightsql
