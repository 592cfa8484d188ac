#include "flightsql/session_admission.h"

#include <arrow/flight/types.h>

#include <string>

namespace hyprstream::flightsql {

SessionAdmission::Slot& SessionAdmission::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    Release();
    admission_ = std::exchange(other.admission_, nullptr);
  }
  return *this;
}

void SessionAdmission::Slot::Release() {
  if (admission_ != nullptr) std::exchange(admission_, nullptr)->Release();
}

arrow::Result<SessionAdmission::Slot> SessionAdmission::TryReserve() {
  int64_t open = open_.load(std::memory_order_acquire);
  do {
    if (capacity_ > 0 && open >= capacity_) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      return arrow::flight::MakeFlightError(
          arrow::flight::FlightStatusCode::Unavailable,
          "server is at capacity: " + std::to_string(capacity_) +
              " sessions are open (--max-sessions); close idle connections or retry later");
    }
  } while (!open_.compare_exchange_weak(open, open + 1, std::memory_order_acq_rel,
                                        std::memory_order_acquire));
  return Slot(this);
}

}  // namespace hyprstream::flightsql
