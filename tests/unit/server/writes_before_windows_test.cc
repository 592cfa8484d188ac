// Writes that began before their table had windows: a statement prepared then, a stream
// opened then, a transaction that wrote then, writes in flight while a window is created. The
// windows must get their rows, or not answer: an answer from window state equals the query
// over the table's rows. Embedded DuckDB (Windowed(DuckDB)) and behind the cache
// (Windowed(Cached(DuckDB))); real DuckDB throughout.
// (Under tests/unit/server: the stack needs both the window and the cache module.)
#include <gtest/gtest.h>

#include <arrow/api.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "../engine/engine_test_util.h"
#include "engine/engine_sql.h"
#include "windows_test_util.h"

namespace hyprstream {
namespace {

using engine::testing::Query;
using engine::testing::Update;
using namespace std::chrono_literals;

using testing::Answer;
using testing::kTrailing;
using testing::NowMicros;

std::shared_ptr<arrow::Schema> RowSchema() {
  return arrow::schema({arrow::field("sym", arrow::utf8()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
                        arrow::field("v", arrow::float64())});
}

// `count` rows of `sym`, values from `first`, a minute or less old.
std::shared_ptr<arrow::RecordBatch> Rows(const std::string& sym, int first, int count) {
  arrow::StringBuilder syms;
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                             arrow::default_memory_pool());
  arrow::DoubleBuilder v;
  const int64_t now = NowMicros();
  for (int i = 0; i < count; ++i) {
    EXPECT_TRUE(syms.Append(sym).ok());
    EXPECT_TRUE(ts.Append(now - (first + i) % 60 * 1000000LL).ok());
    EXPECT_TRUE(v.Append(first + i).ok());
  }
  return arrow::RecordBatch::Make(RowSchema(), count, {*syms.Finish(), *ts.Finish(), *v.Finish()});
}

arrow::Result<Answer> Ask(engine::EngineConnection& connection) {
  return testing::Ask(connection, kTrailing);
}

class WritesBeforeWindowsTest : public ::testing::TestWithParam<bool> {
 protected:
  bool cached() const { return GetParam(); }

  void SetUp() override {
    backend_ = engine::testing::OpenMemoryEngine();
    direct_ = *backend_->Connect();
    ASSERT_TRUE(Update(*direct_, "CREATE TABLE t (sym VARCHAR, ts TIMESTAMP, v DOUBLE)").ok());
    auto windowed = testing::OpenWindowedStack(backend_, cached());
    ASSERT_TRUE(windowed.ok()) << windowed.status().ToString();
    engine_ = *windowed;
    client_ = *engine_->Connect();
  }
  void TearDown() override {
    client_.reset();
    engine_.reset();
  }

  arrow::Status CreateWindow(engine::EngineConnection& connection) {
    return Query(connection,
                 "SELECT * FROM hyprstream_create_window('w', 't', keys := 'sym', "
                 "time_column := 'ts', value_columns := 'v', windows := 'trailing 1h')")
        .status();
  }
  arrow::Status DropWindow() {
    return Query(*client_, "SELECT * FROM hyprstream_drop_window('w')").status();
  }

  arrow::Status Ingest(engine::EngineConnection& connection,
                       std::shared_ptr<arrow::RecordBatch> rows) {
    engine::IngestRequest request;
    request.table = "t";
    request.if_exists = engine::IngestRequest::IfExists::kAppend;
    auto reader = engine::testing::ReaderOf(RowSchema(), {std::move(rows)});
    return connection.Ingest(request, reader.get()).status();
  }

  // A statement `INSERT INTO t VALUES (?, now() - INTERVAL 1 SECOND, ?)`, prepared now.
  std::unique_ptr<engine::EngineStatement> PrepareInsert(engine::EngineConnection& connection) {
    auto statement = connection.Prepare(
        "INSERT INTO t VALUES (?, CAST(now() AS TIMESTAMP) - INTERVAL 1 SECOND, ?)");
    EXPECT_TRUE(statement.ok()) << statement.status().ToString();
    return statement.ok() ? std::move(*statement) : nullptr;
  }
  static arrow::Status Run(engine::EngineStatement& insert, const std::string& sym, double v) {
    auto schema =
        arrow::schema({arrow::field("0", arrow::utf8()), arrow::field("1", arrow::float64())});
    arrow::StringBuilder syms;
    arrow::DoubleBuilder values;
    ARROW_RETURN_NOT_OK(syms.Append(sym));
    ARROW_RETURN_NOT_OK(values.Append(v));
    ARROW_ASSIGN_OR_RAISE(auto s, syms.Finish());
    ARROW_ASSIGN_OR_RAISE(auto d, values.Finish());
    ARROW_RETURN_NOT_OK(insert.Bind(arrow::RecordBatch::Make(schema, 1, {s, d})));
    return insert.ExecuteUpdate().status();
  }

  // Window state answers (behind the cache: once its copy has caught up) and equals the
  // query over the backend's rows.
  void ExpectWindowsAnswerAsTheBackend() {
    Answer last;
    for (int attempt = 0; attempt < 200; ++attempt) {
      auto answer = Ask(*client_);
      ASSERT_TRUE(answer.ok()) << answer.status().ToString();
      last = *answer;
      if (last.source == "windows") {
        auto want = Query(*direct_, kTrailing);
        ASSERT_TRUE(want.ok()) << want.status().ToString();
        // Behind the cache the copy may still be catching up with a write: ask again.
        if (last.rows->Equals(**want) || !cached()) {
          EXPECT_TRUE(last.rows->Equals(**want)) << "windows:\n"
                                                 << last.rows->ToString() << "\nbackend:\n"
                                                 << (*want)->ToString();
          return;
        }
      }
      std::this_thread::sleep_for(50ms);
    }
    std::string mirrors;
    if (cached()) {
      auto t =
          Query(*client_,
                "SELECT table_name, state, rows, loads, last_error FROM hyprstream_cache_tables()");
      mirrors = t.ok() ? (*t)->ToString() : t.status().ToString();
    }
    FAIL() << "window state never answered the backend's rows; mirrors: " << mirrors
           << "; last from " << last.source << ":\n"
           << last.rows->ToString() << "\nbackend:\n"
           << (*Query(*direct_, kTrailing))->ToString();
  }
  // Whatever answers equals the backend's rows.
  void ExpectTheBackendsAnswer() {
    auto answer = Ask(*client_);
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    auto want = Query(*direct_, kTrailing);
    ASSERT_TRUE(want.ok());
    EXPECT_TRUE(answer->rows->Equals(**want)) << "from " << answer->source << ":\n"
                                              << answer->rows->ToString() << "\nbackend:\n"
                                              << (*want)->ToString();
  }

  std::shared_ptr<engine::Engine> backend_, engine_;
  std::shared_ptr<engine::EngineConnection> direct_, client_;
};

TEST_P(WritesBeforeWindowsTest, AnInsertPreparedBeforeTheWindowFeedsIt) {
  auto insert = PrepareInsert(*client_);
  ASSERT_TRUE(insert);
  ASSERT_TRUE(Run(*insert, "a", 1).ok());
  ASSERT_TRUE(CreateWindow(*client_).ok());
  ASSERT_TRUE(Run(*insert, "a", 2).ok());
  ASSERT_TRUE(Run(*insert, "b", 5).ok());
  ExpectWindowsAnswerAsTheBackend();
  // Dropped again: the statement still inserts.
  ASSERT_TRUE(DropWindow().ok());
  ASSERT_TRUE(Run(*insert, "c", 7).ok());
  EXPECT_EQ(*engine::testing::QueryInt(*direct_, "SELECT count(*) FROM t"), 4);
}

// The windows cannot follow a DELETE: prepared before they existed, it runs as one prepared
// now (on these engines: allowed, the windows rebuilt after it), never around them.
TEST_P(WritesBeforeWindowsTest, ADeletePreparedBeforeTheWindowRebuildsItOnceItExists) {
  ASSERT_TRUE(Ingest(*client_, Rows("a", 0, 3)).ok());
  auto remove = client_->Prepare("DELETE FROM t WHERE v < 1");
  ASSERT_TRUE(remove.ok()) << remove.status().ToString();
  ASSERT_TRUE(CreateWindow(*client_).ok());
  ExpectWindowsAnswerAsTheBackend();
  auto ran = (*remove)->ExecuteUpdate();
  ASSERT_TRUE(ran.ok()) << ran.status().ToString();
  EXPECT_EQ(*engine::testing::QueryInt(*direct_, "SELECT count(*) FROM t"), 2);
  ExpectTheBackendsAnswer();
  ExpectWindowsAnswerAsTheBackend();
}

TEST_P(WritesBeforeWindowsTest, AStreamOpenedBeforeTheWindowFeedsIt) {
  auto appender = engine_->OpenAppender({"t"}, RowSchema());
  ASSERT_TRUE(appender.ok()) << appender.status().ToString();
  ASSERT_TRUE((*appender)->Append(*Rows("a", 0, 4)).ok());
  ASSERT_TRUE(CreateWindow(*client_).ok());
  ASSERT_TRUE((*appender)->Append(*Rows("a", 10, 4)).ok());
  ASSERT_TRUE((*appender)->Append(*Rows("b", 20, 2)).ok());
  ExpectWindowsAnswerAsTheBackend();
}

TEST_P(WritesBeforeWindowsTest, ATransactionThatWroteBeforeTheWindowCommitsAfterIt) {
  ASSERT_TRUE(Ingest(*client_, Rows("a", 0, 2)).ok());
  auto writer = *engine_->Connect();
  ASSERT_TRUE(writer->BeginTransaction().ok());
  // (Ingests: the cache takes their rows at the commit and loads nothing again.)
  ASSERT_TRUE(Ingest(*writer, Rows("b", 0, 3)).ok());
  ASSERT_TRUE(Ingest(*writer, Rows("c", 5, 1)).ok());
  // Defined while the transaction is open: built without its rows.
  ASSERT_TRUE(CreateWindow(*client_).ok());
  ASSERT_TRUE(writer->Commit().ok());
  // Never an answer without the committed rows; then the windows are rebuilt and answer
  // again: behind the cache from its copy, embedded from a snapshot of the stored rows.
  ExpectTheBackendsAnswer();
  auto listed = engine::testing::Query(*client_, "SELECT state FROM hyprstream_windows()");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ((*listed)->num_rows(), 1);
  const std::string state = (*(*listed)->column(0)->GetScalar(0))->ToString();
  EXPECT_TRUE(state == "rebuilding" || state == "writing history" || state == "answering") << state;
  ExpectWindowsAnswerAsTheBackend();
}

// Randomised: writers insert through statements prepared before any window, ingest and
// stream while the window is created and dropped again and again; after each creation, once
// the writers pause, window state equals the backend's rows.
TEST_P(WritesBeforeWindowsTest, WritesInFlightWhileAWindowIsCreatedReachIt) {
  for (int round = 0; round < 6; ++round) {
    std::atomic<bool> stop{false};
    std::atomic<int> failures{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 3; ++w) {
      writers.emplace_back([&, w, round] {
        std::mt19937 random(static_cast<unsigned>(round * 7 + w));
        auto connection = *engine_->Connect();
        auto insert = PrepareInsert(*connection);
        auto appender = engine_->OpenAppender({"t"}, RowSchema());
        const std::string sym(1, static_cast<char>('a' + w));
        int next = 0;
        while (!stop) {
          arrow::Status status;
          switch (random() % 3) {
            case 0:
              status = Run(*insert, sym, next++);
              break;
            case 1:
              status = Ingest(*connection, Rows(sym, next, 3));
              next += 3;
              break;
            case 2:
              status = appender.ok() ? (*appender)->Append(*Rows(sym, next, 2)).status()
                                     : appender.status();
              next += 2;
              break;
          }
          if (!status.ok()) {
            ADD_FAILURE() << status.ToString();
            failures++;
            return;
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + round * 10));
    auto creator = *engine_->Connect();
    ASSERT_TRUE(CreateWindow(*creator).ok());
    std::this_thread::sleep_for(30ms);
    stop = true;
    for (auto& writer : writers) writer.join();
    ASSERT_EQ(failures.load(), 0);
    ExpectWindowsAnswerAsTheBackend();
    ASSERT_TRUE(DropWindow().ok());
  }
}

INSTANTIATE_TEST_SUITE_P(Stack, WritesBeforeWindowsTest, ::testing::Values(false, true),
                         [](const auto& info) {
                           return info.param ? std::string("Cached") : std::string("Embedded");
                         });

}  // namespace
}  // namespace hyprstream
