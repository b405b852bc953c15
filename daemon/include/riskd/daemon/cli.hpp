#pragma once
// riskd's command line (INTERFACES.md "Command line"). Exit codes: 0 success,
// 1 runtime failure, 2 bad usage, bad config or bad input file.
namespace riskd::daemon {

inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_runtime = 1;
inline constexpr int k_exit_bad_input = 2;

/// Dispatches `riskd <subcommand> ...`; never throws.
int run_cli(int argc, char** argv);

}  // namespace riskd::daemon
