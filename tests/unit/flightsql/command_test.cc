#include "flightsql/command.h"

#include <google/protobuf/any.pb.h>
#include <gtest/gtest.h>

namespace hyprstream::flightsql {
namespace {

TEST(DecodeCommandTest, DecodesStatementQuery) {
  pb::CommandStatementQuery query;
  query.set_query("SELECT 1");
  query.set_transaction_id("txn");
  auto command = DecodeCommand(PackAny(query));
  ASSERT_TRUE(command.ok()) << command.status().ToString();
  auto* decoded = std::get_if<pb::CommandStatementQuery>(&*command);
  ASSERT_NE(decoded, nullptr);
  EXPECT_EQ(decoded->query(), "SELECT 1");
  EXPECT_EQ(decoded->transaction_id(), "txn");
  EXPECT_EQ(CommandName(*command), "CommandStatementQuery");
}

TEST(DecodeCommandTest, DecodesIngestWithOptions) {
  pb::CommandStatementIngest ingest;
  ingest.set_table("metrics");
  ingest.set_schema("main");
  ingest.mutable_table_definition_options()->set_if_exists(
      pb::CommandStatementIngest::TableDefinitionOptions::TABLE_EXISTS_OPTION_APPEND);
  auto command = DecodeCommand(PackAny(ingest));
  ASSERT_TRUE(command.ok());
  auto& decoded = std::get<pb::CommandStatementIngest>(*command);
  EXPECT_EQ(decoded.table(), "metrics");
  EXPECT_TRUE(decoded.has_schema());
  EXPECT_FALSE(decoded.has_catalog());
  EXPECT_EQ(decoded.table_definition_options().if_exists(),
            pb::CommandStatementIngest::TableDefinitionOptions::TABLE_EXISTS_OPTION_APPEND);
}

TEST(DecodeCommandTest, UnknownTypeIsNotImplementedAndNamesTheTypeUrl) {
  google::protobuf::Any any;
  any.set_type_url("type.googleapis.com/foo.Bar");
  auto command = DecodeCommand(any.SerializeAsString());
  ASSERT_FALSE(command.ok());
  EXPECT_TRUE(command.status().IsNotImplemented());
  EXPECT_NE(command.status().message().find("type.googleapis.com/foo.Bar"), std::string::npos);
}

TEST(DecodeCommandTest, GarbageIsInvalid) {
  auto command = DecodeCommand(std::string("\xff\xff\xff\x01garbage", 11));
  ASSERT_FALSE(command.ok());
  EXPECT_TRUE(command.status().IsInvalid()) << command.status().ToString();
}

TEST(DecodeCommandTest, EmptyBytesAreInvalid) {
  auto command = DecodeCommand("");
  ASSERT_FALSE(command.ok());
  EXPECT_TRUE(command.status().IsInvalid());
}

TEST(DecodeCommandTest, MalformedPayloadIsInvalid) {
  google::protobuf::Any any;
  any.set_type_url("type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery");
  any.set_value(std::string("\x0a\x50short", 7));  // length prefix longer than the data
  auto command = DecodeCommand(any.SerializeAsString());
  ASSERT_FALSE(command.ok());
  EXPECT_TRUE(command.status().IsInvalid()) << command.status().ToString();
}

TEST(UnpackAsTest, RejectsTheWrongMessageType) {
  pb::CommandStatementQuery query;
  auto request = UnpackAs<pb::ActionBeginTransactionRequest>(PackAny(query), "BeginTransaction");
  ASSERT_FALSE(request.ok());
  EXPECT_TRUE(request.status().IsInvalid());
  EXPECT_NE(request.status().message().find("CommandStatementQuery"), std::string::npos);
}

TEST(UnpackAsTest, UnpacksTheRightMessageType) {
  pb::ActionEndTransactionRequest end;
  end.set_transaction_id("abc");
  end.set_action(pb::ActionEndTransactionRequest::END_TRANSACTION_ROLLBACK);
  auto request = UnpackAs<pb::ActionEndTransactionRequest>(PackAny(end), "EndTransaction");
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->transaction_id(), "abc");
  EXPECT_EQ(request->action(), pb::ActionEndTransactionRequest::END_TRANSACTION_ROLLBACK);
}

}  // namespace
}  // namespace hyprstream::flightsql
