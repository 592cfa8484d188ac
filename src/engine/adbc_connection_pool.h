// AdbcConnectionPool: one AdbcDatabase and up to `max` open AdbcConnections, lent out one
// holder at a time as AdbcConnectionLease. Thread-safe; the pool mutex is never held during a
// backend call (opening, closing and using connections happen outside it). A lease marked
// broken (its connection failed with a connection error) is closed instead of returned, and a
// connection failure also drops the idle connections (a restarted backend killed them all);
// new connections are opened on demand, so the pool recovers when the backend comes back.
#pragma once

#include <arrow/result.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/adbc_driver.h"

namespace hyprstream::engine {

class AdbcConnectionPool;

// One borrowed AdbcConnection; returned to the pool when destroyed. Not thread-safe except
// Cancel().
class AdbcConnectionLease {
 public:
  ~AdbcConnectionLease();
  AdbcConnectionLease(const AdbcConnectionLease&) = delete;
  AdbcConnectionLease& operator=(const AdbcConnectionLease&) = delete;

  AdbcConnection* get() { return connection_.get(); }
  AdbcDriver* driver();
  // True when the connection was used before (it may have gone stale while idle).
  bool reused() const { return reused_; }
  // The connection is unusable: close it instead of returning it.
  void MarkBroken() { broken_ = true; }
  // Returns `status`, marking the lease broken (and dropping idle connections) when it says
  // the backend connection failed.
  arrow::Status Check(arrow::Status status);

 private:
  friend class AdbcConnectionPool;
  AdbcConnectionLease(std::shared_ptr<AdbcConnectionPool> pool,
                      std::unique_ptr<AdbcConnection> connection, bool reused)
      : pool_(std::move(pool)), connection_(std::move(connection)), reused_(reused) {}

  std::shared_ptr<AdbcConnectionPool> pool_;
  std::unique_ptr<AdbcConnection> connection_;
  bool reused_;
  bool broken_ = false;
};

struct AdbcPoolOptions {
  int max_connections = 10;
  int min_connections = 1;
  // Longest wait for a free connection when all max_connections are lent out.
  std::chrono::milliseconds acquire_timeout{30000};
  // host:port (or file) for messages; never contains credentials.
  std::string backend;
  // Statements run on each new connection before it is lent (SQLite: a busy timeout).
  std::vector<std::string> connection_setup;
};

class AdbcConnectionPool : public std::enable_shared_from_this<AdbcConnectionPool> {
 public:
  // Creates and initialises the database with `database_options` (set in order), then opens
  // min_connections; fails naming the backend when it cannot be reached.
  static arrow::Result<std::shared_ptr<AdbcConnectionPool>> Open(
      std::shared_ptr<AdbcDriverLibrary> driver,
      const std::vector<std::pair<std::string, std::string>>& database_options,
      AdbcPoolOptions options);
  ~AdbcConnectionPool();

  // A connection: an idle one, else a new one while fewer than max are open, else waits up
  // to `wait` (acquire_timeout when not given; then BackendUnavailable saying all N
  // connections are busy).
  arrow::Result<std::unique_ptr<AdbcConnectionLease>> Acquire(
      std::optional<std::chrono::milliseconds> wait = std::nullopt);
  // Closes every idle connection (after a connection failure).
  void DiscardIdle();

  AdbcDriver* driver() { return driver_->driver(); }
  const std::shared_ptr<AdbcDriverLibrary>& library() const { return driver_; }
  const AdbcPoolOptions& options() const { return options_; }
  // Connections currently open (lent out + idle).
  int open_connections() const;
  int idle_connections() const;

 private:
  friend class AdbcConnectionLease;
  AdbcConnectionPool(std::shared_ptr<AdbcDriverLibrary> driver, AdbcPoolOptions options)
      : driver_(std::move(driver)), options_(std::move(options)) {}

  arrow::Result<std::unique_ptr<AdbcConnection>> OpenConnection();
  void CloseConnection(std::unique_ptr<AdbcConnection> connection);
  void Return(std::unique_ptr<AdbcConnection> connection, bool broken);

  std::shared_ptr<AdbcDriverLibrary> driver_;
  AdbcPoolOptions options_;
  AdbcDatabase database_{};
  bool database_open_ = false;

  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::deque<std::unique_ptr<AdbcConnection>> idle_;
  int open_ = 0;  // lent out + idle + being opened
};

}  // namespace hyprstream::engine
