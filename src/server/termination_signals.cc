#include "server/termination_signals.h"

#include <pthread.h>

#include <cerrno>
#include <csignal>
#include <ctime>

namespace hyprstream::server {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal(std::optional<std::chrono::milliseconds> timeout) {
  sigset_t set = TerminationSignals();
  while (true) {
    int signal = 0;
    if (!timeout) {
      if (sigwait(&set, &signal) == 0) return signal;
      continue;
    }
    timespec wait{static_cast<time_t>(timeout->count() / 1000),
                  static_cast<long>((timeout->count() % 1000) * 1000000)};
    signal = sigtimedwait(&set, nullptr, &wait);
    if (signal > 0) return signal;
    if (errno == EAGAIN) return 0;
    // EINTR: another signal interrupted the wait; wait again (the timeout restarts, which is
    // harmless for the short polls used during shutdown).
  }
}

}  // namespace hyprstream::server
