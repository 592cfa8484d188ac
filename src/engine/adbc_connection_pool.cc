#include "engine/adbc_connection_pool.h"

#include "engine/adbc_status.h"
#include "engine/engine.h"

namespace hyprstream::engine {

AdbcConnectionLease::~AdbcConnectionLease() {
  if (connection_) pool_->Return(std::move(connection_), broken_);
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
  return pool;
}

AdbcConnectionPool::~AdbcConnectionPool() {
  for (auto& connection : idle_) CloseConnection(std::move(connection));
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
    AdbcStatement statement = {};
    status = AdbcStatusToArrow(d->StatementNew(connection.get(), &statement, error.get()),
                               error.get(), "setting up a backend connection");
    if (status.ok()) {
      status = AdbcStatusToArrow(d->StatementSetSqlQuery(&statement, sql.c_str(), error.get()),
                                 error.get(), "setting up a backend connection");
      if (status.ok()) {
        int64_t affected = -1;
        status =
            AdbcStatusToArrow(d->StatementExecuteQuery(&statement, nullptr, &affected, error.get()),
                              error.get(), "setting up a backend connection (" + sql + ")");
      }
      AdbcErrorHolder released;
      d->StatementRelease(&statement, released.get());
    }
    if (!status.ok()) {
      CloseConnection(std::move(connection));
      return status;
    }
  }
  return connection;
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
    const std::string waited = most.count() % 1000 == 0 ? std::to_string(most.count() / 1000) + " s"
                                                        : std::to_string(most.count()) + " ms";
    return BackendUnavailable("all " + std::to_string(options_.max_connections) +
                              " backend connections are busy (waited " + waited +
                              "); retry later or raise pool_max");
  }
  auto self = shared_from_this();
  if (!idle_.empty()) {
    auto connection = std::move(idle_.front());
    idle_.pop_front();
    return std::unique_ptr<AdbcConnectionLease>(
        new AdbcConnectionLease(self, std::move(connection), true));
  }
  ++open_;
  lock.unlock();
  auto connection = OpenConnection();
  if (!connection.ok()) {
    lock.lock();
    --open_;
    available_.notify_one();
    return connection.status();
  }
  return std::unique_ptr<AdbcConnectionLease>(
      new AdbcConnectionLease(self, std::move(*connection), false));
}

void AdbcConnectionPool::Return(std::unique_ptr<AdbcConnection> connection, bool broken) {
  if (broken) {
    CloseConnection(std::move(connection));
    std::lock_guard<std::mutex> lock(mutex_);
    --open_;
  } else {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(connection));
  }
  available_.notify_one();
}

void AdbcConnectionPool::DiscardIdle() {
  std::deque<std::unique_ptr<AdbcConnection>> stale;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stale.swap(idle_);
    open_ -= static_cast<int>(stale.size());
  }
  for (auto& connection : stale) CloseConnection(std::move(connection));
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

}  // namespace hyprstream::engine
