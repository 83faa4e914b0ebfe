// The dreamdpo command line: parses arguments and calls the library. Nothing else lives here.
#include <ATen/Parallel.h>

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "app/commands.h"
#include "core/error.h"
#include "core/log.h"

namespace {
// OpenMP reads OMP_WAIT_POLICY once, when the runtime loads (before main). Its default lets
// idle worker threads spin, which on a 2-core machine makes the generate step ~1.7x slower
// (229 vs 132 ms per DreamDPO step, bench/generate_step_cpu.md). Unless the user chose a policy,
// run again once with PASSIVE; if that is impossible, carry on as we are.
void prefer_passive_openmp_threads(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::execv("/proc/self/exe", argv);
}
}  // namespace

int main(int argc, char** argv) {
  prefer_passive_openmp_threads(argv);
  CLI::App app{"dreamdpo: text-to-3D generation aligned with preferences (DreamDPO)"};
  app.set_version_flag("--version", std::string("dreamdpo ") + DREAMDPO_VERSION);
  app.require_subcommand(1);
  int threads = 0;
  bool quiet = false, verbose = false;
  app.add_option("--threads", threads, "CPU threads (default: all cores)")->check(CLI::NonNegativeNumber);
  app.add_flag("-q,--quiet", quiet, "only errors");
  app.add_flag("-v,--verbose", verbose, "debug messages");
  app.parse_complete_callback([&] {
    if (threads > 0) at::set_num_threads(threads);
    if (quiet) dreamdpo::core::set_log_level(dreamdpo::core::LogLevel::kWarn);
    if (verbose) dreamdpo::core::set_log_level(dreamdpo::core::LogLevel::kDebug);
  });
  dreamdpo::app::add_generate_command(app);
  dreamdpo::app::add_toy2d_command(app);
  dreamdpo::app::add_export_command(app);
  dreamdpo::app::add_eval_command(app);
  dreamdpo::app::add_train_builtin_command(app);
  dreamdpo::app::add_score_command(app);
  dreamdpo::app::add_models_command(app);
  dreamdpo::app::add_convert_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s (see dreamdpo --help)\n", e.what());
    return 2;
  } catch (const dreamdpo::app::Interrupted&) {
    return 130;  // the shell convention for "stopped by SIGINT"
  } catch (const dreamdpo::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    // An internal tensor error is a bug, but the user still gets one line, not a trace.
    std::fprintf(stderr, "error: internal tensor error: %s\n", e.what_without_backtrace());
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 3;
  }
  return 0;
}
