// GatedLoads: a layer over a test's backend engine that holds or paces the cache's load of a
// table, for tests of what goes on beside a load (writes, a start, a stop).
#pragma once

#include <arrow/api.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "engine/forwarding_engine.h"

namespace hyprstream::testing {

using namespace std::chrono_literals;

// Between the cache and its backend: holds a load's read of one table (the statement whose
// SQL is `load_query`; with GateRefreshes, also a refresh's, `load_query` WHERE ..., on a
// connection or a snapshot of the backend) open after its first batch while closed, until
// Open(); slow, a random pause before every batch; paced, a fixed one. The rows come 1,000 at
// a time (a copy then takes many reads). Thread-safe.
class GatedLoads : public engine::ForwardingEngine {
 public:
  GatedLoads(std::shared_ptr<engine::Engine> backend, std::string load_query)
      : ForwardingEngine(std::move(backend)), load_query_(std::move(load_query)) {}

  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    held_ = false;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = false;
    changed_.notify_all();
  }
  void Slow(bool slow) { slow_ = slow; }
  void GateRefreshes(bool on) { refreshes_ = on; }
  // Holds a read before its first batch instead (as a PostgreSQL scan for a first row would).
  void HoldBeforeTheFirstBatch(bool on) { before_first_ = on; }
  // Every batch of a load's read after the first takes `pace` (a large table's copy).
  void Pace(std::chrono::milliseconds pace) { pace_ms_ = pace.count(); }
  // Batches of loads' reads so far.
  int batches_read() const { return batches_read_; }
  // True once a load's copy is held (within 30 s).
  bool WaitUntilHeld() {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, 30s, [&] { return held_; });
  }
  // True when a held copy waited so long it went on without Open() (a write waited for it).
  bool gave_up() const { return gave_up_; }
  // The first query of a followed DELETE's check (its oldest time left, in the DELETE's
  // transaction) fails and aborts that transaction, as a failing check would.
  std::atomic<bool> fail_checks{false};

  arrow::Result<std::shared_ptr<engine::EngineConnection>> Connect() override {
    ARROW_ASSIGN_OR_RAISE(auto inner, target().Connect());
    return std::make_shared<Connection>(this, std::move(inner));
  }
  arrow::Result<std::shared_ptr<engine::EngineConnection>> SnapshotConnection(
      const std::string& schema, const std::string& table) override {
    ARROW_ASSIGN_OR_RAISE(auto inner, target().SnapshotConnection(schema, table));
    return std::make_shared<Connection>(this, std::move(inner));
  }

 private:
  bool Gated(const std::string& sql) const {
    return sql == load_query_ || (refreshes_ && sql.starts_with(load_query_ + " WHERE "));
  }
  void Hold(bool first_batch_read) {
    ++batches_read_;
    if (first_batch_read && pace_ms_ > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(pace_ms_.load()));
    }
    if (slow_) {
      thread_local std::mt19937 random(std::random_device{}());
      std::this_thread::sleep_for(std::chrono::milliseconds(random() % 7));
    }
    if (!first_batch_read && !before_first_) return;
    std::unique_lock<std::mutex> lock(mutex_);
    if (!closed_) return;
    held_ = true;
    changed_.notify_all();
    if (!changed_.wait_for(lock, 20s, [&] { return !closed_; })) gave_up_ = true;
  }

  class Rows : public arrow::RecordBatchReader {
   public:
    Rows(GatedLoads* gate, std::shared_ptr<arrow::RecordBatchReader> rows)
        : gate_(gate), rows_(std::move(rows)) {}
    std::shared_ptr<arrow::Schema> schema() const override { return rows_->schema(); }
    // 1,000 rows at a time (the copy then takes many reads).
    arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) override {
      gate_->Hold(batches_read_++ > 0);
      if (!pending_ || pending_->num_rows() == 0) {
        ARROW_RETURN_NOT_OK(rows_->ReadNext(&pending_));
        if (!pending_) {
          *batch = nullptr;
          return arrow::Status::OK();
        }
      }
      const int64_t n = std::min<int64_t>(1000, pending_->num_rows());
      *batch = pending_->Slice(0, n);
      pending_ = pending_->Slice(n);
      return arrow::Status::OK();
    }

   private:
    GatedLoads* gate_;
    std::shared_ptr<arrow::RecordBatchReader> rows_;
    std::shared_ptr<arrow::RecordBatch> pending_;
    int batches_read_ = 0;
  };
  class Statement : public engine::ForwardingStatement {
   public:
    Statement(GatedLoads* gate, std::unique_ptr<engine::EngineStatement> inner)
        : ForwardingStatement(std::move(inner)), gate_(gate) {}
    arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> ExecuteQuery() override {
      ARROW_ASSIGN_OR_RAISE(auto rows, target().ExecuteQuery());
      return std::make_shared<Rows>(gate_, std::move(rows));
    }

   private:
    GatedLoads* gate_;
  };
  class Connection : public engine::ForwardingConnection {
   public:
    Connection(GatedLoads* gate, std::shared_ptr<engine::EngineConnection> inner)
        : ForwardingConnection(std::move(inner)), gate_(gate) {}
    arrow::Result<std::unique_ptr<engine::EngineStatement>> Prepare(
        const std::string& sql) override {
      if (gate_->fail_checks && sql.starts_with("SELECT min(") && target().InTransaction()) {
        if (auto failing = target().Prepare("SELECT CAST('not a number' AS INTEGER)");
            failing.ok()) {
          (void)(*failing)->ExecuteUpdate();
        }
        return arrow::Status::IOError("the check failed (a test's gate)");
      }
      ARROW_ASSIGN_OR_RAISE(auto statement, target().Prepare(sql));
      if (!gate_->Gated(sql)) return statement;
      return std::make_unique<Statement>(gate_, std::move(statement));
    }

   private:
    GatedLoads* gate_;
  };

  const std::string load_query_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool closed_ = false;  // GUARDED_BY(mutex_)
  bool held_ = false;    // GUARDED_BY(mutex_)
  std::atomic<bool> gave_up_{false}, slow_{false}, refreshes_{false}, before_first_{false};
  std::atomic<int> batches_read_{0};
  std::atomic<int64_t> pace_ms_{0};
};

}  // namespace hyprstream::testing
