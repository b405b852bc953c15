#pragma once
// The daemon's one HTTP/1.1 server (INTERFACES.md "HTTP"): health, readiness,
// metrics and the JSON API, over Boost.Beast on an io_context the caller
// runs. Beast and Asio stay behind a pimpl; only the io_context is named.
//
// Routes (HEAD is allowed wherever GET is):
//   GET  /healthz                 200 {"status":"ok"} while backend.alive(), else 503
//   GET  /readyz                  200 {"ready":true}; else 503 {"ready":false,"reasons":[...]}
//   GET  /metrics                 backend.metrics_text(), text/plain; version=0.0.4
//   GET  /api/v1/borrowers        the result document
//   GET  /api/v1/borrowers/{id}   one borrower object; 404 if unknown
//   GET  /api/v1/alerts           active alert events (JSON array)
//   GET  /api/v1/series           per-series state (JSON array, see series_json)
//   POST /api/v1/what-if          {"shocks": {...}} forwarded to backend.what_if
//   GET  /api/v1/stream           WebSocket (stream_hub.hpp has the messages); a
//                                 plain GET gets 426, a cross-origin one 403
//   GET  /                        the dashboard page; GET /assets/{file} its files
//                                 (compiled in from daemon/web; 404 if unknown)
// API routes answer 503 {"error":"starting"} before the first snapshot.
// Errors are JSON {"error": "..."}: 400 bad request / bad what-if JSON, 404
// unknown route or borrower, 405 wrong method (with Allow), 413 body over the
// limit and 431 header over the limit (both then close the connection), 500
// an internal error, 503 what-if timeout.
//
// Limits (HttpServerOptions): body 64 KiB, header 8 KiB, read timeout 10 s per
// request (also the keep-alive idle timeout), write timeout 10 s, what-if 5 s,
// 256 concurrent connections (further ones are closed at once). One request
// at a time per connection (no pipelining in flight). `Expect: 100-continue`
// is answered once the header is accepted.
//
// The stream: one watcher polls backend.snapshot() every stream_poll_interval
// and, when the version changed and clients are connected, builds the
// messages once (stream_messages) and hands the same payloads to every
// client. Each client has a bounded backlog (stream_backlog_messages /
// _bytes); a client whose backlog would overflow is dropped: close code 1008
// "client too slow: ...", a warning in the log, stream_clients_dropped()
// counts it. The server pings an idle client every stream_idle_timeout / 2
// and closes one that has not answered within stream_idle_timeout. Client
// frames are read and ignored (one over 4 KiB closes the stream). stop() sends every
// stream a close frame 1001 "server shutting down" (if the io_context still
// runs), and closes its socket after at most stream_close_timeout.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "riskd/daemon/snapshot.hpp"
#include "riskd/risk/time.hpp"

namespace boost::asio {
class io_context;
}

namespace riskd::daemon {

/// What the daemon provides to the server.
class ApiBackend {
 public:
  virtual ~ApiBackend() = default;
  /// The latest snapshot; thread-safe; may be null before the first publication.
  virtual SnapshotPtr snapshot() const = 0;
  /// Prometheus text exposition. Thread-safe.
  virtual std::string metrics_text() const = 0;
  /// True while the process' loops turn. Thread-safe.
  virtual bool alive() const = 0;
  /// Runs a what-if on the engine thread: body is the request JSON {"shocks": {...}}
  /// (already checked to be such an object); `done(status, json_body)` is called
  /// exactly once, from any thread, or never (the server then answers 503 after
  /// its what-if timeout; a late call is ignored). `done` may be called or
  /// dropped at any time, also after the server is gone, but not while the
  /// server's io_context is being destroyed.
  virtual void what_if(std::string body, std::function<void(int, std::string)> done) = 0;
};

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8080";  // "HOST:PORT", ":PORT", "[v6]:PORT"; port 0 = any
  std::size_t body_limit_bytes = 64 * 1024;
  std::uint32_t header_limit_bytes = 8 * 1024;
  std::chrono::milliseconds read_timeout{10'000};   // whole request, and keep-alive idle
  std::chrono::milliseconds write_timeout{10'000};
  std::chrono::milliseconds what_if_timeout{5'000};
  std::size_t max_connections = 256;  // HTTP and WebSocket together
  std::size_t stream_backlog_messages = 100'000;         // per client, not yet written
  std::size_t stream_backlog_bytes = 64 * 1024 * 1024;   // per client, not yet written
  std::chrono::milliseconds stream_poll_interval{50};    // snapshots come at most every 100 ms
  std::chrono::milliseconds stream_idle_timeout{30'000};  // ping at half; close if silent this long
  std::chrono::milliseconds stream_close_timeout{2'000};  // closing handshake, then the socket goes
};

class HttpServer {
 public:
  /// Binds and listens at once (so port() is known); accepting starts with
  /// start(). Throws std::invalid_argument for a malformed `listen` and
  /// std::system_error if the address cannot be bound. `backend` must outlive
  /// every handler the server posts to `ioc` (stop, then let `ioc` finish).
  HttpServer(boost::asio::io_context& ioc, ApiBackend& backend, HttpServerOptions options);
  /// Calls stop(); destroy the server before its io_context.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Starts accepting on the io_context. Call once.
  void start();
  /// Closes the acceptor and every open connection (in-flight responses are
  /// abandoned); idempotent, thread-safe, returns without waiting. Once the
  /// handlers have run, the server holds no work on the io_context.
  void stop();

  /// The bound port (the real one when the options said 0).
  [[nodiscard]] std::uint16_t port() const;
  /// Connections open now (HTTP and WebSocket).
  [[nodiscard]] std::size_t connections() const;
  /// WebSocket stream clients connected now.
  [[nodiscard]] std::size_t stream_clients() const;
  /// Stream clients dropped so far because their backlog overflowed.
  [[nodiscard]] std::uint64_t stream_clients_dropped() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// The JSON bodies of the read-only API, exposed for tests and for the
// WebSocket stream. Numbers are written with risk::JsonText.

/// `{"status": "ok"}`.
std::string health_json();
/// `{"ready": true}` or `{"ready": false, "reasons": [...]}`; null snapshot: reason "starting".
std::string ready_json(const Snapshot* snapshot);
/// JSON array of the snapshot's active alert events (alerts::to_json each).
std::string alerts_json(const Snapshot& snapshot);
/// JSON array, one object per series: {"id", "kind", "value" (null without a
/// value), "ts" (RFC 3339 or null), "age_s" (now_ms - ts in seconds, or null),
/// "stale", "stale_after_s" (or null), "applied", "rejected": {"rejected_parse",
/// "rejected_value", "out_of_order", "outlier", "unknown_series"}}.
std::string series_json(const Snapshot& snapshot, risk::TimeMs now_ms);
/// `{"error": message}`.
std::string error_json(std::string_view message);

}  // namespace riskd::daemon
