// SessionAdmission: at most `capacity` client sessions exist at once (0: no limit, still
// counted). A new session first reserves a Slot; TryReserve takes it with one compare-exchange
// on the count, so concurrent new sessions cannot all pass a check of the same count. A Slot is
// released exactly once, when it is destroyed: with the session that holds it (closed,
// expired or dropped), or unused when the session could not be made.
// Thread-safe (atomics only); the admission must outlive its slots.
#pragma once

#include <arrow/result.h>

#include <atomic>
#include <cstdint>
#include <utility>

namespace hyprstream::flightsql {

class SessionAdmission {
 public:
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept : admission_(std::exchange(other.admission_, nullptr)) {}
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { Release(); }
    void Release();
    bool held() const { return admission_ != nullptr; }

   private:
    friend class SessionAdmission;
    explicit Slot(SessionAdmission* admission) : admission_(admission) {}
    SessionAdmission* admission_ = nullptr;
  };

  explicit SessionAdmission(int64_t capacity) : capacity_(capacity) {}

  // A slot for one new session, or UNAVAILABLE (a Flight status saying what to do) when
  // `capacity` sessions hold one.
  arrow::Result<Slot> TryReserve();

  int64_t capacity() const { return capacity_; }
  int64_t open() const { return open_.load(std::memory_order_acquire); }
  int64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }

 private:
  void Release() { open_.fetch_sub(1, std::memory_order_acq_rel); }

  const int64_t capacity_;
  std::atomic<int64_t> open_{0};      // slots held
  std::atomic<int64_t> rejected_{0};  // reservations refused
};

}  // namespace hyprstream::flightsql
