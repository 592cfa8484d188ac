// Internal SQL on an EngineConnection in one call: the server's own catalog queries and
// statements (metadata, session options, window bookkeeping). Results are read whole.
#pragma once

#include <arrow/result.h>
#include <arrow/table.h>

#include <memory>
#include <string>

#include "engine/engine.h"

namespace hyprstream::engine {

// Every row of `sql`.
arrow::Result<std::shared_ptr<arrow::Table>> QueryTable(EngineConnection& connection,
                                                        const std::string& sql);
// The first column of the only row of `sql`, as text.
arrow::Result<std::string> QueryValue(EngineConnection& connection, const std::string& sql);
// Runs `sql` for its effect.
arrow::Status ExecuteStatement(EngineConnection& connection, const std::string& sql);

// The result a write run as a query gives (as DuckDB's own INSERT): one row, column "Count".
std::shared_ptr<arrow::Schema> CountSchema();
arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> CountResult(int64_t count);

// Runs `statement`'s query to completion (a write's rows are stored when it has run) and
// gives its rows, read whole.
arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteToCompletion(
    EngineStatement& statement);

// Whether the connection's open transaction can still commit: a trivial query succeeds.
// DuckDB and PostgreSQL answer COMMIT of a transaction that a failed statement aborted with
// success while rolling it back, so whoever acts on a commit asks this first.
bool TransactionCanCommit(EngineConnection& connection);

}  // namespace hyprstream::engine
