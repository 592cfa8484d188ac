#include "engine/adbc_connection_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/adbc_status.h"
#include "engine/engine.h"

namespace hyprstream::engine {

AdbcConnectionLease::~AdbcConnectionLease() {
  if (connection_) pool_->Return(std::move(connection_), broken_, opened_);
}

AdbcDriver* AdbcConnectionLease::driver() { return pool_->driver(); }

arrow::Status AdbcConnectionLease::Check(arrow::Status status) {
  if (IsBackendUnavailable(status)) {
    broken_ = true;
    pool_->DiscardIdle();
  }
  return status;
}

arrow::Result<std::shared_ptr<AdbcConnectionPool>> AdbcConnectionPool::Open(
    std::shared_ptr<AdbcDriverLibrary> driver,
    const std::vector<std::pair<std::string, std::string>>& database_options,
    AdbcPoolOptions options) {
  if (options.max_connections < 1) {
    return arrow::Status::Invalid("pool_max must be at least 1, got ", options.max_connections);
  }
  if (options.min_connections < 0 || options.min_connections > options.max_connections) {
    return arrow::Status::Invalid("pool_min must be between 0 and pool_max (",
                                  options.max_connections, "), got ", options.min_connections);
  }
  std::shared_ptr<AdbcConnectionPool> pool(new AdbcConnectionPool(std::move(driver), options));
  AdbcDriver* d = pool->driver();
  AdbcErrorHolder error;
  pool->database_.private_driver = d;
  ARROW_RETURN_NOT_OK(AdbcStatusToArrow(d->DatabaseNew(&pool->database_, error.get()), error.get(),
                                        "creating the ADBC database"));
  pool->database_open_ = true;
  for (const auto& [key, value] : database_options) {
    ARROW_RETURN_NOT_OK(AdbcStatusToArrow(
        d->DatabaseSetOption(&pool->database_, key.c_str(), value.c_str(), error.get()),
        error.get(), "setting ADBC database option '" + key + "'"));
  }
  auto init = AdbcStatusToArrow(d->DatabaseInit(&pool->database_, error.get()), error.get(),
                                "opening the backend database " + options.backend);
  if (!init.ok()) {
    return init.WithMessage("cannot open backend ", options.backend, ": ", init.message());
  }
  // Open pool_min connections now: an unreachable backend fails startup here.
  std::vector<std::unique_ptr<AdbcConnectionLease>> warm;
  for (int i = 0; i < options.min_connections; ++i) {
    auto lease = pool->Acquire();
    if (!lease.ok()) {
      return lease.status().WithMessage("cannot connect to the backend at ", options.backend, ": ",
                                        lease.status().message());
    }
    warm.push_back(std::move(*lease));
  }
  if (options.idle_timeout.count() > 0 || options.max_lifetime.count() > 0) {
    pool->housekeeper_ = std::thread([raw = pool.get()] { raw->CloseIdleLoop(); });
  }
  return pool;
}

AdbcConnectionPool::~AdbcConnectionPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
  for (auto& idle : idle_) CloseConnection(std::move(idle.connection));
  idle_.clear();
  if (database_open_) {
    AdbcErrorHolder error;
    driver()->DatabaseRelease(&database_, error.get());
  }
}

arrow::Result<std::unique_ptr<AdbcConnection>> AdbcConnectionPool::OpenConnection() {
  AdbcDriver* d = driver();
  auto connection = std::make_unique<AdbcConnection>();
  connection->private_driver = d;
  AdbcErrorHolder error;
  ARROW_RETURN_NOT_OK(AdbcStatusToArrow(d->ConnectionNew(connection.get(), error.get()),
                                        error.get(), "creating a backend connection"));
  auto status = AdbcStatusToArrow(d->ConnectionInit(connection.get(), &database_, error.get()),
                                  error.get(), "connecting to " + options_.backend);
  if (!status.ok()) {
    d->ConnectionRelease(connection.get(), error.get());
    error.Reset();
    // Whatever the driver calls it, a connection that cannot be opened means "unreachable".
    if (!IsBackendUnavailable(status) && status.code() == arrow::StatusCode::IOError) {
      return BackendUnavailable("backend unreachable: " + status.message());
    }
    return status;
  }
  for (const std::string& sql : options_.connection_setup) {
    status = RunOn(connection.get(), sql, "setting up a backend connection (" + sql + ")");
    if (!status.ok()) {
      CloseConnection(std::move(connection));
      return status;
    }
  }
  return connection;
}

arrow::Status AdbcConnectionPool::RunOn(AdbcConnection* connection, const std::string& sql,
                                        const std::string& what) {
  AdbcDriver* d = driver();
  AdbcErrorHolder error;
  AdbcStatement statement = {};
  auto status =
      AdbcStatusToArrow(d->StatementNew(connection, &statement, error.get()), error.get(), what);
  if (status.ok()) {
    status = AdbcStatusToArrow(d->StatementSetSqlQuery(&statement, sql.c_str(), error.get()),
                               error.get(), what);
  }
  if (status.ok()) {
    int64_t affected = -1;
    status = AdbcStatusToArrow(
        d->StatementExecuteQuery(&statement, nullptr, &affected, error.get()), error.get(), what);
  }
  AdbcErrorHolder released;
  if (statement.private_data != nullptr) d->StatementRelease(&statement, released.get());
  return status;
}

void AdbcConnectionPool::CloseConnection(std::unique_ptr<AdbcConnection> connection) {
  AdbcErrorHolder error;
  driver()->ConnectionRelease(connection.get(), error.get());
}

arrow::Result<std::unique_ptr<AdbcConnectionLease>> AdbcConnectionPool::Acquire(
    std::optional<std::chrono::milliseconds> wait) {
  const std::chrono::milliseconds most = wait.value_or(options_.acquire_timeout);
  std::unique_lock<std::mutex> lock(mutex_);
  bool ready = available_.wait_for(
      lock, most, [this] { return !idle_.empty() || open_ < options_.max_connections; });
  if (!ready) {
    ++stats_.busy;
    const std::string waited = most.count() % 1000 == 0 ? std::to_string(most.count() / 1000) + " s"
                                                        : std::to_string(most.count()) + " ms";
    return BackendUnavailable("all " + std::to_string(options_.max_connections) +
                              " backend connections are busy (waited " + waited +
                              "); retry later or raise pool_max");
  }
  if (!idle_.empty()) {
    Idle idle = std::move(idle_.back());
    idle_.pop_back();
    if (std::chrono::steady_clock::now() - idle.since < options_.check_idle_after) {
      return Lend(std::move(idle.connection), true, idle.opened);
    }
    ++stats_.checked;
    lock.unlock();
    // Only "unreachable" means dead: a driver that rejects the check's SQL still answered.
    auto check =
        RunOn(idle.connection.get(), options_.check_sql, "checking an idle backend connection");
    if (!IsBackendUnavailable(check)) return Lend(std::move(idle.connection), true, idle.opened);
    // It died while idle; the older idle ones most likely did too. Its slot opens a new one.
    spdlog::info(
        "a pooled connection to {} died while idle ({}); it and the other idle ones "
        "are closed and a new one opened",
        options_.backend, check.message());
    CloseConnection(std::move(idle.connection));
    DiscardIdle();
    lock.lock();
    ++stats_.found_dead;
  } else {
    ++open_;
  }
  lock.unlock();
  auto connection = OpenConnection();
  if (!connection.ok()) {
    lock.lock();
    --open_;
    available_.notify_one();
    return connection.status();
  }
  {
    std::lock_guard<std::mutex> counted(mutex_);
    ++stats_.opened;
  }
  return Lend(std::move(*connection), false, std::chrono::steady_clock::now());
}

arrow::Result<std::unique_ptr<AdbcConnectionLease>> AdbcConnectionPool::Lend(
    std::unique_ptr<AdbcConnection> connection, bool reused,
    std::chrono::steady_clock::time_point opened) {
  return std::unique_ptr<AdbcConnectionLease>(
      new AdbcConnectionLease(shared_from_this(), std::move(connection), reused, opened));
}

void AdbcConnectionPool::Return(std::unique_ptr<AdbcConnection> connection, bool broken,
                                std::chrono::steady_clock::time_point opened) {
  const bool retire = !broken && Expired(opened);
  if (broken || retire) {
    CloseConnection(std::move(connection));
    std::lock_guard<std::mutex> lock(mutex_);
    --open_;
    ++(broken ? stats_.broken : stats_.retired);
  } else {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back({std::move(connection), std::chrono::steady_clock::now(), opened});
  }
  available_.notify_one();
}

arrow::Status AdbcConnectionPool::Check(AdbcConnection* connection) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.checked;
  }
  auto status = RunOn(connection, options_.check_sql, "checking an idle backend connection");
  if (IsBackendUnavailable(status)) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.found_dead;
  }
  return status;
}

void AdbcConnectionPool::CloseIdleLoop() {
  // Looks twice per timeout (at least every 30 s), so a connection lingers at most 1.5x.
  auto shortest = std::chrono::milliseconds(30000);
  for (auto timeout : {options_.idle_timeout, options_.max_lifetime}) {
    if (timeout.count() > 0) shortest = std::min(shortest, timeout);
  }
  const auto period = std::max(shortest / 2, std::chrono::milliseconds(10));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_.wait_for(lock, period, [this] { return stopping_; })) {
    std::vector<std::unique_ptr<AdbcConnection>> closing;
    // Idle ones open for max_lifetime, whatever min_connections (new ones open on demand).
    for (auto it = idle_.begin(); it != idle_.end();) {
      if (!Expired(it->opened)) {
        ++it;
        continue;
      }
      closing.push_back(std::move(it->connection));
      it = idle_.erase(it);
      --open_;
      ++stats_.retired;
    }
    // The oldest idle connections are at the front (lent newest first).
    const auto expired = std::chrono::steady_clock::now() - options_.idle_timeout;
    while (options_.idle_timeout.count() > 0 && !idle_.empty() && idle_.front().since <= expired &&
           open_ > options_.min_connections) {
      closing.push_back(std::move(idle_.front().connection));
      idle_.pop_front();
      --open_;
      ++stats_.closed_idle;
    }
    if (closing.empty()) continue;
    lock.unlock();
    for (auto& connection : closing) CloseConnection(std::move(connection));
    available_.notify_all();
    lock.lock();
  }
}

void AdbcConnectionPool::DiscardIdle() {
  std::deque<Idle> stale;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stale.swap(idle_);
    open_ -= static_cast<int>(stale.size());
  }
  for (auto& idle : stale) CloseConnection(std::move(idle.connection));
  available_.notify_all();
}

int AdbcConnectionPool::open_connections() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return open_;
}

int AdbcConnectionPool::idle_connections() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(idle_.size());
}

AdbcPoolStats AdbcConnectionPool::Stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  AdbcPoolStats stats = stats_;
  stats.open = open_;
  stats.idle = static_cast<int>(idle_.size());
  stats.max = options_.max_connections;
  return stats;
}

std::string AdbcPoolMetricsText(const AdbcPoolStats& stats) {
  auto counter = [](const char* name, const char* help, int64_t value) {
    return std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
           " " + std::to_string(value) + "\n";
  };
  std::string text =
      "# HELP hyprstream_backend_connections Backend connections open, by state (in_use: lent "
      "to a statement, a transaction or a result; idle: in the pool).\n"
      "# TYPE hyprstream_backend_connections gauge\n"
      "hyprstream_backend_connections{state=\"in_use\"} " +
      std::to_string(stats.open - stats.idle) +
      "\n"
      "hyprstream_backend_connections{state=\"idle\"} " +
      std::to_string(stats.idle) +
      "\n"
      "# HELP hyprstream_backend_connections_max Most backend connections open at once "
      "(pool_max).\n"
      "# TYPE hyprstream_backend_connections_max gauge\n"
      "hyprstream_backend_connections_max " +
      std::to_string(stats.max) + "\n";
  text += counter("hyprstream_backend_connections_opened_total", "Backend connections opened.",
                  stats.opened);
  text += counter("hyprstream_backend_connection_checks_total",
                  "Idle backend connections checked before they were lent (pool_check_idle_ms).",
                  stats.checked);
  text += counter("hyprstream_backend_connections_found_dead_total",
                  "Checked idle connections the backend no longer answered (closed, replaced).",
                  stats.found_dead);
  text += counter("hyprstream_backend_connections_closed_idle_total",
                  "Backend connections closed after pool_idle_timeout idle (down to pool_min).",
                  stats.closed_idle);
  text += counter("hyprstream_backend_connections_retired_total",
                  "Backend connections closed after pool_max_lifetime open.", stats.retired);
  text += counter("hyprstream_backend_connections_broken_total",
                  "Lent backend connections that failed with a connection error.", stats.broken);
  text += counter("hyprstream_backend_connection_waits_timed_out_total",
                  "Calls that failed because every backend connection was lent out for "
                  "connect_timeout (raise pool_max).",
                  stats.busy);
  return text;
}

}  // namespace hyprstream::engine
