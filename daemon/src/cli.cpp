#include "riskd/daemon/cli.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "riskd/alerts/event.hpp"
#include "riskd/config/config.hpp"
#include "riskd/daemon/commands.hpp"
#include "riskd/daemon/engine.hpp"
#include "riskd/daemon/result_json.hpp"
#include "riskd/risk/book.hpp"

namespace riskd::daemon {
namespace {

constexpr std::size_t k_rejected_lines_shown = 20;

constexpr const char* k_usage = R"(usage: riskd <command> --config FILE [options]

commands:
  run            the daemon: consume Kafka, evaluate, alert, serve HTTP
  check-config   validate the config and exit
  evaluate       one-shot evaluation of every borrower on a market snapshot
  replay         feed a JSONL tick file through the engine in event time
  broker         run the in-memory development Kafka broker (tests, demos)
  feed           produce a JSONL tick file into a Kafka topic

Run 'riskd <command> --help' for the options of a command.
Exit codes: 0 success, 1 runtime failure, 2 bad usage, bad config or bad input file.
)";

constexpr const char* k_check_config_help = R"(usage: riskd check-config --config FILE

Validates FILE against the config schema and reports every error at once as
FILE:LINE:COL: message. Exit 0 if valid, 2 if not.
)";

constexpr const char* k_evaluate_help = R"(usage: riskd evaluate --config FILE --market FILE [--at TIME]

Evaluates every borrower on a market snapshot
  {"as_of": TIME, "series": {"BTC-USD": 87250.5, ...}}
and prints the result document (JSON) on stdout. TIME is RFC 3339;
--at overrides the snapshot's as_of. Figures are valued at 00:00 UTC of that day.
)";

constexpr const char* k_replay_help = R"(usage: riskd replay --config FILE --ticks FILE

Feeds a JSONL file of ticks ({"series", "value", "ts"} per line) through the
engine in event time, without Kafka, and prints every alert transition event
as one JSON line on stdout, in order. On stderr: the count of each tick
outcome and the first rejected lines with their line numbers. Rejected lines
never stop the replay and never change state. Output is deterministic.
)";

struct Args {
  std::string command;
  std::map<std::string, std::string> options;
  bool help = false;
};

/// Parses `--name VALUE` and `--name=VALUE` pairs; returns an error message or "".
std::string parse_args(int argc, char** argv, const std::vector<std::string>& allowed, Args& args) {
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      args.help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) return "unexpected argument '" + arg + "'";
    std::string name = arg.substr(2);
    std::string value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else {
      if (i + 1 >= argc) return "option --" + name + " needs a value";
      value = argv[++i];
    }
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return "unknown option --" + name + " for '" + args.command + "'";
    }
    args.options[name] = value;
  }
  return {};
}

int usage_error(const std::string& message) {
  std::cerr << "riskd: " << message << "\n\n" << k_usage;
  return k_exit_bad_input;
}

std::optional<config::Config> load_or_report(const std::string& path) {
  try {
    return config::load_config(path);
  } catch (const config::ConfigInvalid& e) {
    for (const auto& err : e.errors()) std::cerr << err.to_string() << '\n';
    std::cerr << "riskd: " << e.errors().size() << " error(s) in " << path << '\n';
    return std::nullopt;
  }
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

/// 1-based line and column of byte `offset` in `text`.
std::pair<int, int> position_of(const std::string& text, std::size_t offset) {
  int line = 1;
  int col = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

int cmd_check_config(const Args& args) {
  const auto cfg = load_or_report(args.options.at("config"));
  if (!cfg) return k_exit_bad_input;
  std::cout << args.options.at("config") << ": ok (" << cfg->risk.borrowers.size() << " borrowers, "
            << cfg->risk.series.size() << " series, " << cfg->risk.scenarios.size() << " configured scenarios)\n";
  return k_exit_ok;
}

int cmd_evaluate(const Args& args) {
  const auto cfg = load_or_report(args.options.at("config"));
  if (!cfg) return k_exit_bad_input;
  const auto market_it = args.options.find("market");
  if (market_it == args.options.end()) return usage_error("evaluate needs --market FILE");
  const std::string& market_path = market_it->second;
  std::string text;
  if (!read_file(market_path, text)) {
    std::cerr << market_path << ": cannot read file\n";
    return k_exit_bad_input;
  }
  boost::json::stream_parser parser;
  boost::json::error_code ec;
  const std::size_t consumed = parser.write(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    const auto [line, col] = position_of(text, consumed);
    std::cerr << market_path << ':' << line << ':' << col << ": not valid JSON: " << ec.message() << '\n';
    return k_exit_bad_input;
  }
  const boost::json::value doc = parser.release();
  std::vector<std::string> errors;
  const auto* root = doc.if_object();
  if (root == nullptr) {
    std::cerr << market_path << ": expected a JSON object {\"as_of\": TIME, \"series\": {...}}\n";
    return k_exit_bad_input;
  }
  std::optional<risk::TimeMs> as_of;
  if (const auto at = args.options.find("at"); at != args.options.end()) {
    as_of = risk::parse_rfc3339(at->second);
    if (!as_of) return usage_error("--at: '" + at->second + "' is not an RFC 3339 time");
  } else if (const auto* v = root->if_contains("as_of"); v != nullptr && v->is_string()) {
    as_of = risk::parse_rfc3339(v->as_string());
    if (!as_of) errors.push_back(market_path + ": as_of: '" + std::string(v->as_string()) + "' is not an RFC 3339 time");
  } else {
    errors.push_back(market_path + ": as_of: missing (or pass --at TIME)");
  }
  risk::Book book(cfg->risk);
  const auto* series = root->if_contains("series");
  if (series == nullptr || !series->is_object()) {
    errors.push_back(market_path + ": series: missing or not an object of series id -> number");
  } else {
    for (const auto& [key, value] : series->as_object()) {
      const std::string id(key);
      const auto sid = book.catalog().find(id);
      if (!sid) {
        std::cerr << market_path << ": warning: series." << id << ": not used by the config; ignored\n";
        continue;
      }
      risk::SeriesState& st = book.catalog().state(*sid);
      if (!value.is_number()) {
        errors.push_back(market_path + ": series." + id + ": expected a number");
        continue;
      }
      const double v = value.to_number<double>();
      const bool positive_kind = st.kind != risk::SeriesKind::rate;
      if (!std::isfinite(v) || (positive_kind && v <= 0.0)) {
        errors.push_back(market_path + ": series." + id + ": " + risk::format_number(v) + " is not a valid " +
                         std::string(risk::to_string(st.kind)) + " value" + (positive_kind ? " (must be > 0)" : ""));
        continue;
      }
      st.has_value = true;
      st.value = v;
      st.ts_ms = as_of.value_or(0);
      book.on_series_applied(*sid);
    }
  }
  for (const auto& b : book.borrowers()) {
    for (const risk::SeriesId sid : b.required_series) {
      if (!book.has_value(sid)) {
        errors.push_back(market_path + ": series." + book.catalog().state(sid).id + ": missing; borrower '" + b.id +
                         "' needs it");
      }
    }
  }
  if (!errors.empty()) {
    for (const auto& e : errors) std::cerr << e << '\n';
    return k_exit_bad_input;
  }
  book.set_valuation_day(risk::valuation_day_ms(*as_of));
  book.revalue_all();
  const std::string out =
      result_document(book, *as_of, [&](std::size_t i) { return conditions_holding(book, i); }, 1);
  std::cout << out << '\n';
  return k_exit_ok;
}

int cmd_replay(const Args& args) {
  const auto cfg = load_or_report(args.options.at("config"));
  if (!cfg) return k_exit_bad_input;
  const auto ticks_it = args.options.find("ticks");
  if (ticks_it == args.options.end()) return usage_error("replay needs --ticks FILE");
  const std::string& path = ticks_it->second;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << path << ": cannot read file\n";
    return k_exit_bad_input;
  }
  Engine engine(cfg->risk, StalenessClock::event_time);
  std::vector<alerts::AlertEvent> events;
  std::string out;
  std::string line;
  std::size_t line_no = 0;
  std::size_t rejected_shown = 0;
  std::size_t rejected_total = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines are not ticks
    events.clear();
    const TickResult res = engine.apply(line, std::nullopt, events);
    if (res.outcome != risk::TickOutcome::applied) {
      ++rejected_total;
      if (rejected_shown < k_rejected_lines_shown) {
        ++rejected_shown;
        std::cerr << path << ':' << line_no << ": " << risk::to_string(res.outcome) << ": " << res.error << '\n';
      }
    }
    for (const auto& ev : events) {
      out += alerts::to_json(ev);
      out += '\n';
    }
    if (out.size() > (1U << 20U)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (rejected_total > rejected_shown) {
    std::cerr << path << ": ... and " << (rejected_total - rejected_shown) << " more rejected lines\n";
  }
  std::cerr << "replay: " << line_no << " lines;";
  for (std::size_t o = 0; o < risk::k_tick_outcome_count; ++o) {
    std::cerr << ' ' << risk::to_string(static_cast<risk::TickOutcome>(o)) << ' ' << engine.counts()[o]
              << (o + 1 < risk::k_tick_outcome_count ? "," : "\n");
  }
  return k_exit_ok;
}

int dispatch(int argc, char** argv) {
  if (argc < 2) return usage_error("missing command");
  Args args;
  args.command = argv[1];
  if (args.command == "--help" || args.command == "-h" || args.command == "help") {
    std::cout << k_usage;
    return k_exit_ok;
  }
  if (args.command == "run") return cmd_run(argc, argv);
  if (args.command == "broker") return cmd_broker(argc, argv);
  if (args.command == "feed") return cmd_feed(argc, argv);
  std::vector<std::string> allowed{"config"};
  const char* help = nullptr;
  if (args.command == "check-config") {
    help = k_check_config_help;
  } else if (args.command == "evaluate") {
    help = k_evaluate_help;
    allowed.insert(allowed.end(), {"market", "at"});
  } else if (args.command == "replay") {
    help = k_replay_help;
    allowed.emplace_back("ticks");
  } else {
    return usage_error("unknown command '" + args.command + "'");
  }
  if (const std::string err = parse_args(argc, argv, allowed, args); !err.empty()) {
    std::cerr << "riskd " << args.command << ": " << err << "\n\n" << help;
    return k_exit_bad_input;
  }
  if (args.help) {
    std::cout << help;
    return k_exit_ok;
  }
  if (args.options.find("config") == args.options.end()) {
    std::cerr << "riskd " << args.command << ": --config FILE is required\n\n" << help;
    return k_exit_bad_input;
  }
  if (args.command == "check-config") return cmd_check_config(args);
  if (args.command == "evaluate") return cmd_evaluate(args);
  return cmd_replay(args);
}

}  // namespace

int run_cli(int argc, char** argv) {
  try {
    return dispatch(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "riskd: " << e.what() << '\n';
    return k_exit_runtime;
  }
}

}  // namespace riskd::daemon
