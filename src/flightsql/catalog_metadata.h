// Catalog metadata: the Flight SQL metadata commands (GetCatalogs, GetDbSchemas, GetTables,
// GetTableTypes, GetPrimaryKeys, GetImportedKeys, GetExportedKeys, GetCrossReference) answered
// from the session's own engine connection (so its temp tables and attached databases show),
// with the exact result schemas, filters and row order of the spec and of Arrow's reference
// servers. Filter patterns use SQL LIKE syntax (% and _, escaped with a backslash).
//
// Stateless functions; each call runs catalog queries on `connection` (serialised there).
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "flightsql/command.h"

namespace hyprstream::flightsql {

// The result schema of a metadata command, known without running it (for GetFlightInfo
// and GetSchema). Invalid for commands that are not metadata commands.
arrow::Result<std::shared_ptr<arrow::Schema>> CatalogResultSchema(const Command& command);

// Runs a metadata command (not GetSqlInfo or GetXdbcTypeInfo) against `connection`.
arrow::Result<std::shared_ptr<arrow::RecordBatch>> QueryCatalog(
    engine::EngineConnection& connection, const Command& command);

// The engine's reserved SQL keywords, upper case and sorted (for SqlInfo SQL_KEYWORDS).
arrow::Result<std::vector<std::string>> ReservedKeywords(engine::EngineConnection& connection);

}  // namespace hyprstream::flightsql
