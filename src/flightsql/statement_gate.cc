#include "flightsql/statement_gate.h"

#include <arrow/flight/types.h>

namespace hyprstream::flightsql {

StatementGate::Permit& StatementGate::Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    Release();
    gate_ = std::exchange(other.gate_, nullptr);
  }
  return *this;
}

void StatementGate::Permit::Release() {
  if (gate_ != nullptr) std::exchange(gate_, nullptr)->Release();
}

StatementGate::StatementGate(int64_t capacity, std::chrono::milliseconds queue_timeout)
    : capacity_(capacity), queue_timeout_(queue_timeout) {}

arrow::Result<StatementGate::Permit> StatementGate::Acquire(
    const std::function<bool()>& cancelled) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (capacity_ <= 0 || running_ < capacity_) {
    ++running_;
    return Permit(this);
  }
  const auto deadline = std::chrono::steady_clock::now() + queue_timeout_;
  ++queued_;
  while (running_ >= capacity_) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      --queued_;
      ++rejected_;
      return arrow::flight::MakeFlightError(
          arrow::flight::FlightStatusCode::Unavailable,
          "server is at capacity: " + std::to_string(capacity_) +
              " statements are running (--max-concurrent-statements) and this one waited " +
              std::to_string(queue_timeout_.count()) +
              " ms (--statement-queue-timeout) for a slot; retry later");
    }
    // Wake at least every 100 ms to notice a client that went away while queued.
    freed_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(
                              deadline - now, std::chrono::milliseconds(100)));
    if (cancelled && running_ >= capacity_ && cancelled()) {
      --queued_;
      return arrow::Status::Cancelled("the call was cancelled while waiting for a statement slot");
    }
  }
  --queued_;
  ++running_;
  return Permit(this);
}

void StatementGate::Release() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --running_;
  }
  freed_.notify_one();
}

int64_t StatementGate::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_;
}

int64_t StatementGate::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queued_;
}

int64_t StatementGate::rejected() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return rejected_;
}

}  // namespace hyprstream::flightsql
