#include "flightsql/sql_info.h"

#include <arrow/builder.h>

#include "flight_sql.pb.h"

namespace hyprstream::flightsql {
namespace pb = arrow::flight::protocol::sql;

namespace {

int32_t Bits(std::initializer_list<int> positions) {
  int32_t mask = 0;
  for (int p : positions) mask |= int32_t{1} << p;
  return mask;
}

// SQL_SUPPORTS_CONVERT: DuckDB casts between every numeric and character type, characters to
// and from temporal and binary types, and among temporal types.
std::map<int32_t, std::vector<int32_t>> SupportedConversions() {
  const std::vector<int32_t> numeric = {
      pb::SQL_CONVERT_BIGINT, pb::SQL_CONVERT_BIT,      pb::SQL_CONVERT_DECIMAL,
      pb::SQL_CONVERT_FLOAT,  pb::SQL_CONVERT_INTEGER,  pb::SQL_CONVERT_NUMERIC,
      pb::SQL_CONVERT_REAL,   pb::SQL_CONVERT_SMALLINT, pb::SQL_CONVERT_TINYINT};
  const std::vector<int32_t> character = {pb::SQL_CONVERT_CHAR, pb::SQL_CONVERT_LONGVARCHAR,
                                          pb::SQL_CONVERT_VARCHAR};
  const std::vector<int32_t> temporal = {pb::SQL_CONVERT_DATE, pb::SQL_CONVERT_TIME,
                                         pb::SQL_CONVERT_TIMESTAMP};
  const std::vector<int32_t> binary = {pb::SQL_CONVERT_BINARY, pb::SQL_CONVERT_LONGVARBINARY,
                                       pb::SQL_CONVERT_VARBINARY};
  auto join = [](std::initializer_list<const std::vector<int32_t>*> parts) {
    std::vector<int32_t> out;
    for (const auto* part : parts) out.insert(out.end(), part->begin(), part->end());
    return out;
  };
  std::map<int32_t, std::vector<int32_t>> conversions;
  for (int32_t from : numeric) conversions[from] = join({&numeric, &character});
  for (int32_t from : character)
    conversions[from] = join({&numeric, &character, &temporal, &binary});
  conversions[pb::SQL_CONVERT_DATE] = join({&character, &temporal});
  conversions[pb::SQL_CONVERT_TIMESTAMP] = join({&character, &temporal});
  conversions[pb::SQL_CONVERT_TIME] = join({&character});
  conversions[pb::SQL_CONVERT_TIME].push_back(pb::SQL_CONVERT_TIME);
  for (int32_t from : binary) conversions[from] = join({&character, &binary});
  return conversions;
}

}  // namespace

SqlInfo SqlInfo::ForServer(std::vector<std::string> keywords,
                           const std::optional<engine::BackendInfo>& backend) {
  SqlInfo info;
  // Server identity and capabilities (ids 0-11).
  info.Set(pb::FLIGHT_SQL_SERVER_NAME, backend && !backend->vendor_name.empty()
                                           ? backend->vendor_name
                                           : std::string("hyprstream"));
  info.Set(pb::FLIGHT_SQL_SERVER_VERSION, backend && !backend->vendor_version.empty()
                                              ? backend->vendor_version
                                              : std::string(HYPRSTREAM_VERSION));
  info.Set(pb::FLIGHT_SQL_SERVER_ARROW_VERSION, std::string(HYPRSTREAM_ARROW_VERSION));
  info.Set(pb::FLIGHT_SQL_SERVER_READ_ONLY, false);
  info.Set(pb::FLIGHT_SQL_SERVER_SQL, true);
  info.Set(pb::FLIGHT_SQL_SERVER_SUBSTRAIT, false);
  info.Set(pb::FLIGHT_SQL_SERVER_SUBSTRAIT_MIN_VERSION, std::string());  // Substrait: none
  info.Set(pb::FLIGHT_SQL_SERVER_SUBSTRAIT_MAX_VERSION, std::string());
  info.Set(pb::FLIGHT_SQL_SERVER_TRANSACTION,
           static_cast<int32_t>(pb::SQL_SUPPORTED_TRANSACTION_TRANSACTION));
  info.Set(pb::FLIGHT_SQL_SERVER_CANCEL, true);
  info.Set(pb::FLIGHT_SQL_SERVER_BULK_INGESTION, true);
  info.Set(pb::FLIGHT_SQL_SERVER_INGEST_TRANSACTIONS_SUPPORTED, true);
  info.Set(pb::FLIGHT_SQL_SERVER_STATEMENT_TIMEOUT, int32_t{0});    // no timeout
  info.Set(pb::FLIGHT_SQL_SERVER_TRANSACTION_TIMEOUT, int32_t{0});  // no timeout

  // The SQL dialect (DuckDB's), with the value types JDBC/ODBC drivers cast to.
  info.Set(pb::SQL_DDL_CATALOG, false);
  info.Set(pb::SQL_DDL_SCHEMA, true);
  info.Set(pb::SQL_DDL_TABLE, true);
  info.Set(pb::SQL_IDENTIFIER_CASE, int64_t{pb::SQL_CASE_SENSITIVITY_CASE_INSENSITIVE});
  info.Set(pb::SQL_IDENTIFIER_QUOTE_CHAR, std::string("\""));
  info.Set(pb::SQL_QUOTED_IDENTIFIER_CASE, int64_t{pb::SQL_CASE_SENSITIVITY_CASE_INSENSITIVE});
  info.Set(pb::SQL_ALL_TABLES_ARE_SELECTABLE, true);
  info.Set(pb::SQL_NULL_ORDERING, int64_t{pb::SQL_NULLS_SORTED_AT_END});
  info.Set(pb::SQL_KEYWORDS, std::move(keywords));
  info.Set(pb::SQL_NUMERIC_FUNCTIONS,
           std::vector<std::string>{"ABS",   "ACOS",    "ASIN",  "ATAN",    "ATAN2",   "CBRT",
                                    "CEIL",  "CEILING", "COS",   "COT",     "DEGREES", "EXP",
                                    "FLOOR", "LN",      "LOG",   "LOG10",   "LOG2",    "MOD",
                                    "PI",    "POW",     "POWER", "RADIANS", "RANDOM",  "ROUND",
                                    "SIGN",  "SIN",     "SQRT",  "TAN",     "TRUNC"});
  info.Set(pb::SQL_STRING_FUNCTIONS,
           std::vector<std::string>{
               "ASCII",      "CHR",         "CONCAT",         "CONCAT_WS",      "CONTAINS",
               "ENDS_WITH",  "LEFT",        "LENGTH",         "LOWER",          "LPAD",
               "LTRIM",      "POSITION",    "REGEXP_MATCHES", "REGEXP_REPLACE", "REPEAT",
               "REPLACE",    "REVERSE",     "RIGHT",          "RPAD",           "RTRIM",
               "SPLIT_PART", "STARTS_WITH", "STRPOS",         "SUBSTRING",      "TRIM",
               "UPPER"});
  info.Set(
      pb::SQL_SYSTEM_FUNCTIONS,
      std::vector<std::string>{"COALESCE", "CURRENT_CATALOG", "CURRENT_DATABASE", "CURRENT_SCHEMA",
                               "CURRENT_USER", "IFNULL", "NULLIF", "TYPEOF", "VERSION"});
  info.Set(
      pb::SQL_DATETIME_FUNCTIONS,
      std::vector<std::string>{"AGE",         "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP",
                               "DATE_ADD",    "DATE_BIN",     "DATE_DIFF",    "DATE_PART",
                               "DATE_SUB",    "DATE_TRUNC",   "DAYNAME",      "DAYOFMONTH",
                               "DAYOFWEEK",   "DAYOFYEAR",    "EPOCH",        "EPOCH_MS",
                               "EXTRACT",     "HOUR",         "MAKE_DATE",    "MAKE_TIMESTAMP",
                               "MINUTE",      "MONTH",        "MONTHNAME",    "NOW",
                               "QUARTER",     "SECOND",       "STRFTIME",     "STRPTIME",
                               "TIME_BUCKET", "TO_TIMESTAMP", "WEEK",         "YEAR"});
  info.Set(pb::SQL_SEARCH_STRING_ESCAPE, std::string("\\"));
  info.Set(pb::SQL_EXTRA_NAME_CHARACTERS, std::string(""));
  info.Set(pb::SQL_SUPPORTS_COLUMN_ALIASING, true);
  info.Set(pb::SQL_NULL_PLUS_NULL_IS_NULL, true);
  info.Set(pb::SQL_SUPPORTS_CONVERT, SupportedConversions());
  info.Set(pb::SQL_SUPPORTS_TABLE_CORRELATION_NAMES, true);
  info.Set(pb::SQL_SUPPORTS_DIFFERENT_TABLE_CORRELATION_NAMES, false);
  info.Set(pb::SQL_SUPPORTS_EXPRESSIONS_IN_ORDER_BY, true);
  info.Set(pb::SQL_SUPPORTS_ORDER_BY_UNRELATED, true);
  info.Set(pb::SQL_SUPPORTED_GROUP_BY,
           Bits({pb::SQL_GROUP_BY_UNRELATED, pb::SQL_GROUP_BY_BEYOND_SELECT}));
  info.Set(pb::SQL_SUPPORTS_LIKE_ESCAPE_CLAUSE, true);
  info.Set(pb::SQL_SUPPORTS_NON_NULLABLE_COLUMNS, true);
  info.Set(pb::SQL_SUPPORTED_GRAMMAR,
           Bits({pb::SQL_MINIMUM_GRAMMAR, pb::SQL_CORE_GRAMMAR, pb::SQL_EXTENDED_GRAMMAR}));
  info.Set(pb::SQL_ANSI92_SUPPORTED_LEVEL,
           Bits({pb::ANSI92_ENTRY_SQL, pb::ANSI92_INTERMEDIATE_SQL, pb::ANSI92_FULL_SQL}));
  info.Set(pb::SQL_SUPPORTS_INTEGRITY_ENHANCEMENT_FACILITY, true);
  info.Set(pb::SQL_OUTER_JOINS_SUPPORT_LEVEL,
           Bits({pb::SQL_LIMITED_OUTER_JOINS, pb::SQL_FULL_OUTER_JOINS}));
  info.Set(pb::SQL_SCHEMA_TERM, std::string("schema"));
  info.Set(pb::SQL_PROCEDURE_TERM, std::string("procedure"));
  info.Set(pb::SQL_CATALOG_TERM, std::string("database"));
  info.Set(pb::SQL_CATALOG_AT_START, true);
  info.Set(pb::SQL_SCHEMAS_SUPPORTED_ACTIONS, Bits({pb::SQL_ELEMENT_IN_INDEX_DEFINITIONS}));
  info.Set(pb::SQL_CATALOGS_SUPPORTED_ACTIONS, Bits({pb::SQL_ELEMENT_IN_INDEX_DEFINITIONS}));
  info.Set(pb::SQL_SUPPORTED_POSITIONED_COMMANDS, int32_t{0});
  info.Set(pb::SQL_SELECT_FOR_UPDATE_SUPPORTED, false);
  info.Set(pb::SQL_STORED_PROCEDURES_SUPPORTED, false);
  info.Set(pb::SQL_SUPPORTED_SUBQUERIES,
           Bits({pb::SQL_SUBQUERIES_IN_COMPARISONS, pb::SQL_SUBQUERIES_IN_EXISTS,
                 pb::SQL_SUBQUERIES_IN_INS, pb::SQL_SUBQUERIES_IN_QUANTIFIEDS}));
  info.Set(pb::SQL_CORRELATED_SUBQUERIES_SUPPORTED, true);
  info.Set(pb::SQL_SUPPORTED_UNIONS, Bits({pb::SQL_UNION, pb::SQL_UNION_ALL}));
  // 0 means "no known limit" in JDBC's getMax* methods.
  for (pb::SqlInfo id : {pb::SQL_MAX_BINARY_LITERAL_LENGTH,
                         pb::SQL_MAX_CHAR_LITERAL_LENGTH,
                         pb::SQL_MAX_COLUMN_NAME_LENGTH,
                         pb::SQL_MAX_COLUMNS_IN_GROUP_BY,
                         pb::SQL_MAX_COLUMNS_IN_INDEX,
                         pb::SQL_MAX_COLUMNS_IN_ORDER_BY,
                         pb::SQL_MAX_COLUMNS_IN_SELECT,
                         pb::SQL_MAX_COLUMNS_IN_TABLE,
                         pb::SQL_MAX_CONNECTIONS,
                         pb::SQL_MAX_CURSOR_NAME_LENGTH,
                         pb::SQL_MAX_INDEX_LENGTH,
                         pb::SQL_DB_SCHEMA_NAME_LENGTH,
                         pb::SQL_MAX_PROCEDURE_NAME_LENGTH,
                         pb::SQL_MAX_CATALOG_NAME_LENGTH,
                         pb::SQL_MAX_ROW_SIZE,
                         pb::SQL_MAX_STATEMENT_LENGTH,
                         pb::SQL_MAX_STATEMENTS,
                         pb::SQL_MAX_TABLE_NAME_LENGTH,
                         pb::SQL_MAX_TABLES_IN_SELECT,
                         pb::SQL_MAX_USERNAME_LENGTH}) {
    info.Set(id, int64_t{0});
  }
  info.Set(pb::SQL_MAX_ROW_SIZE_INCLUDES_BLOBS, false);
  // DuckDB runs transactions with snapshot isolation, reported as SERIALIZABLE to JDBC.
  info.Set(pb::SQL_DEFAULT_TRANSACTION_ISOLATION, int64_t{pb::SQL_TRANSACTION_SERIALIZABLE});
  info.Set(pb::SQL_TRANSACTIONS_SUPPORTED, true);
  info.Set(pb::SQL_SUPPORTED_TRANSACTIONS_ISOLATION_LEVELS,
           Bits({pb::SQL_TRANSACTION_SERIALIZABLE}));
  info.Set(pb::SQL_DATA_DEFINITION_CAUSES_TRANSACTION_COMMIT, false);
  info.Set(pb::SQL_DATA_DEFINITIONS_IN_TRANSACTIONS_IGNORED, false);
  info.Set(pb::SQL_SUPPORTED_RESULT_SET_TYPES, Bits({pb::SQL_RESULT_SET_TYPE_FORWARD_ONLY}));
  info.Set(pb::SQL_SUPPORTED_CONCURRENCIES_FOR_RESULT_SET_UNSPECIFIED, int32_t{0});
  info.Set(pb::SQL_SUPPORTED_CONCURRENCIES_FOR_RESULT_SET_FORWARD_ONLY,
           Bits({pb::SQL_RESULT_SET_CONCURRENCY_READ_ONLY}));
  info.Set(pb::SQL_SUPPORTED_CONCURRENCIES_FOR_RESULT_SET_SCROLL_SENSITIVE, int32_t{0});
  info.Set(pb::SQL_SUPPORTED_CONCURRENCIES_FOR_RESULT_SET_SCROLL_INSENSITIVE, int32_t{0});
  info.Set(pb::SQL_BATCH_UPDATES_SUPPORTED, true);
  info.Set(pb::SQL_SAVEPOINTS_SUPPORTED, false);
  info.Set(pb::SQL_NAMED_PARAMETERS_SUPPORTED, false);
  info.Set(pb::SQL_LOCATORS_UPDATE_COPY, false);
  info.Set(pb::SQL_STORED_FUNCTIONS_USING_CALL_SYNTAX_SUPPORTED, false);
  return info;
}

std::shared_ptr<arrow::Schema> SqlInfo::ResultSchema() {
  auto value_type = arrow::dense_union(
      {arrow::field("string_value", arrow::utf8()), arrow::field("bool_value", arrow::boolean()),
       arrow::field("bigint_value", arrow::int64()), arrow::field("int32_bitmask", arrow::int32()),
       arrow::field("string_list", arrow::list(arrow::field("item", arrow::utf8()))),
       arrow::field("int32_to_int32_list_map",
                    arrow::map(arrow::int32(), arrow::list(arrow::field("item", arrow::int32()))))},
      {0, 1, 2, 3, 4, 5});
  return arrow::schema({arrow::field("info_name", arrow::uint32(), /*nullable=*/false),
                        arrow::field("value", value_type, /*nullable=*/false)});
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> SqlInfo::Build(
    const std::vector<uint32_t>& ids) const {
  auto schema = ResultSchema();
  std::unique_ptr<arrow::ArrayBuilder> value_builder;
  ARROW_RETURN_NOT_OK(
      arrow::MakeBuilder(arrow::default_memory_pool(), schema->field(1)->type(), &value_builder));
  auto& unions = static_cast<arrow::DenseUnionBuilder&>(*value_builder);
  auto& strings = static_cast<arrow::StringBuilder&>(*unions.child_builder(0));
  auto& bools = static_cast<arrow::BooleanBuilder&>(*unions.child_builder(1));
  auto& bigints = static_cast<arrow::Int64Builder&>(*unions.child_builder(2));
  auto& int32s = static_cast<arrow::Int32Builder&>(*unions.child_builder(3));
  auto& lists = static_cast<arrow::ListBuilder&>(*unions.child_builder(4));
  auto& list_items = static_cast<arrow::StringBuilder&>(*lists.value_builder());
  auto& maps = static_cast<arrow::MapBuilder&>(*unions.child_builder(5));
  auto& map_keys = static_cast<arrow::Int32Builder&>(*maps.key_builder());
  auto& map_values = static_cast<arrow::ListBuilder&>(*maps.item_builder());
  auto& map_value_items = static_cast<arrow::Int32Builder&>(*map_values.value_builder());
  arrow::UInt32Builder names;

  auto append = [&](uint32_t id, const SqlInfoValue& value) -> arrow::Status {
    ARROW_RETURN_NOT_OK(names.Append(id));
    ARROW_RETURN_NOT_OK(unions.Append(static_cast<int8_t>(value.index())));
    switch (value.index()) {
      case 0:
        return strings.Append(std::get<0>(value));
      case 1:
        return bools.Append(std::get<1>(value));
      case 2:
        return bigints.Append(std::get<2>(value));
      case 3:
        return int32s.Append(std::get<3>(value));
      case 4:
        ARROW_RETURN_NOT_OK(lists.Append());
        for (const auto& s : std::get<4>(value)) ARROW_RETURN_NOT_OK(list_items.Append(s));
        return arrow::Status::OK();
      default:
        ARROW_RETURN_NOT_OK(maps.Append());
        for (const auto& [key, items] : std::get<5>(value)) {
          ARROW_RETURN_NOT_OK(map_keys.Append(key));
          ARROW_RETURN_NOT_OK(map_values.Append());
          ARROW_RETURN_NOT_OK(map_value_items.AppendValues(items));
        }
        return arrow::Status::OK();
    }
  };
  if (ids.empty()) {
    for (const auto& [id, value] : values_) ARROW_RETURN_NOT_OK(append(id, value));
  } else {
    for (uint32_t id : ids) {
      auto it = values_.find(id);
      if (it != values_.end()) ARROW_RETURN_NOT_OK(append(id, it->second));
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto name_array, names.Finish());
  ARROW_ASSIGN_OR_RAISE(auto value_array, unions.Finish());
  return arrow::RecordBatch::Make(schema, name_array->length(), {name_array, value_array});
}

}  // namespace hyprstream::flightsql
