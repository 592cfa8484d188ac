#include "engine/duckdb_status.h"

#include <gtest/gtest.h>

namespace hyprstream::engine {
namespace {

TEST(DuckDbStatus, ParserErrorIsInvalidAndKeepsOnePositionBlock) {
  std::string block = "\n\nLINE 1: SELEC 1\n        ^";
  std::string message = "Parser Error: syntax error at or near \"SELEC\"" + block + block;
  arrow::Status status = StatusFromDuckDbMessage(message, "");
  EXPECT_TRUE(status.IsInvalid());
  EXPECT_EQ(status.message(), "Parser Error: syntax error at or near \"SELEC\"" + block);
}

TEST(DuckDbStatus, DistinctTailsAreKept) {
  std::string message = "Binder Error: x\n\nLINE 1: a\n\nLINE 2: b";
  EXPECT_EQ(StatusFromDuckDbMessage(message, "").message(), message);
}

TEST(DuckDbStatus, MissingTableIsKeyErrorWithContext) {
  arrow::Status status =
      StatusFromDuckDbMessage("Catalog Error: Table with name nope does not exist!", "query");
  EXPECT_TRUE(status.IsKeyError());
  EXPECT_EQ(status.message(), "query: Catalog Error: Table with name nope does not exist!");
}

TEST(DuckDbStatus, InterruptIsCancelled) {
  EXPECT_TRUE(StatusFromDuckDb(DUCKDB_ERROR_INTERRUPT, "INTERRUPT Error: stop", "").IsCancelled());
}

}  // namespace
}  // namespace hyprstream::engine
