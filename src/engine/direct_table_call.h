// DirectTableCall: SQL that is exactly `SELECT * FROM name(<literal arguments>)` [;], or
// `SELECT col [AS alias], ... FROM name(...)`, read without a parser so that such a statement
// can be answered by the table function's own rows callback instead of the engine's executor
// (TableFunctionSpec::direct_read). Anything the reader is not sure about (comments, quoted
// function names, numbers, casts, parameters, expressions, more clauses) is "not a direct
// call", so the statement runs as usual. Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"

namespace hyprstream::engine {

struct DirectTableCall {
  std::string function;  // lower case (unquoted SQL names are case-insensitive)
  TableFunctionArgs args;
  // The selected columns in order, as written (quotes removed); empty for `SELECT *`.
  std::vector<std::string> columns;
};

// The call `sql` consists of, or nullopt. Arguments are string literals ('it''s') or the
// keywords true/false (as "true"/"false", which is what a VARCHAR parameter receives); named
// arguments are `name := value` or `name = value`, names lower-cased; a name given twice is
// not a direct call.
std::optional<DirectTableCall> ParseDirectTableCall(std::string_view sql);

// The position of `name` among `fields` compared as SQL compares column names (ignoring
// case); nullopt when absent or ambiguous.
std::optional<int> FindColumn(const std::vector<std::string>& fields, const std::string& name);

// Whether `call` fits `spec`: its name, the number of positional arguments, and only named
// parameters the function declares.
bool DirectCallFits(const DirectTableCall& call, const TableFunctionSpec& spec);

}  // namespace hyprstream::engine
