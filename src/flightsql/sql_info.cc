#include "flightsql/sql_info.h"

#include <arrow/builder.h>

#include "flight_sql.pb.h"

namespace hyprstream::flightsql {
namespace pb = arrow::flight::protocol::sql;

SqlInfo SqlInfo::ForServer(std::string engine_name) {
  SqlInfo info;
  info.Set(pb::FLIGHT_SQL_SERVER_NAME, std::string("hyprstream"));
  info.Set(pb::FLIGHT_SQL_SERVER_VERSION, std::string(HYPRSTREAM_VERSION));
  info.Set(pb::FLIGHT_SQL_SERVER_ARROW_VERSION, std::string(HYPRSTREAM_ARROW_VERSION));
  info.Set(pb::FLIGHT_SQL_SERVER_READ_ONLY, false);
  info.Set(pb::FLIGHT_SQL_SERVER_SQL, true);
  info.Set(pb::FLIGHT_SQL_SERVER_SUBSTRAIT, false);
  info.Set(pb::FLIGHT_SQL_SERVER_TRANSACTION,
           static_cast<int32_t>(pb::SQL_SUPPORTED_TRANSACTION_TRANSACTION));
  info.Set(pb::FLIGHT_SQL_SERVER_CANCEL, false);
  info.Set(pb::FLIGHT_SQL_SERVER_BULK_INGESTION, true);
  info.Set(pb::FLIGHT_SQL_SERVER_INGEST_TRANSACTIONS_SUPPORTED, true);
  info.Set(pb::SQL_DDL_CATALOG, false);
  info.Set(pb::SQL_DDL_SCHEMA, true);
  info.Set(pb::SQL_DDL_TABLE, true);
  info.Set(pb::SQL_IDENTIFIER_QUOTE_CHAR, std::string("\""));
  info.Set(pb::SQL_TRANSACTIONS_SUPPORTED, true);
  (void)engine_name;
  return info;
}

std::shared_ptr<arrow::Schema> SqlInfo::ResultSchema() {
  auto value_type = arrow::dense_union(
      {arrow::field("string_value", arrow::utf8()), arrow::field("bool_value", arrow::boolean()),
       arrow::field("bigint_value", arrow::int64()),
       arrow::field("int32_bitmask", arrow::int32()),
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
      case 0: return strings.Append(std::get<0>(value));
      case 1: return bools.Append(std::get<1>(value));
      case 2: return bigints.Append(std::get<2>(value));
      case 3: return int32s.Append(std::get<3>(value));
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
