#pragma once
// Subcommands defined outside cli.cpp (INTERFACES.md "Command line", issue 3),
// dispatched by run_cli. Each takes the process's argv with
// argv[1] the subcommand name, returns an exit code (cli.hpp: 0 success,
// 1 runtime failure, 2 bad usage or bad input) and never throws. `--help`
// prints the usage on stdout and returns 0; bad usage prints it on stderr.
namespace riskd::daemon {

/// `riskd broker [--topics NAME[:PARTITIONS],...] [--brokers N] [--config FILE]`:
/// runs librdkafka's in-memory mock cluster on 127.0.0.1 until SIGINT or
/// SIGTERM. The first line of stdout is the bootstrap address, alone, written
/// once the topics exist. For development and tests only. Blocks SIGINT and
/// SIGTERM in the calling thread while it runs (restored on return).
int cmd_broker(int argc, char** argv);

/// `riskd feed --ticks FILE --topic TOPIC [--bootstrap HOST:PORT | --config FILE]
/// [--speed X]`: produces each non-blank line of a JSONL tick file as one
/// message (key: the tick's series), optionally replaying its event-time
/// spacing X times faster. Returns 1 if any message was not delivered.
int cmd_feed(int argc, char** argv);

/// `riskd run --config FILE [--listen HOST:PORT] [--log-level LEVEL]`: the daemon.
int cmd_run(int argc, char** argv);

}  // namespace riskd::daemon
