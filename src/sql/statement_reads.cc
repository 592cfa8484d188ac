// StatementReads from DuckDB's parse: the walk over a json_serialize_sql document.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

#include "sql/duckdb_parser.h"
#include "sql/parse_tree.h"
#include "sql/statement_source.h"

namespace hyprstream::sql::detail {
namespace {

using nlohmann::json;
using tree::Lower;
using tree::Str;

// The constant string `node` is, if it is one.
std::optional<std::string> ConstantText(const json& node) {
  if (!node.is_object() || Str(node, "class") != "CONSTANT") return std::nullopt;
  auto value = node.find("value");
  if (value == node.end() || !value->is_object()) return std::nullopt;
  auto text = value->find("value");
  if (text == value->end() || !text->is_string()) return std::nullopt;
  return text->get<std::string>();
}

void AddOnce(std::vector<std::string>* names, std::string name) {
  if (std::find(names->begin(), names->end(), name) == names->end()) {
    names->push_back(std::move(name));
  }
}

class TreeWalker {
 public:
  TreeWalker(std::string_view text, StatementReads* out) : text_(text), out_(out) {}

  void Walk(const json& node) {
    if (node.is_array()) {
      for (const auto& child : node) Walk(child);
      return;
    }
    if (!node.is_object()) return;
    const std::string type = Str(node, "type");
    if (type == "BASE_TABLE") {
      if (auto name = Str(node, "table_name"); !name.empty()) {
        out_->parsed_table_names.push_back(name);
      }
      if (node.contains("table_name")) {
        reads_.push_back({tree::BaseTableRead(node), /*base_table=*/true});
      }
      Table(node);
    }
    if (auto cte = node.find("cte_map"); cte != node.end() && cte->is_object()) {
      auto map = cte->find("map");
      if (map != cte->end() && map->is_array()) {
        for (const auto& entry : *map) {
          if (entry.is_object() && entry.contains("key") && entry["key"].is_string()) {
            AddOnce(&out_->cte_names, Lower(entry["key"].get<std::string>()));
          }
        }
      }
    }
    auto function = node.find("function");
    if (type == "TABLE_FUNCTION" && function != node.end() && function->is_object()) {
      AddOnce(&out_->table_functions, Lower(Str(*function, "function_name")));
      StatementReads::TableFunctionCall call{Lower(Str(*function, "function_name")), {}};
      if (auto children = function->find("children");
          children != function->end() && children->is_array()) {
        for (const auto& argument : *children)
          call.text_arguments.push_back(ConstantText(argument));
      }
      out_->table_function_calls.push_back(std::move(call));
      if (auto table = TableReadByMacro(node)) {
        reads_.push_back({tree::ReadAt(node, table->catalog.value_or(""),
                                       table->schema.value_or(""), table->table),
                          /*base_table=*/false});
        tables_.push_back(std::move(*table));
      }
      for (const auto& [key, value] : function->items()) Walk(value);  // its arguments
      for (const auto& [key, value] : node.items()) {
        if (key != "function") Walk(value);
      }
      return;
    }
    const std::string cls = Str(node, "class");
    if (cls == "FUNCTION") AddOnce(&out_->scalar_functions, Lower(Str(node, "function_name")));
    if (cls == "PARAMETER") out_->has_parameters = true;
    for (const auto& [key, value] : node.items()) Walk(value);
  }

  // Every table read, without base tables named like a CTE (unqualified).
  std::vector<TableRead> TableReads() const {
    std::vector<TableRead> out;
    for (const auto& [read, base_table] : reads_) {
      if (base_table && IsCte(read.catalog, read.schema, read.table)) continue;
      out.push_back(read);
    }
    return out;
  }

  // Base tables, without the names of CTEs (an unqualified name a CTE defines anywhere).
  std::vector<TableRef> Tables() const {
    std::vector<TableRef> out;
    for (const TableRef& table : tables_) {
      if (!table.schema && !table.catalog &&
          std::count(out_->cte_names.begin(), out_->cte_names.end(), Lower(table.table))) {
        continue;
      }
      if (std::find(out.begin(), out.end(), table) == out.end()) out.push_back(table);
    }
    return out;
  }

 private:
  bool IsCte(const std::string& catalog, const std::string& schema,
             const std::string& table) const {
    return schema.empty() && catalog.empty() &&
           std::count(out_->cte_names.begin(), out_->cte_names.end(), Lower(table));
  }

  // The name as written at the node's query_location (so quoting is known), or as DuckDB
  // gives it (a replacement scan's file name, say).
  void Table(const json& node) {
    std::vector<std::string> given;
    for (const char* key : {"catalog_name", "schema_name", "table_name"}) {
      std::string part = Str(node, key);
      if (!part.empty()) given.push_back(std::move(part));
    }
    if (given.empty()) return;
    auto location = node.find("query_location");
    if (location != node.end() && location->is_number_unsigned()) {
      if (tokens_.empty()) tokens_ = Lex(text_);
      const size_t offset = location->get<size_t>();
      auto at = std::lower_bound(tokens_.begin(), tokens_.end(), offset,
                                 [](const Token& t, size_t o) { return t.offset < o; });
      size_t i = static_cast<size_t>(at - tokens_.begin());
      if (at != tokens_.end() && at->offset == offset) {
        auto parts = QualifiedNameAt(tokens_, &i);
        if (parts && parts->size() == given.size() && Lower(parts->back()) == Lower(given.back())) {
          given = std::move(*parts);
        }
      }
    }
    if (auto ref = TableRef::FromParts(given)) tables_.push_back(std::move(*ref));
  }

  std::string_view text_;
  StatementReads* out_;
  std::vector<Token> tokens_;  // of text_, lexed on the first table
  std::vector<TableRef> tables_;
  std::vector<std::pair<TableRead, bool>> reads_;  // each read, and whether a base table
};

}  // namespace
}  // namespace hyprstream::sql::detail

namespace hyprstream::sql {

bool IsTableReadingMacro(std::string_view lower_name) {
  return lower_name == "tumble" || lower_name == "hop";
}

std::optional<TableRef> TableReadByMacro(const nlohmann::json& node) {
  if (!node.is_object() || tree::Str(node, "type") != "TABLE_FUNCTION") return std::nullopt;
  auto function = node.find("function");
  if (function == node.end() || !function->is_object() ||
      !IsTableReadingMacro(tree::Lower(tree::Str(*function, "function_name")))) {
    return std::nullopt;
  }
  auto children = function->find("children");
  if (children == function->end() || !children->is_array() || children->empty()) {
    return std::nullopt;
  }
  auto text = detail::ConstantText(children->front());
  if (!text) return std::nullopt;
  return ParseTableRef(*text);
}

}  // namespace hyprstream::sql

namespace hyprstream::sql::detail {

StatementReads ComputeReads(const StatementSource& source, const Parameters& parameters) {
  StatementReads out;
  out.has_parameters = parameters.any();
  if (source.read_spans.empty()) {
    out.known = source.reads_nothing;
    return out;
  }
  // The statement with everything but its query part blanked: tree offsets stay statement
  // offsets.
  const std::string_view script = *source.script;
  const Span statement = source.statement;
  out.whole_statement = source.read_spans.size() == 1 && source.read_spans[0] == statement;
  std::string text(statement.size(), ' ');
  for (const Span& span : source.read_spans) {
    text.replace(span.begin - statement.begin, span.size(), span.In(script));
  }
  auto parsed = SerializeSelect(text);
  if (!parsed.ok()) {
    out.whole_statement = false;
    out.error = parsed.status().message();
    return out;
  }
  try {
    TreeWalker walker(text, &out);
    walker.Walk(**parsed);
    out.tables = walker.Tables();
    out.table_reads = walker.TableReads();
  } catch (const json::exception& e) {
    StatementReads unknown;  // a tree of a shape not expected here
    unknown.error = e.what();
    unknown.has_parameters = parameters.any();
    return unknown;
  }
  out.tree = *parsed;
  out.parsed_statements = out.tree->contains("statements") ? out.tree->at("statements").size() : 0;
  out.known = true;
  return out;
}

}  // namespace hyprstream::sql::detail
