#include "core/interrupt.h"

#include <atomic>
#include <csignal>

namespace dreamdpo::core {

namespace {
std::atomic<bool> g_requested{false};
volatile std::sig_atomic_t g_signal_count = 0;

extern "C" void on_signal(int signal) {
  g_requested.store(true);
  if (++g_signal_count >= 2) {
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
}
}  // namespace

InterruptGuard::InterruptGuard() {
  clear_interrupt();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

InterruptGuard::~InterruptGuard() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

bool interrupt_requested() { return g_requested.load(); }
void request_interrupt() { g_requested.store(true); }
void clear_interrupt() {
  g_requested.store(false);
  g_signal_count = 0;
}

}  // namespace dreamdpo::core
