// Reading a table as of one moment while writes go on. DuckDB (and PostgreSQL in a REPEATABLE
// READ transaction) gives a transaction its snapshot at its first read, so PinSnapshot begins a
// transaction on `connection`, runs the `setup` statements first where given (PostgreSQL: SET
// TRANSACTION ISOLATION LEVEL REPEATABLE READ, and SET TRANSACTION SNAPSHOT to share another
// transaction's) and then `pin` (a cheap read, e.g. a count) before it returns: every query run
// on the connection it gives reads the rows as of then; ReadPinned prepares a query on it,
// which runs when the reader is first read; ReadPinnedInTurn reads the rows of several queries
// one after the other (a large read in parts, each arranged on its own if asked). Rows
// committed after the pin are in none, however late they are read.
//
// Ownership: the pinned connection (and the reader, which holds it) owns `connection`'s
// transaction and ends it (rolls back) when released; nobody else may use the connection
// meanwhile. Threading: one caller at a time, from any thread. Errors: a failed step rolls
// back and is returned.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/table.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace hyprstream::engine {

arrow::Result<std::shared_ptr<EngineConnection>> PinSnapshot(
    std::shared_ptr<EngineConnection> connection, const std::string& pin,
    const std::vector<std::string>& setup = {});

// `query` prepared on a connection PinSnapshot gave, run when the reader is first read; the
// reader holds the connection (and so its snapshot) until it is released.
arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ReadPinned(
    std::shared_ptr<EngineConnection> pinned, const std::string& query);

// The rows of the queries `next` gives, in turn, on a connection PinSnapshot gave, as one
// reader: `next(-1)` is the first query (prepared here: its columns are the reader's, and every
// query must give the same), `next(n)` the query after one that gave n rows, nullopt the end.
// Each runs once the reader reaches it, after the one before it has been released. With
// `arrange`, each query's rows are read whole and given out as it returns them (e.g. sorted).
// The reader holds the connection (and so its snapshot) until it is released.
using NextQuery = std::function<std::optional<std::string>(int64_t rows_of_last)>;
using Arrange =
    std::function<arrow::Result<std::shared_ptr<arrow::Table>>(std::shared_ptr<arrow::Table>)>;
arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ReadPinnedInTurn(
    std::shared_ptr<EngineConnection> pinned, NextQuery next, Arrange arrange = nullptr);

}  // namespace hyprstream::engine
