// Internal to src/sql: what StatementInfo::reads() needs, shared by the copies of one info.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sql/statement_info.h"

namespace hyprstream::sql::detail {

struct StatementSource {
  std::shared_ptr<const std::string> script;  // the whole analysed text
  Span statement;                             // the statement within it
  // The parts of the statement DuckDB parses for its reads (script offsets, in order); the
  // rest of the statement is blanked out so parse-tree offsets stay statement offsets.
  std::vector<Span> read_spans;
  bool reads_nothing = false;  // no query part, and no table is read (BEGIN, DROP, ...)

  std::once_flag once;
  StatementReads reads;  // written once, under `once`
};

// Fills `reads` from DuckDB's parse of the read spans (statement_reads.cc).
StatementReads ComputeReads(const StatementSource& source, const Parameters& parameters);

}  // namespace hyprstream::sql::detail
