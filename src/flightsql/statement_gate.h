// StatementGate: at most `capacity` statements run at once; the rest wait (woken one at a
// time as slots free) up to `queue_timeout` and are then refused with UNAVAILABLE. Capacity 0
// means no limit (Acquire never waits). A Permit holds one slot until it is destroyed.
// Thread-safe: one mutex and condition variable; the gate must outlive its permits.
#pragma once

#include <arrow/result.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>

namespace hyprstream::flightsql {

class StatementGate {
 public:
  class Permit {
   public:
    Permit() = default;
    explicit Permit(StatementGate* gate) : gate_(gate) {}
    Permit(Permit&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
    Permit& operator=(Permit&& other) noexcept;
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() { Release(); }
    void Release();
    bool held() const { return gate_ != nullptr; }

   private:
    StatementGate* gate_ = nullptr;
  };

  StatementGate(int64_t capacity, std::chrono::milliseconds queue_timeout);

  // Waits for a slot. UNAVAILABLE (a Flight status) when none frees up within the queue
  // timeout; Cancelled when `cancelled` (polled while waiting) turns true.
  arrow::Result<Permit> Acquire(const std::function<bool()>& cancelled = {});

  int64_t capacity() const { return capacity_; }
  int64_t running() const;
  int64_t queued() const;
  int64_t rejected() const;

 private:
  void Release();

  const int64_t capacity_;
  const std::chrono::milliseconds queue_timeout_;
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  int64_t running_ = 0;
  int64_t queued_ = 0;
  int64_t rejected_ = 0;
};

}  // namespace hyprstream::flightsql
