// PreparingReader: incoming batches prepared one ahead. Checks, over random batch sizes on
// both sides of kAheadRows, that the prepared batches come out in order, equal to preparing
// them one by one, with at most one prepare running at a time; that batch N+1 is prepared
// while the consumer still holds batch N; that a read or prepare failure surfaces right after
// the batches before it (and again after that); that every read is on the consumer's thread;
// and that dropping the reader early waits for the batch in flight.
#include "window/preparing_reader.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

namespace hyprstream::window {
namespace {

std::shared_ptr<arrow::Schema> InSchema() {
  return arrow::schema({arrow::field("v", arrow::int64())});
}
std::shared_ptr<arrow::Schema> OutSchema() {
  return arrow::schema({arrow::field("v", arrow::int64()), arrow::field("seq", arrow::int64())});
}

std::shared_ptr<arrow::RecordBatch> Incoming(int64_t first, int64_t rows) {
  arrow::Int64Builder builder;
  for (int64_t i = 0; i < rows; ++i) EXPECT_TRUE(builder.Append(first + i).ok());
  return arrow::RecordBatch::Make(InSchema(), rows, {builder.Finish().ValueOrDie()});
}

// Yields `batches`, then fails with `fail_at` (if set) instead of batch `fail_at`.
class ListReader : public arrow::RecordBatchReader {
 public:
  ListReader(arrow::RecordBatchVector batches, int fail_at = -1)
      : batches_(std::move(batches)), fail_at_(fail_at) {}
  std::shared_ptr<arrow::Schema> schema() const override { return InSchema(); }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) override {
    threads_.push_back(std::this_thread::get_id());
    if (next_ == fail_at_) return arrow::Status::IOError("stream broke at batch ", next_);
    *batch = next_ < static_cast<int>(batches_.size()) ? batches_[next_] : nullptr;
    ++next_;
    return arrow::Status::OK();
  }
  int reads() const { return next_; }
  // The thread of each read, in order.
  const std::vector<std::thread::id>& threads() const { return threads_; }

 private:
  arrow::RecordBatchVector batches_;
  std::vector<std::thread::id> threads_;
  int fail_at_;
  int next_ = 0;
};

// Prepares by adding the running count of rows prepared before each row: a result that
// depends on every earlier batch having been prepared first (like the running columns).
struct CountingPrepare {
  std::atomic<int> running{0};
  std::atomic<int> most_at_once{0};
  std::atomic<int> calls{0};
  int64_t rows_before = 0;  // touched by one prepare at a time
  int fail_at = -1;

  arrow::Result<std::shared_ptr<arrow::RecordBatch>> operator()(
      const std::shared_ptr<arrow::RecordBatch>& batch) {
    const int now = ++running;
    int most = most_at_once.load();
    while (now > most && !most_at_once.compare_exchange_weak(most, now)) {
    }
    const int call = calls++;
    struct Leave {
      std::atomic<int>& running;
      ~Leave() { --running; }
    } leave{running};
    if (call == fail_at) return arrow::Status::Invalid("bad rows in batch ", call);
    arrow::Int64Builder seq;
    for (int64_t i = 0; i < batch->num_rows(); ++i) {
      ARROW_RETURN_NOT_OK(seq.Append(rows_before + i));
    }
    rows_before += batch->num_rows();
    ARROW_ASSIGN_OR_RAISE(auto seq_array, seq.Finish());
    return arrow::RecordBatch::Make(OutSchema(), batch->num_rows(), {batch->column(0), seq_array});
  }
};

PreparingReader::Prepare Calling(CountingPrepare* prepare) {
  return [prepare](const std::shared_ptr<arrow::RecordBatch>& batch) { return (*prepare)(batch); };
}

// Reads until the end or the first error: the batches read and the last status.
std::pair<int, arrow::Status> ReadAll(PreparingReader& reader) {
  int batches = 0;
  while (true) {
    std::shared_ptr<arrow::RecordBatch> batch;
    arrow::Status status = reader.ReadNext(&batch);
    if (!status.ok() || batch == nullptr) return {batches, status};
    ++batches;
  }
}

TEST(PreparingReaderTest, RandomBatchesComeOutPreparedInOrder) {
  for (int seed = 0; seed < 30; ++seed) {
    std::mt19937_64 random(seed);
    std::uniform_int_distribution<int64_t> small(0, PreparingReader::kAheadRows - 1);
    std::uniform_int_distribution<int64_t> large(PreparingReader::kAheadRows, 40000);
    arrow::RecordBatchVector incoming;
    int64_t first = 0;
    const int count = static_cast<int>(random() % 12);
    for (int b = 0; b < count; ++b) {
      const int64_t rows = random() % 2 ? small(random) : large(random);
      incoming.push_back(Incoming(first, rows));
      first += rows;
    }
    // Expected: each batch prepared one after the other, here.
    CountingPrepare alone;
    arrow::RecordBatchVector expected;
    for (const auto& batch : incoming) expected.push_back(alone(batch).ValueOrDie());

    ListReader inner(incoming);
    CountingPrepare counting;
    PreparingReader reader(&inner, OutSchema(), Calling(&counting));
    arrow::RecordBatchVector got;
    while (true) {
      std::shared_ptr<arrow::RecordBatch> batch;
      ASSERT_TRUE(reader.ReadNext(&batch).ok());
      if (batch == nullptr) break;
      got.push_back(batch);
    }
    std::shared_ptr<arrow::RecordBatch> after;
    ASSERT_TRUE(reader.ReadNext(&after).ok());
    EXPECT_EQ(after, nullptr) << "seed " << seed;
    ASSERT_EQ(got.size(), expected.size()) << "seed " << seed;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_TRUE(got[i]->Equals(*expected[i])) << "seed " << seed << " batch " << i;
    }
    const auto kept = reader.TakeRows();
    ASSERT_EQ(kept.size(), got.size());
    for (size_t i = 0; i < kept.size(); ++i) EXPECT_EQ(kept[i], got[i]);
    EXPECT_EQ(reader.prepared_any(), count > 0);
    EXPECT_FALSE(reader.holds_unread());
    EXPECT_LE(counting.most_at_once.load(), 1) << "seed " << seed;
    EXPECT_EQ(counting.calls.load(), count);
  }
}

TEST(PreparingReaderTest, PreparesTheNextBatchWhileTheConsumerHoldsOne) {
  const int64_t rows = PreparingReader::kAheadRows;
  ListReader inner({Incoming(0, rows), Incoming(rows, rows)});
  std::mutex mutex;
  std::condition_variable changed;
  int started = 0;
  PreparingReader reader(&inner, OutSchema(),
                         [&](const std::shared_ptr<arrow::RecordBatch>& batch)
                             -> arrow::Result<std::shared_ptr<arrow::RecordBatch>> {
                           std::lock_guard<std::mutex> lock(mutex);
                           ++started;
                           changed.notify_all();
                           return arrow::RecordBatch::Make(OutSchema(), batch->num_rows(),
                                                           {batch->column(0), batch->column(0)});
                         });
  std::shared_ptr<arrow::RecordBatch> first;
  ASSERT_TRUE(reader.ReadNext(&first).ok());
  ASSERT_NE(first, nullptr);
  // The consumer holds batch 0 and calls nothing: batch 1's prepare starts anyway. (A bound on
  // the wait only keeps a broken reader from hanging the test.)
  std::unique_lock<std::mutex> lock(mutex);
  EXPECT_TRUE(changed.wait_for(lock, std::chrono::seconds(60), [&] { return started == 2; }));
  EXPECT_EQ(inner.reads(), 2);
}

TEST(PreparingReaderTest, ReadFailureComesAfterTheBatchesBeforeIt) {
  for (int fail_at = 0; fail_at < 4; ++fail_at) {
    const int64_t rows = PreparingReader::kAheadRows + 1;
    ListReader inner({Incoming(0, rows), Incoming(rows, rows), Incoming(2 * rows, 5)}, fail_at);
    CountingPrepare counting;
    PreparingReader reader(&inner, OutSchema(), Calling(&counting));
    auto [batches, status] = ReadAll(reader);
    // fail_at 3: the read that would have said "end" fails.
    EXPECT_TRUE(status.IsIOError()) << fail_at;
    EXPECT_EQ(batches, fail_at);
    std::shared_ptr<arrow::RecordBatch> again;
    EXPECT_TRUE(reader.ReadNext(&again).IsIOError());
    EXPECT_EQ(again, nullptr);
    EXPECT_EQ(counting.calls.load(), fail_at);
    EXPECT_EQ(reader.prepared_any(), fail_at > 0);
  }
}

TEST(PreparingReaderTest, PrepareFailureComesAfterTheBatchesBeforeIt) {
  for (int fail_at = 0; fail_at < 3; ++fail_at) {
    const int64_t rows = PreparingReader::kAheadRows * 2;
    ListReader inner({Incoming(0, rows), Incoming(rows, 3), Incoming(rows + 3, rows)});
    CountingPrepare counting;
    counting.fail_at = fail_at;
    PreparingReader reader(&inner, OutSchema(), Calling(&counting));
    auto [batches, status] = ReadAll(reader);
    EXPECT_TRUE(status.IsInvalid()) << fail_at;
    EXPECT_EQ(batches, fail_at);
    EXPECT_EQ(reader.TakeRows().size(), static_cast<size_t>(fail_at));
    EXPECT_TRUE(reader.prepared_any());
    std::shared_ptr<arrow::RecordBatch> again;
    EXPECT_TRUE(reader.ReadNext(&again).IsInvalid());
  }
}

TEST(PreparingReaderTest, DroppedEarlyWaitsForTheBatchInFlight) {
  const int64_t rows = PreparingReader::kAheadRows * 4;
  auto counting = std::make_unique<CountingPrepare>();
  {
    ListReader inner({Incoming(0, rows), Incoming(rows, rows), Incoming(2 * rows, rows)});
    PreparingReader reader(&inner, OutSchema(), Calling(counting.get()));
    std::shared_ptr<arrow::RecordBatch> batch;
    ASSERT_TRUE(reader.ReadNext(&batch).ok());
    ASSERT_NE(batch, nullptr);
    reader.Settle();
    EXPECT_TRUE(reader.holds_unread());  // batch 1: prepared, never handed out
  }                                      // the reader waited for it
  EXPECT_EQ(counting->calls.load(), 2);
  EXPECT_EQ(counting->running.load(), 0);
}

TEST(PreparingReaderTest, ReadsOnTheConsumersThreadOnly) {
  // A read may wait for the client as long as it likes: never on the CPU pool, whose tasks
  // prepare the large batches.
  const int64_t large = PreparingReader::kAheadRows * 2;
  ListReader inner({Incoming(0, large), Incoming(large, large), Incoming(2 * large, 5),
                    Incoming(2 * large + 5, large)});
  CountingPrepare counting;
  PreparingReader reader(&inner, OutSchema(), Calling(&counting));
  auto [batches, status] = ReadAll(reader);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(batches, 4);
  ASSERT_EQ(inner.threads().size(), 5u);  // four batches and the end
  for (size_t k = 0; k < inner.threads().size(); ++k) {
    EXPECT_EQ(inner.threads()[k], std::this_thread::get_id()) << "read " << k;
  }
}

TEST(PreparingReaderTest, EmptyInputPreparesNothing) {
  ListReader inner({});
  CountingPrepare counting;
  PreparingReader reader(&inner, OutSchema(), Calling(&counting));
  std::shared_ptr<arrow::RecordBatch> batch;
  ASSERT_TRUE(reader.ReadNext(&batch).ok());
  EXPECT_EQ(batch, nullptr);
  EXPECT_FALSE(reader.prepared_any());
  EXPECT_EQ(counting.calls.load(), 0);
}

}  // namespace
}  // namespace hyprstream::window
