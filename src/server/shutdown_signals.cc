#include "server/shutdown_signals.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>

namespace hyprstream::server {
namespace {

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void ShutdownSignals::BlockInThisThread() {
  sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void ShutdownSignals::Watch(std::function<void(int)> drain) {
  watcher_ = std::thread([drain = std::move(drain)] {
    sigset_t set = StopSignals();
    int first = 0;
    if (sigwait(&set, &first) != 0) return;
    // A second signal while draining: stop now, without waiting for anything.
    std::thread([set] {
      int second = 0;
      if (sigwait(&set, &second) != 0) return;
      static const char kMessage[] = "hyprstream: second signal, stopping at once\n";
      (void)!::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
      std::_Exit(128 + second);
    }).detach();
    drain(first);
  });
}

void ShutdownSignals::Join() {
  if (watcher_.joinable()) watcher_.join();
}

ShutdownSignals::~ShutdownSignals() {
  // Serving ended without a signal (an error): the watcher may wait forever; let it.
  if (watcher_.joinable()) watcher_.detach();
}

}  // namespace hyprstream::server
