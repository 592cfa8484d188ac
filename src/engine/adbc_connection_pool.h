// AdbcConnectionPool: one AdbcDatabase and up to `max` open AdbcConnections, lent out one
// holder at a time as AdbcConnectionLease. Thread-safe; the pool mutex is never held during a
// backend call (opening, closing and using connections happen outside it). A lease marked
// broken (its connection failed with a connection error) is closed instead of returned, and a
// connection failure also drops the idle connections (a restarted backend killed them all);
// new connections are opened on demand, so the pool recovers when the backend comes back.
// An idle connection is lent newest first; one idle for longer than `check_idle_after` is
// checked with one round trip first and replaced when it died while idle (a restart, an
// administrator or idle_session_timeout ended it), so a write does not meet a connection that
// died while it sat idle that long (a write is not retried: it may have been applied). A
// housekeeping thread closes connections idle for `idle_timeout` down to min_connections, so a
// burst's connections go back to the backend once it is over, and retires those open for
// `max_lifetime` (when returned, or idle), so none carries the backend's per-connection state
// for days.
#pragma once

#include <arrow/result.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
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
                      std::unique_ptr<AdbcConnection> connection, bool reused,
                      std::chrono::steady_clock::time_point opened)
      : pool_(std::move(pool)),
        connection_(std::move(connection)),
        reused_(reused),
        opened_(opened) {}

  std::shared_ptr<AdbcConnectionPool> pool_;
  std::unique_ptr<AdbcConnection> connection_;
  bool reused_;
  std::chrono::steady_clock::time_point opened_;
  bool broken_ = false;
};

// What the pool has done since Open, for /metrics.
struct AdbcPoolStats {
  int open = 0;  // lent out + idle (+ being opened or checked)
  int idle = 0;
  int max = 0;
  int64_t opened = 0;       // connections opened
  int64_t checked = 0;      // idle connections checked before they were lent
  int64_t found_dead = 0;   // of those, dead (closed and replaced)
  int64_t broken = 0;       // lent connections that failed with a connection error
  int64_t closed_idle = 0;  // closed after idle_timeout (down to min_connections)
  int64_t retired = 0;      // closed after max_lifetime
  int64_t busy = 0;         // acquires that gave up: every connection lent out
};

// The stats as Prometheus series (hyprstream_backend_connections{state=...} and counters).
std::string AdbcPoolMetricsText(const AdbcPoolStats& stats);

struct AdbcPoolOptions {
  int max_connections = 10;
  int min_connections = 1;
  // Longest wait for a free connection when all max_connections are lent out.
  std::chrono::milliseconds acquire_timeout{30000};
  // host:port (or file) for messages; never contains credentials.
  std::string backend;
  // Statements run on each new connection before it is lent (SQLite: a busy timeout).
  std::vector<std::string> connection_setup;
  // An idle connection unused for at least this long runs `check_sql` before it is lent.
  std::chrono::milliseconds check_idle_after{1000};
  std::string check_sql = "SELECT 1";
  // Connections beyond min_connections idle this long are closed; 0: never.
  std::chrono::milliseconds idle_timeout{600000};
  // Connections open this long are closed once returned (or while idle); 0: never.
  std::chrono::milliseconds max_lifetime{1800000};
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

  // A connection: the newest idle one (checked first when idle for check_idle_after; a dead
  // one is closed with the other idle ones and a new one opened instead), else a new one
  // while fewer than max are open, else waits up to `wait` (acquire_timeout when not given;
  // then BackendUnavailable saying all N connections are busy).
  arrow::Result<std::unique_ptr<AdbcConnectionLease>> Acquire(
      std::optional<std::chrono::milliseconds> wait = std::nullopt);
  // Closes every idle connection (after a connection failure).
  void DiscardIdle();
  // Runs the check (check_sql) on a connection held elsewhere (a session's pinned one):
  // BackendUnavailable when it died.
  arrow::Status Check(AdbcConnection* connection);

  AdbcDriver* driver() { return driver_->driver(); }
  const std::shared_ptr<AdbcDriverLibrary>& library() const { return driver_; }
  const AdbcPoolOptions& options() const { return options_; }
  // Connections currently open (lent out + idle).
  int open_connections() const;
  int idle_connections() const;
  AdbcPoolStats Stats() const;

 private:
  friend class AdbcConnectionLease;
  AdbcConnectionPool(std::shared_ptr<AdbcDriverLibrary> driver, AdbcPoolOptions options)
      : driver_(std::move(driver)), options_(std::move(options)) {}

  // The housekeeping thread's loop: closes connections idle for idle_timeout, and idle ones
  // open for max_lifetime, until stopping_.
  void CloseIdleLoop();
  bool Expired(std::chrono::steady_clock::time_point opened) const {
    return options_.max_lifetime.count() > 0 &&
           std::chrono::steady_clock::now() - opened >= options_.max_lifetime;
  }

  struct Idle {
    std::unique_ptr<AdbcConnection> connection;
    std::chrono::steady_clock::time_point since;   // returned
    std::chrono::steady_clock::time_point opened;  // opened
  };
  arrow::Result<std::unique_ptr<AdbcConnection>> OpenConnection();
  // Runs `sql` on `connection`, discarding any result; `what` names it in errors.
  arrow::Status RunOn(AdbcConnection* connection, const std::string& sql, const std::string& what);
  arrow::Result<std::unique_ptr<AdbcConnectionLease>> Lend(
      std::unique_ptr<AdbcConnection> c, bool reused, std::chrono::steady_clock::time_point opened);
  void CloseConnection(std::unique_ptr<AdbcConnection> connection);
  void Return(std::unique_ptr<AdbcConnection> connection, bool broken,
              std::chrono::steady_clock::time_point opened);

  std::shared_ptr<AdbcDriverLibrary> driver_;
  AdbcPoolOptions options_;
  AdbcDatabase database_{};
  bool database_open_ = false;

  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::deque<Idle> idle_;  // GUARDED_BY(mutex_); newest at the back
  int open_ = 0;           // GUARDED_BY(mutex_); lent out + idle + being opened or checked
  AdbcPoolStats stats_;    // GUARDED_BY(mutex_): its counters (open, idle, max are read live)
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  std::condition_variable stop_;
  std::thread housekeeper_;  // runs CloseIdleLoop when idle_timeout > 0
};

}  // namespace hyprstream::engine
