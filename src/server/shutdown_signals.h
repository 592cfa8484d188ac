// ShutdownSignals: SIGINT/SIGTERM for a graceful stop. BlockInThisThread() must run before any
// other thread starts (threads inherit the signal mask), so no thread is interrupted by them.
// Watch() then starts a thread that waits for the first signal and runs `drain` (which stops
// the server within its grace period), and ends the process at once, exit code 128+signal,
// on a second one. Join() waits for `drain` to return. One instance per process.
#pragma once

#include <functional>
#include <thread>

namespace hyprstream::server {

class ShutdownSignals {
 public:
  static void BlockInThisThread();

  void Watch(std::function<void(int signal)> drain);
  // Waits for the drain started by a signal; call only after the server stopped serving.
  void Join();
  ~ShutdownSignals();

 private:
  std::thread watcher_;
};

}  // namespace hyprstream::server
