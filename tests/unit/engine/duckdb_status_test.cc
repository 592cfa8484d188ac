#include "engine/duckdb_status.h"

#include <gtest/gtest.h>

#include "engine/engine.h"

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

TEST(DuckDbStatus, AWriteThatLostToAnotherTransactionIsAWriteConflict) {
  // DuckDB 1.4's texts, as the C API reports them (type) and as prepare reports them (prefix).
  for (const char* message : {
           "TransactionContext Error: Conflict on update!",
           "TransactionContext Error: Conflict on tuple deletion!",
           "TransactionContext Error: write-write conflict on key: \"1\"",
           "TransactionContext Error: Catalog write-write conflict on create with \"s\"",
           "TransactionContext Error: Transaction conflict: attempting to insert into table "
           "\"t\" but it has been altered by a different transaction",
           "TransactionContext Error: Failed to commit: Attempting to modify table t but another "
           "transaction has altered this table",
       }) {
    for (const arrow::Status& status :
         {StatusFromDuckDb(DUCKDB_ERROR_TRANSACTION, message, "execute"),
          StatusFromDuckDbMessage(message, "execute")}) {
      EXPECT_TRUE(IsWriteConflict(status)) << message << " -> " << status.ToString();
      EXPECT_EQ(status.message(), std::string("execute: ") + message);
    }
  }
  // The caller's own transaction mistakes stay statement errors.
  for (const char* message :
       {"TransactionContext Error: cannot start a transaction within a "
        "transaction",
        "TransactionContext Error: Current transaction is aborted (please "
        "ROLLBACK)",
        "TransactionContext Error: cannot commit - no transaction is active"}) {
    arrow::Status status = StatusFromDuckDbMessage(message, "");
    EXPECT_TRUE(status.IsInvalid()) << message;
    EXPECT_FALSE(IsWriteConflict(status)) << message;
  }
}

TEST(DuckDbStatus, InterruptIsCancelled) {
  EXPECT_TRUE(StatusFromDuckDb(DUCKDB_ERROR_INTERRUPT, "INTERRUPT Error: stop", "").IsCancelled());
}

}  // namespace
}  // namespace hyprstream::engine
