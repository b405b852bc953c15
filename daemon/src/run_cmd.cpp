// `riskd run`: the daemon. Wiring only: config, the development broker when
// asked, the live engine (single writer), the HTTP server and metrics, and
// one stop path driven by asio::signal_set.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cmath>
#include <csignal>
#include <iostream>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "riskd/alerts/alertmanager_sink.hpp"
#include "riskd/alerts/event.hpp"
#include "riskd/alerts/webhook_sink.hpp"
#include "riskd/config/config.hpp"
#include "riskd/daemon/cli.hpp"
#include "riskd/daemon/commands.hpp"
#include "riskd/daemon/http_server.hpp"
#include "riskd/daemon/live_service.hpp"
#include "riskd/daemon/metrics.hpp"
#include "riskd/daemon/sd_notify.hpp"
#include "riskd/feeds/kafka.hpp"
#include "riskd/risk/json_text.hpp"
#include "heap.hpp"

namespace riskd::daemon {
namespace {

constexpr const char* k_run_help =
    R"(usage: riskd run --config FILE [--listen HOST:PORT] [--bootstrap HOST:PORT] [--log-level LEVEL]

The daemon: consumes the feed topics and the borrowers topic, keeps LTV and
DSCR per borrower live, raises covenant alerts, and serves HTTP (API,
/metrics, /healthz, /readyz) until SIGINT or SIGTERM (graceful: stop
consuming, finish the batch in hand, commit offsets, persist the market
state, exit 0). SIGHUP re-reads the config: a valid one is swapped in keeping
the market and the alert state of unchanged keys; an invalid one is logged
and the old one kept (riskd_config_last_reload_success shows it).

kafka.bootstrap_servers: embedded starts librdkafka's in-memory mock cluster
inside the process (development and tests only: no persistence, 5 MiB per
partition) and creates the configured topics.

The first line of stdout is the HTTP base URL (http://HOST:PORT) once the
server listens. Logs go to stderr.
  --listen HOST:PORT   overrides http.listen (port 0: any free port)
  --bootstrap SERVERS  overrides kafka.bootstrap_servers (e.g. a 'riskd broker')
  --log-level LEVEL    trace, debug, info (default), warn, error
)";

const char* k_version = "0.1.0";

/// How long a graceful stop lets the notification sinks drain their queues
/// (together, in parallel), within the 10 s shutdown budget: the engine's
/// stop (flush of the alerts topic 2.5 s, market state 2 s) comes first.
constexpr std::chrono::milliseconds k_sink_drain{2000};

/// Stops every sink with a drain, in parallel so the total stays k_sink_drain.
void stop_sinks(std::vector<std::unique_ptr<alerts::Sink>>& sinks) {
  std::vector<std::thread> stoppers;
  stoppers.reserve(sinks.size());
  for (auto& sink : sinks) stoppers.emplace_back([&sink] { sink->stop(k_sink_drain); });
  for (auto& t : stoppers) t.join();
}

class Backend final : public ApiBackend {
 public:
  Backend(LiveService& service, Metrics& metrics) : service_(service), metrics_(metrics) {}
  /// The server whose stream clients /metrics counts; set once, before it starts.
  void attach(const HttpServer& server) { server_ = &server; }
  SnapshotPtr snapshot() const override { return service_.snapshot(); }
  std::string metrics_text() const override {
    if (server_ != nullptr) metrics_.stream_clients(server_->stream_clients(), server_->stream_clients_dropped());
    return metrics_.render();
  }
  bool alive() const override { return service_.alive(); }

  void what_if(std::string body, std::function<void(int, std::string)> done) override {
    auto shared_done = std::make_shared<std::function<void(int, std::string)>>(std::move(done));
    const bool queued = service_.post([body = std::move(body), shared_done](Engine& engine) {
      std::string error;
      risk::Scenario scenario{"what_if", {}};
      boost::json::error_code ec;
      const boost::json::value doc = boost::json::parse(body, ec);
      const auto* shocks = ec || !doc.is_object() ? nullptr : doc.as_object().if_contains("shocks");
      if (shocks == nullptr || !shocks->is_object()) {
        (*shared_done)(400, R"({"error": "body must be {\"shocks\": {SERIES_OR_GROUP: number, ...}}"})");
        return;
      }
      static const std::map<std::string, bool> k_groups{
          {"@price", true}, {"@gpu_rent", true}, {"@hashprice", true}, {"@rate", false}, {"@spread", false}};
      for (const auto& [key, value] : shocks->as_object()) {
        const std::string k(key);
        if (!value.is_number() || !std::isfinite(value.to_number<double>())) {
          error = "shocks." + k + ": expected a finite number";
          break;
        }
        const double v = value.to_number<double>();
        bool relative = false;
        if (const auto g = k_groups.find(k); g != k_groups.end()) {
          relative = g->second;
        } else if (const auto sid = engine.book().catalog().find(k)) {
          relative = engine.book().catalog().state(*sid).kind != risk::SeriesKind::rate;
        } else {
          error = "shocks." + k + ": not a known series or group (@price, @gpu_rent, @hashprice, @rate, @spread)";
          break;
        }
        if (relative && v <= -1.0) {
          error = "shocks." + k + ": a relative shock must be > -1 (a price cannot fall to zero or below)";
          break;
        }
        scenario.shocks[k] = v;
      }
      if (!error.empty()) {
        risk::JsonText j;
        j.begin_object().key("error").string(error).end_object();
        (*shared_done)(400, j.take());
        return;
      }
      (*shared_done)(200, engine.what_if(scenario));
    });
    if (!queued) (*shared_done)(503, R"({"error": "engine busy or stopping; retry"})");
  }

 private:
  LiveService& service_;
  Metrics& metrics_;
  const HttpServer* server_ = nullptr;
};

void log_event(const alerts::AlertEvent& ev) {
  const std::string line = alerts::to_json(ev);
  if (ev.firing && ev.severity == alerts::Severity::critical) {
    spdlog::error("alert {}", line);
  } else if (ev.firing && ev.severity == alerts::Severity::warning) {
    spdlog::warn("alert {}", line);
  } else {
    spdlog::info("alert {}", line);
  }
}

}  // namespace

int cmd_run(int argc, char** argv) {
  std::string config_path;
  std::optional<std::string> listen;
  std::optional<std::string> bootstrap_override;
  std::string log_level = "info";
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << k_run_help;
      return k_exit_ok;
    }
    std::optional<std::string> v;
    if (arg == "--config" && (v = value())) {
      config_path = *v;
    } else if (arg == "--listen" && (v = value())) {
      listen = *v;
    } else if (arg == "--bootstrap" && (v = value())) {
      bootstrap_override = *v;
    } else if (arg == "--log-level" && (v = value())) {
      log_level = *v;
    } else {
      std::cerr << "riskd run: unexpected argument '" << arg << "'\n\n" << k_run_help;
      return k_exit_bad_input;
    }
  }
  if (config_path.empty()) {
    std::cerr << "riskd run: --config FILE is required\n\n" << k_run_help;
    return k_exit_bad_input;
  }
  auto logger = spdlog::stderr_color_mt("riskd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(log_level));

  config::Config cfg;
  try {
    cfg = config::load_config(config_path);
  } catch (const config::ConfigInvalid& e) {
    for (const auto& err : e.errors()) std::cerr << err.to_string() << '\n';
    return k_exit_bad_input;
  }
  release_free_heap();  // the YAML tree: ~35 kB a borrower
  if (listen) cfg.http.listen = *listen;
  if (bootstrap_override) cfg.kafka.bootstrap_servers = *bootstrap_override;

  // systemd (Type=notify): READY=1 once /readyz is first ready, WATCHDOG=1
  // while the engine thread's heartbeat is fresh, STOPPING=1 on SIGTERM.
  // Outside systemd every call is a no-op.
  SystemdNotifier notifier;
  try {
    notifier = SystemdNotifier::from_env();
  } catch (const std::exception& e) {
    spdlog::error("systemd notification disabled: {}", e.what());
  }

  // The development broker lives longest: declared first, destroyed last.
  std::unique_ptr<feeds::MockCluster> cluster;
  std::string bootstrap = cfg.kafka.bootstrap_servers;
  try {
    if (bootstrap == "embedded") {
      cluster = std::make_unique<feeds::MockCluster>(1);
      for (const auto& t : cfg.feeds.topics) cluster->create_topic(t, 1);
      for (const auto* t : {&cfg.feeds.borrowers_topic, &cfg.feeds.state_topic, &cfg.outputs.alerts_topic,
                            &cfg.outputs.signals_topic}) {
        if (!t->empty()) cluster->create_topic(*t, 1);
      }
      bootstrap = cluster->bootstrap_servers();
      spdlog::warn("embedded development broker at {} (in memory only: for development and tests, not production)",
                   bootstrap);
    }
    if (bootstrap.empty()) {
      std::cerr << config_path << ": kafka.bootstrap_servers is required for 'riskd run'\n";
      return k_exit_bad_input;
    }

    std::unique_ptr<LiveService> service;
    Metrics metrics([&service] { return service ? service->snapshot() : nullptr; }, cfg.metrics.borrower_series,
                    k_version);
    // Notification sinks: built once the HTTP port is known (Alertmanager's
    // generatorURL points at the borrower's API route); each has its own
    // bounded queue and thread, submit() never blocks the engine thread.
    std::vector<std::unique_ptr<alerts::Sink>> sinks;
    alerts::Sink* alertmanager = nullptr;
    // Whatever way this scope ends: the engine thread (which submits to the
    // sinks) stops first, then the sinks (which count into `metrics`).
    struct OnExit {
      std::function<void()> run;
      ~OnExit() { run(); }
    } stop_all{[&] {
      if (service) service->stop();
      stop_sinks(sinks);
    }};
    const alerts::OutcomeCounter count = [&metrics](std::string_view sink, std::string_view outcome) {
      metrics.notification(sink, outcome);
    };
    LiveHooks hooks;
    hooks.on_event = [&sinks](const alerts::AlertEvent& ev) {
      log_event(ev);
      for (auto& sink : sinks) sink->submit(ev);
    };
    hooks.on_tick_latencies = [&metrics](const TickLatencyTally& tally) { metrics.observe(tally); };
    hooks.on_notification = count;
    // Alerts still firing from before a restart are not emitted again; each
    // sink is told of them (Sink::restore_firing): Alertmanager re-posts them
    // (same labels and startsAt: no new page) to keep them active; webhooks
    // are not re-paged, but a restored breach still inhibits its warning.
    hooks.on_restored_firing = [&sinks, &alertmanager](const std::vector<alerts::AlertEvent>& firing) {
      for (auto& sink : sinks) {
        for (const auto& ev : firing) sink->restore_firing(ev);
      }
      if (alertmanager != nullptr && !firing.empty()) {
        spdlog::info("alertmanager: {} alerts firing before the restart kept alive", firing.size());
      }
    };
    service = std::make_unique<LiveService>(cfg, bootstrap, LiveOptions{}, hooks);

    boost::asio::io_context ioc(1);
    Backend backend(*service, metrics);
    HttpServerOptions http_options;
    http_options.listen = cfg.http.listen;
    HttpServer server(ioc, backend, http_options);
    backend.attach(server);
    server.start();
    const std::string host = cfg.http.listen.substr(0, cfg.http.listen.rfind(':'));
    const std::string base_url =
        "http://" + (host.empty() ? std::string("127.0.0.1") : host) + ":" + std::to_string(server.port());
    try {
      if (cfg.outputs.alertmanager) {
        alerts::AlertmanagerSinkOptions o;
        o.url = cfg.outputs.alertmanager->url;
        o.resend_s = cfg.outputs.alertmanager->resend_s;
        o.generator_base_url = base_url;
        sinks.push_back(alerts::make_alertmanager_sink(o, count));
        alertmanager = sinks.back().get();
        spdlog::info("alertmanager sink: {} (resend every {} s)", o.url, o.resend_s);
      }
      for (std::size_t i = 0; i < cfg.outputs.webhooks.size(); ++i) {
        alerts::WebhookSinkOptions o;
        o.url = cfg.outputs.webhooks[i].url;
        o.timeout_s = cfg.outputs.webhooks[i].timeout_s;
        sinks.push_back(alerts::make_webhook_sink(o, count));
        spdlog::info("webhook sink {}: {}", i, o.url);
      }
    } catch (const std::invalid_argument& e) {
      std::cerr << config_path << ": outputs: " << e.what() << '\n';
      return k_exit_bad_input;
    }
    service->start();
    std::cout << "http://" << (host.empty() ? "127.0.0.1" : host) << ':' << server.port() << std::endl;
    spdlog::info("riskd {} serving http://{}:{} (API, /metrics, /healthz, /readyz)", k_version,
                 host.empty() ? "127.0.0.1" : host, server.port());

    // Readiness and watchdog, on the HTTP thread: a stuck engine (no
    // heartbeat for 10 s) or a stuck io_context stops the pings.
    boost::asio::steady_timer sd_timer(ioc);
    bool sd_ready_sent = false;
    const std::chrono::steady_clock::duration sd_period =
        notifier.watchdog_interval().count() > 0
            ? std::min<std::chrono::steady_clock::duration>(std::chrono::seconds(1), notifier.watchdog_interval() / 2)
            : std::chrono::seconds(1);
    std::function<void(const boost::system::error_code&)> on_sd_timer = [&](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled at stop
      if (!sd_ready_sent) {
        const SnapshotPtr snap = service->snapshot();
        if (snap && snap->ready && notifier.ready()) {
          sd_ready_sent = true;
          notifier.status("ready: serving " + base_url);
        }
      }
      if (notifier.watchdog_interval().count() > 0 && service->alive()) notifier.watchdog();
      sd_timer.expires_after(sd_period);
      sd_timer.async_wait(on_sd_timer);
    };
    if (notifier.enabled()) {
      notifier.status("starting: restoring the market and waiting for every series");
      sd_timer.expires_after(std::chrono::milliseconds(100));
      sd_timer.async_wait(on_sd_timer);
    }

    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM, SIGHUP);
    std::function<void(const boost::system::error_code&, int)> on_signal;
    on_signal = [&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        if (sd_ready_sent) notifier.reloading();
        try {
          config::Config fresh = config::load_config(config_path);
          if (listen) fresh.http.listen = *listen;
          metrics.set_borrower_series(fresh.metrics.borrower_series);
          if (service->reload(std::move(fresh))) {
            metrics.config_reloaded(true, static_cast<double>(std::time(nullptr)));
          } else {
            spdlog::error("config reload: engine busy; old config kept");
            metrics.config_reloaded(false, static_cast<double>(std::time(nullptr)));
          }
        } catch (const config::ConfigInvalid& e) {
          for (const auto& err : e.errors())
            spdlog::error("config reload rejected, old config kept: {}", err.to_string());
          service->reload_failed();
          metrics.config_reloaded(false, static_cast<double>(std::time(nullptr)));
        }
        // The new config's YAML tree, now, not only after the engine's reload
        // job: the engine thread builds the new book in its own arena, so
        // pages freed here are not reused (peak at 10,000 borrowers: 476 MB
        // with this, 522 MB without).
        release_free_heap();
        if (sd_ready_sent) notifier.ready();  // ends the reload (with or without a new config)
        signals.async_wait(on_signal);
        return;
      }
      notifier.stopping();
      sd_timer.cancel();
      spdlog::info("signal {}: stopping (stop consuming, finish the batch, commit, persist)", sig);
      server.stop();
      service->stop();
      // A short drain lets the WebSocket close frames (1001) go out; then stop
      // whatever else still holds the io_context.
      sd_timer.expires_after(std::chrono::milliseconds(300));
      sd_timer.async_wait([&](const boost::system::error_code&) { ioc.stop(); });
    };
    signals.async_wait(on_signal);
    ioc.run();
    service->stop();  // the engine first: no event reaches the sinks after this
    stop_sinks(sinks);
    spdlog::info("riskd stopped");
    return k_exit_ok;
  } catch (const feeds::KafkaError& e) {
    spdlog::error("kafka: {}", e.what());
    return k_exit_runtime;
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return k_exit_runtime;
  } catch (const std::invalid_argument& e) {
    std::cerr << config_path << ": http.listen: " << e.what() << '\n';
    return k_exit_bad_input;
  }
}

}  // namespace riskd::daemon
