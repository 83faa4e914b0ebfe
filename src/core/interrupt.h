// Ctrl-C (SIGINT) and SIGTERM as a request to stop cleanly: while an InterruptGuard lives, the
// first signal only sets a flag that long loops poll (they save a checkpoint and return); a
// second signal restores the default action, so a stuck program can still be killed.
#pragma once

namespace dreamdpo::core {

class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
};

bool interrupt_requested();
// For tests and for callers that want to stop a loop programmatically.
void request_interrupt();
void clear_interrupt();

}  // namespace dreamdpo::core
