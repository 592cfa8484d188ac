// Termination signals handled synchronously: BlockTerminationSignals masks SIGINT and SIGTERM
// in the calling thread — call it before any other thread starts so that every thread
// inherits the mask — and WaitForTerminationSignal then receives them (sigtimedwait) on the
// thread that runs the shutdown sequence, so no work happens in a signal handler.
#pragma once

#include <chrono>
#include <optional>

namespace hyprstream::server {

void BlockTerminationSignals();

// The next SIGINT/SIGTERM's number, or 0 when `timeout` (nullopt: none) passes first.
int WaitForTerminationSignal(std::optional<std::chrono::milliseconds> timeout);

}  // namespace hyprstream::server
