// GCC 12 at -O2 reports -Wnull-dereference false positives inside Asio's
// scheduler and executors and libstdc++'s shared_ptr once they are inlined
// (chriskohlhoff/asio#847): silenced for the library headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include "riskd/daemon/http_server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include "riskd/alerts/event.hpp"
#include "riskd/daemon/stream_hub.hpp"
#include "riskd/risk/json_text.hpp"
#include "riskd/risk/market.hpp"
#include "riskd/risk/model.hpp"
#include "web_assets.hpp"
#pragma GCC diagnostic pop

namespace riskd::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// ---------------------------------------------------------------------------
// JSON bodies

std::string error_json(std::string_view message) {
  risk::JsonText out;
  out.begin_object().key("error").string(message).end_object();
  return out.take();
}

std::string health_json() {
  risk::JsonText out;
  out.begin_object().key("status").string("ok").end_object();
  return out.take();
}

std::string ready_json(const Snapshot* snapshot) {
  risk::JsonText out;
  out.begin_object();
  if (snapshot != nullptr && snapshot->ready) {
    out.key("ready").boolean(true);
  } else {
    out.key("error").string("not ready");
    out.key("ready").boolean(false);
    out.key("reasons").begin_array();
    if (snapshot == nullptr) {
      out.string("starting");
    } else if (snapshot->not_ready_reasons.empty()) {
      out.string("not ready");
    } else {
      for (const auto& reason : snapshot->not_ready_reasons) out.string(reason);
    }
    out.end_array();
  }
  out.end_object();
  return out.take();
}

std::string alerts_json(const Snapshot& snapshot) {
  risk::JsonText out;
  out.begin_array();
  snapshot.for_each_active_alert([&](const alerts::AlertEvent& event) { out.raw(alerts::to_json(event)); });
  out.end_array();
  return out.take();
}

std::string series_json(const Snapshot& snapshot, risk::TimeMs now_ms) {
  constexpr std::array rejected = {risk::TickOutcome::rejected_parse, risk::TickOutcome::rejected_value,
                                   risk::TickOutcome::out_of_order, risk::TickOutcome::outlier,
                                   risk::TickOutcome::unknown_series};
  risk::JsonText out;
  out.begin_array();
  for (const SeriesView& s : snapshot.series) {
    out.begin_object();
    out.key("id").string(s.id);
    out.key("kind").string(risk::to_string(s.kind));
    if (s.has_value) {
      out.key("value").number(s.value);
      out.key("ts").string(risk::format_rfc3339(s.ts_ms));
      out.key("age_s").number(static_cast<double>(now_ms - s.ts_ms) / 1000.0);
    } else {
      out.key("value").null();
      out.key("ts").null();
      out.key("age_s").null();
    }
    out.key("stale").boolean(s.stale);
    out.key("stale_after_s").number(s.stale_after_s);
    out.key("applied").integer(static_cast<std::int64_t>(s.counts[static_cast<std::size_t>(risk::TickOutcome::applied)]));
    out.key("rejected").begin_object();
    for (const risk::TickOutcome o : rejected) {
      out.key(risk::to_string(o)).integer(static_cast<std::int64_t>(s.counts[static_cast<std::size_t>(o)]));
    }
    out.end_object();
    out.end_object();
  }
  out.end_array();
  return out.take();
}

namespace {

constexpr std::string_view k_json = "application/json";
constexpr std::string_view k_prometheus_text = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::size_t k_max_path_segments = 8;
constexpr std::size_t k_linger_bytes = 1024 * 1024;           // drained after an error answer, at most
constexpr std::chrono::milliseconds k_linger_timeout{2'000};  // ... and for at most this long
constexpr std::chrono::milliseconds k_accept_retry{100};      // after an accept error (EMFILE...)
constexpr std::size_t k_stream_read_max = 4096;               // client frames are read and ignored
// The dashboard's page only talks to its own origin; nothing is framed or inlined.
constexpr std::string_view k_page_csp =
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

risk::TimeMs wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// "HOST:PORT", ":PORT", "[v6]:PORT"; host defaults to 127.0.0.1, "localhost" is 127.0.0.1.
tcp::endpoint parse_listen(const std::string& listen) {
  const auto bad = [&](const std::string& why) {
    return std::invalid_argument("http.listen '" + listen + "': " + why);
  };
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw bad("expected HOST:PORT");
  std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw bad("the port must be a number in 0..65535");
  }
  const unsigned long port = std::stoul(port_text);
  if (port > 65535) throw bad("the port must be a number in 0..65535");
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) throw bad("the host must be an IP address or localhost");
  return {address, static_cast<std::uint16_t>(port)};
}

/// Runs `f` on a session's strand; an exception from it runs `end_session`
/// (which closes the session) instead of escaping into Asio, and an
/// exception from that is swallowed: the sessions' one exception barrier.
template <typename F, typename EndSession>
void run_guarded(F& f, EndSession&& end_session) noexcept {
  try {
    f();
  } catch (...) {
    try {
      end_session();
    } catch (...) {  // nothing left to do
    }
  }
}

bool valid_borrower_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

// ---------------------------------------------------------------------------
// Routing: one table; each row a case in Session::respond.

enum class Route { healthz, readyz, metrics, borrowers, borrower, alerts, series, what_if, stream, index, asset };

enum class Methods { get, post };  // get: GET and HEAD

struct RouteEntry {
  std::array<std::string_view, 4> segments;  // "{}" matches one segment, captured
  std::size_t size;
  Route route;
  Methods methods;
};

constexpr std::array<RouteEntry, 11> k_routes = {{
    {{}, 0, Route::index, Methods::get},
    {{"assets", "{}"}, 2, Route::asset, Methods::get},
    {{"api", "v1", "stream"}, 3, Route::stream, Methods::get},
    {{"healthz"}, 1, Route::healthz, Methods::get},
    {{"readyz"}, 1, Route::readyz, Methods::get},
    {{"metrics"}, 1, Route::metrics, Methods::get},
    {{"api", "v1", "borrowers"}, 3, Route::borrowers, Methods::get},
    {{"api", "v1", "borrowers", "{}"}, 4, Route::borrower, Methods::get},
    {{"api", "v1", "alerts"}, 3, Route::alerts, Methods::get},
    {{"api", "v1", "series"}, 3, Route::series, Methods::get},
    {{"api", "v1", "what-if"}, 3, Route::what_if, Methods::post},
}};

struct RouteMatch {
  const RouteEntry* entry = nullptr;
  std::string param;
};

/// Matches percent-decoded path segments against the table.
RouteMatch match_route(const std::vector<std::string>& segments) {
  for (const RouteEntry& e : k_routes) {
    if (e.size != segments.size()) continue;
    RouteMatch m{&e, {}};
    bool ok = true;
    for (std::size_t i = 0; i < e.size && ok; ++i) {
      if (e.segments[i] == "{}") {
        m.param = segments[i];
      } else {
        ok = e.segments[i] == segments[i];
      }
    }
    if (ok) return m;
  }
  return {};
}

bool method_allowed(Methods methods, http::verb verb) {
  switch (methods) {
    case Methods::get: return verb == http::verb::get || verb == http::verb::head;
    case Methods::post: return verb == http::verb::post;
  }
  return false;
}

std::string_view allow_header(Methods methods) { return methods == Methods::get ? "GET, HEAD" : "POST"; }

/// An answer before it becomes a Beast response.
struct Reply {
  http::status status = http::status::ok;
  std::string_view content_type = k_json;
  std::string body;
  std::string_view allow;  // for 405
  bool close = false;      // close the connection after it
  bool page = false;       // a dashboard file: security headers (CSP, nosniff)
  bool upgrade = false;    // 426: names the protocol to upgrade to
};

Reply json_reply(http::status status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}
Reply error_reply(http::status status, std::string_view message) { return json_reply(status, error_json(message)); }

/// Checks the what-if body is `{"shocks": {...}}`; empty string when it is, else why not.
std::string check_what_if_body(const std::string& body) {
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(body, ec);
  if (ec) return "the body is not JSON: " + ec.message();
  const auto* object = doc.if_object();
  if (object == nullptr) return "expected a JSON object {\"shocks\": {...}}";
  for (const auto& kv : *object) {
    if (kv.key() != "shocks") return "unknown key '" + std::string(kv.key()) + "' (expected {\"shocks\": {...}})";
  }
  const auto* shocks = object->if_contains("shocks");
  if (shocks == nullptr || !shocks->is_object()) return "expected \"shocks\": an object of series or group -> shock";
  return {};
}

/// One compiled-in dashboard file, or 404.
Reply asset_reply(std::string_view name) {
  for (const WebAsset& a : web_assets()) {
    if (a.name == name) {
      Reply r;
      r.content_type = a.content_type;
      r.body = std::string(a.body);
      r.page = true;
      return r;
    }
  }
  return error_reply(http::status::not_found, "no such file");
}

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

/// A browser's WebSocket must come from a page this server served: Origin, when
/// present, must name the Host the request was sent to (refuses cross-site
/// WebSocket hijacking; non-browser clients send no Origin). Behind a proxy
/// that rewrites Host, have it pass the original Host through.
bool same_origin(const Request& req) {
  const std::string_view origin = req[http::field::origin];
  if (origin.empty()) return true;
  std::string_view rest = origin;
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (rest.size() > scheme.size() && beast::iequals(rest.substr(0, scheme.size()), scheme)) {
      rest.remove_prefix(scheme.size());
      return beast::iequals(rest, req[http::field::host]);
    }
  }
  return false;  // "null" (file://, sandboxed) and other schemes
}

}  // namespace

// ---------------------------------------------------------------------------
// Server state shared by the acceptor and the sessions.

namespace {

class Session;
class StreamSession;

struct ServerCore : std::enable_shared_from_this<ServerCore> {
  ServerCore(asio::io_context& ioc_in, ApiBackend& backend_in, HttpServerOptions options_in)
      : ioc(ioc_in),
        backend(backend_in),
        options(std::move(options_in)),
        acceptor(asio::make_strand(ioc_in)),
        accept_retry(acceptor.get_executor()),
        watch_timer(asio::make_strand(ioc_in)) {
    const tcp::endpoint endpoint = parse_listen(options.listen);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    bound_port = acceptor.local_endpoint().port();
  }

  void do_accept();
  void on_accept(boost::system::error_code ec, tcp::socket socket);
  void stop();
  /// The stream watcher: every stream_poll_interval, fan_out().
  void watch();
  /// If the backend has a new snapshot: remember it and, when clients are
  /// connected, build the messages from the last one once and deliver them.
  void fan_out();

  /// Registers a stream client for fan-out and stop(). Returns false once
  /// stopping; else true and the snapshot the client must start from (null:
  /// none yet; the watcher's first fan-out sends it the result document).
  std::pair<bool, SnapshotPtr> add_stream(StreamSession* key, const std::shared_ptr<StreamSession>& stream) {
    std::lock_guard lock(mutex);
    if (stopping) return {false, nullptr};
    streams.emplace(key, stream);
    return {true, streamed};
  }
  void remove_stream(StreamSession* key) {
    std::lock_guard lock(mutex);
    streams.erase(key);
  }
  std::size_t stream_count() {
    std::lock_guard lock(mutex);
    return streams.size();
  }

  /// Registers a session for stop(); false once stopping (the caller closes it).
  bool add_session(Session* key, const std::shared_ptr<Session>& session) {
    std::lock_guard lock(mutex);
    if (stopping) return false;
    sessions.emplace(key, session);
    return true;
  }
  void remove_session(Session* key) {
    std::lock_guard lock(mutex);
    sessions.erase(key);
  }
  bool is_stopping() {
    std::lock_guard lock(mutex);
    return stopping;
  }

  asio::io_context& ioc;
  ApiBackend& backend;
  const HttpServerOptions options;
  tcp::acceptor acceptor;        // on its own strand
  asio::steady_timer accept_retry;
  std::uint16_t bound_port = 0;
  std::atomic<std::size_t> open_connections{0};
  asio::steady_timer watch_timer;  // the stream watcher, on its own strand
  std::atomic<std::uint64_t> streams_dropped{0};

  std::mutex mutex;  // guards the four below; never held across I/O
  bool stopping = false;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  std::unordered_map<StreamSession*, std::weak_ptr<StreamSession>> streams;
  SnapshotPtr streamed;  // the snapshot the stream clients have been brought to
};

// ---------------------------------------------------------------------------
// One connection. Every handler runs on the connection's strand.

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<ServerCore> server)
      : server_(std::move(server)),
        stream_(std::move(socket)),
        strand_(stream_.get_executor()),
        timer_(strand_),
        buffer_(server_->options.header_limit_bytes + server_->options.body_limit_bytes + 16 * 1024) {
    ++server_->open_connections;
  }
  ~Session() {
    server_->remove_session(this);
    --server_->open_connections;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void run() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->do_read(); });
  }

  /// From any thread: closes the connection; pending operations complete aborted.
  void abort_from_any_thread() {
    asio::post(strand_, [self = shared_from_this()] { self->close_now(); });
  }

 private:
  void do_read() {
    if (closed_ || server_->is_stopping()) return close_now();
    parser_.emplace();
    parser_->body_limit(server_->options.body_limit_bytes);
    parser_->header_limit(server_->options.header_limit_bytes);
    // One deadline for the whole request, header and body.
    stream_.expires_after(server_->options.read_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                              self->guarded([&] { self->on_header(ec); });
                            });
  }

  void on_header(boost::system::error_code ec) {
    if (ec || parser_->is_done()) return on_read(ec);
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      // The body fits the limit (else body_limit was reported already): ask for it.
      static constexpr std::string_view k_continue = "HTTP/1.1 100 Continue\r\n\r\n";
      return asio::async_write(stream_, asio::buffer(k_continue.data(), k_continue.size()),
                               [self = shared_from_this()](boost::system::error_code write_ec, std::size_t) {
                                 self->guarded([&] {
                                   if (write_ec) return self->close_now();
                                   self->read_body();
                                 });
                               });
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      self->guarded([&] { self->on_read(ec); });
    });
  }

  void on_read(boost::system::error_code ec) {
    if (ec) {
      if (ec == http::error::body_limit) {
        return send_error_then_close(http::status::payload_too_large, "request body over the limit");
      }
      if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        return send_error_then_close(http::status::request_header_fields_too_large, "request header over the limit");
      }
      if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message) {
        return send_error_then_close(http::status::bad_request, "malformed request: " + ec.message());
      }
      // end of stream, timeout (the stream is already closed), reset, aborted.
      return close_now();
    }
    request_ = parser_->release();
    dispatch_request();
  }

  void dispatch_request() {
    Reply reply;
    try {
      reply = respond();
    } catch (const std::exception& e) {
      reply = error_reply(http::status::internal_server_error, std::string("internal error: ") + e.what());
    } catch (...) {
      reply = error_reply(http::status::internal_server_error, "internal error");
    }
    if (upgrade_) return hand_over_to_stream();
    if (!waiting_what_if_) send(std::move(reply));
  }

  /// The request was a valid WebSocket upgrade: the socket moves to a
  /// StreamSession and this session ends.
  void hand_over_to_stream();

  /// Routes the request. Sets waiting_what_if_ instead of answering for an
  /// accepted what-if.
  Reply respond() {
    const auto url = boost::urls::parse_origin_form(request_.target());
    if (!url) return error_reply(http::status::bad_request, "malformed request target");
    std::vector<std::string> segments;
    for (const auto& segment : url->segments()) {
      if (segments.size() == k_max_path_segments) return error_reply(http::status::not_found, "no such route");
      segments.emplace_back(segment);
    }
    const RouteMatch match = match_route(segments);
    if (match.entry == nullptr) return error_reply(http::status::not_found, "no such route");
    if (!method_allowed(match.entry->methods, request_.method())) {
      Reply r = error_reply(http::status::method_not_allowed, "method not allowed");
      r.allow = allow_header(match.entry->methods);
      return r;
    }

    ApiBackend& backend = server_->backend;
    switch (match.entry->route) {
      case Route::healthz:
        return backend.alive() ? json_reply(http::status::ok, health_json())
                               : error_reply(http::status::service_unavailable, "loops not turning");
      case Route::readyz: {
        const SnapshotPtr snap = backend.snapshot();
        return json_reply(snap && snap->ready ? http::status::ok : http::status::service_unavailable,
                          ready_json(snap.get()));
      }
      case Route::metrics: {
        Reply r = json_reply(http::status::ok, backend.metrics_text());
        r.content_type = k_prometheus_text;
        return r;
      }
      case Route::borrowers:
      case Route::borrower:
      case Route::alerts:
      case Route::series: {
        const SnapshotPtr snap = backend.snapshot();
        if (!snap) return error_reply(http::status::service_unavailable, "starting");
        switch (match.entry->route) {
          case Route::borrowers: return json_reply(http::status::ok, snap->result_document());
          case Route::borrower: {
            const BorrowerView* b = valid_borrower_id(match.param) ? snap->find(match.param) : nullptr;
            if (b == nullptr) return error_reply(http::status::not_found, "unknown borrower");
            return json_reply(http::status::ok, b->json());
          }
          case Route::alerts: return json_reply(http::status::ok, alerts_json(*snap));
          default: return json_reply(http::status::ok, series_json(*snap, wall_clock_ms()));
        }
      }
      case Route::what_if: return start_what_if();
      case Route::stream: {
        if (!websocket::is_upgrade(request_)) {
          Reply r = error_reply(http::status::upgrade_required,
                                "/api/v1/stream is a WebSocket: send GET with Upgrade: websocket");
          r.upgrade = true;
          return r;
        }
        if (!same_origin(request_)) {
          return error_reply(http::status::forbidden, "cross-origin WebSocket refused: Origin must match Host");
        }
        upgrade_ = true;
        return {};
      }
      case Route::index: return asset_reply("index.html");
      case Route::asset: return asset_reply(match.param);
    }
    return error_reply(http::status::not_found, "no such route");
  }

  Reply start_what_if() {
    if (!server_->backend.snapshot()) return error_reply(http::status::service_unavailable, "starting");
    if (std::string why = check_what_if_body(request_.body()); !why.empty()) {
      return error_reply(http::status::bad_request, why);
    }
    // `claimed` decides between the backend's answer and the timeout; the
    // backend's callback holds the session only weakly, so a what-if that
    // never completes leaks nothing past the timeout.
    auto claimed = std::make_shared<std::atomic<bool>>(false);
    waiting_what_if_ = true;
    timer_.expires_after(server_->options.what_if_timeout);
    timer_.async_wait([self = shared_from_this(), claimed](boost::system::error_code ec) {
      if (ec || claimed->exchange(true)) return;
      self->guarded([&] {
        self->waiting_what_if_ = false;
        self->send(error_reply(http::status::service_unavailable, "what-if timed out"));
      });
    });
    std::weak_ptr<Session> weak = weak_from_this();
    // Captures no executor: dropping `done` after the io_context is gone is safe.
    auto done = [weak, claimed](int status, std::string body) {
      if (claimed->exchange(true)) return;  // timed out, or a second call
      const std::shared_ptr<Session> self = weak.lock();
      if (!self) return;
      asio::post(self->strand_, [self, status, body = std::move(body)]() mutable {
        self->guarded([&] {
          self->timer_.cancel();
          self->waiting_what_if_ = false;
          const bool valid = status >= 100 && status <= 599;
          self->send(valid ? json_reply(static_cast<http::status>(status), std::move(body))
                           : error_reply(http::status::internal_server_error, "what-if: bad status from the engine"));
        });
      });
    };
    try {
      server_->backend.what_if(std::move(request_.body()), std::move(done));
    } catch (const std::exception& e) {
      if (!claimed->exchange(true)) {
        timer_.cancel();
        waiting_what_if_ = false;
        return error_reply(http::status::internal_server_error, std::string("what-if: ") + e.what());
      }
    }
    return {};
  }

  void send(Reply reply) {
    if (closed_) return;
    const bool head = request_.method() == http::verb::head;
    response_.emplace(reply.status, request_.version() == 0 ? 11 : request_.version());
    Response& res = *response_;
    res.set(http::field::server, "riskd");
    res.set(http::field::content_type, reply.content_type);
    res.set(http::field::cache_control, "no-store");
    if (!reply.allow.empty()) res.set(http::field::allow, reply.allow);
    res.set("X-Content-Type-Options", "nosniff");
    if (reply.page) {
      res.set("Content-Security-Policy", k_page_csp);
      res.set("Referrer-Policy", "no-referrer");
    }
    if (reply.upgrade) res.set(http::field::upgrade, "websocket");
    res.keep_alive(!reply.close && request_.keep_alive() && !server_->is_stopping());
    res.body() = std::move(reply.body);
    res.prepare_payload();
    if (head) res.body().clear();  // Content-Length stays that of the GET answer
    close_after_write_ = !res.keep_alive();
    linger_after_write_ = reply.close;
    stream_.expires_after(server_->options.write_timeout);
    http::async_write(stream_, res, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      self->guarded([&] { self->on_write(ec); });
    });
  }

  void on_write(boost::system::error_code ec) {
    response_.reset();
    if (ec) return close_now();
    if (linger_after_write_) return linger_close();
    if (close_after_write_) {
      boost::system::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return close_now();
    }
    do_read();
  }

  /// Answers a request that could not be read, then closes.
  void send_error_then_close(http::status status, std::string_view message) {
    request_ = {};
    request_.version(11);
    request_.keep_alive(false);
    Reply reply = error_reply(status, message);
    reply.close = true;
    send(std::move(reply));
  }

  /// After an error answer the client may still be sending: stop sending, read
  /// and discard a bounded amount for a bounded time, then close, so that the
  /// client reads the answer instead of a reset.
  void linger_close() {
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::min<std::chrono::milliseconds>(k_linger_timeout, server_->options.read_timeout));
    linger_budget_ = k_linger_bytes;
    scratch_.resize(4096);
    do_linger();
  }

  void do_linger() {
    stream_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](boost::system::error_code ec,
                                                                                std::size_t n) {
      self->guarded([&] {
        if (ec || n >= self->linger_budget_ || self->closed_) return self->close_now();
        self->linger_budget_ -= n;
        self->do_linger();
      });
    });
  }

  void close_now() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  /// Runs `f`; any exception closes the connection instead of escaping.
  template <typename F>
  void guarded(F&& f) noexcept {
    run_guarded(f, [this] { close_now(); });
  }

  std::shared_ptr<ServerCore> server_;
  beast::tcp_stream stream_;
  beast::tcp_stream::executor_type strand_;
  asio::steady_timer timer_;  // the what-if timeout
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Request request_;
  std::optional<Response> response_;
  std::vector<char> scratch_;
  std::size_t linger_budget_ = 0;
  bool waiting_what_if_ = false;
  bool upgrade_ = false;
  bool close_after_write_ = false;
  bool linger_after_write_ = false;
  bool closed_ = false;
};

// ---------------------------------------------------------------------------
// One WebSocket client of /api/v1/stream. Every handler runs on its strand.
// Writes go one at a time from a bounded backlog; a read loop keeps the
// connection's control frames (ping, pong, close) flowing and ignores data.

class StreamSession : public std::enable_shared_from_this<StreamSession> {
 public:
  StreamSession(tcp::socket socket, std::shared_ptr<ServerCore> server)
      : server_(std::move(server)),
        ws_(std::move(socket)),
        strand_(ws_.get_executor()),
        close_timer_(strand_),
        backlog_(server_->options.stream_backlog_messages, server_->options.stream_backlog_bytes) {
    ++server_->open_connections;
    boost::system::error_code ec;
    const tcp::endpoint peer = beast::get_lowest_layer(ws_).socket().remote_endpoint(ec);
    if (!ec) peer_ = peer.address().to_string() + ":" + std::to_string(peer.port());
  }
  ~StreamSession() {
    server_->remove_stream(this);
    --server_->open_connections;
  }
  StreamSession(const StreamSession&) = delete;
  StreamSession& operator=(const StreamSession&) = delete;

  /// Answers the upgrade `request` (101) and starts streaming.
  void start(Request request) {
    asio::dispatch(strand_, [self = shared_from_this(), request = std::move(request)]() mutable {
      self->guarded([&] { self->accept(std::move(request)); });
    });
  }

  /// From any thread: queues `messages` in order (the same payloads go to every client).
  void deliver(std::shared_ptr<const std::vector<StreamMessage>> messages) {
    asio::post(strand_, [self = shared_from_this(), messages = std::move(messages)] {
      self->guarded([&] {
        for (const StreamMessage& m : *messages) {
          if (!self->enqueue(m)) break;
        }
      });
    });
  }

  /// From any thread: close frame 1001, then the socket.
  void shut_down_from_any_thread() {
    asio::post(strand_, [self = shared_from_this()] {
      self->guarded([&] { self->begin_close(websocket::close_code::going_away, "server shutting down"); });
    });
  }

 private:
  void accept(Request request) {
    request_ = std::move(request);
    beast::get_lowest_layer(ws_).expires_never();  // the websocket timeouts below take over
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = server_->options.write_timeout;
    timeouts.idle_timeout = server_->options.stream_idle_timeout;
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "riskd"); }));
    ws_.read_message_max(k_stream_read_max);
    ws_.async_accept(request_, [self = shared_from_this()](boost::system::error_code ec) {
      self->guarded([&] { self->on_accept(ec); });
    });
  }

  void on_accept(boost::system::error_code ec) {
    request_ = {};
    if (ec || closing_) return finish();
    auto [registered, start_from] = server_->add_stream(this, shared_from_this());
    if (!registered) return begin_close(websocket::close_code::going_away, "server shutting down");
    do_read();
    if (start_from) enqueue(std::make_shared<const std::string>(start_from->result_document()));
  }

  void do_read() {
    ws_.async_read(read_buffer_, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      self->guarded([&] {
        if (ec) return self->finish();  // closed by the peer, idle timeout, or our own close done
        self->read_buffer_.clear();
        self->do_read();
      });
    });
  }

  /// False when the client is being closed (now or before).
  bool enqueue(const StreamMessage& message) {
    if (closing_ || closed_) return false;
    if (!backlog_.push(message)) {
      server_->streams_dropped.fetch_add(1);
      const std::string reason = "client too slow: backlog over " +
                                 std::to_string(server_->options.stream_backlog_messages) + " messages or " +
                                 std::to_string(server_->options.stream_backlog_bytes) + " bytes";
      try {
        spdlog::warn("stream: dropping client {}: {} ({} messages, {} bytes queued)", peer_, reason, backlog_.size(),
                     backlog_.bytes());
      } catch (...) {  // logging must not stop the drop
      }
      begin_close(websocket::close_code::policy_error, reason);
      return false;
    }
    if (!writing_) do_write();
    return true;
  }

  void do_write() {
    in_flight_ = backlog_.pop();
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(*in_flight_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      self->guarded([&] { self->on_write(ec); });
    });
  }

  void on_write(boost::system::error_code ec) {
    writing_ = false;
    in_flight_.reset();
    if (ec) return finish();
    if (closing_) return do_close();
    if (!backlog_.empty()) do_write();
  }

  /// Starts the closing handshake with `code` and `reason` once the write in
  /// flight (if any) is done; the socket is closed after stream_close_timeout
  /// in any case.
  void begin_close(websocket::close_code code, std::string reason) {
    if (closing_ || closed_) return;
    closing_ = true;
    backlog_.clear();
    close_reason_ = websocket::close_reason(code, reason);
    close_timer_.expires_after(server_->options.stream_close_timeout);
    close_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->guarded([&] { self->finish(); });
    });
    if (!ws_.is_open()) return finish();  // before the handshake: nothing to say
    if (!writing_) do_close();
  }

  void do_close() {
    ws_.async_close(close_reason_, [self = shared_from_this()](boost::system::error_code) {
      self->guarded([&] { self->finish(); });
    });
  }

  /// Closes the socket; pending operations complete aborted. Idempotent.
  void finish() {
    if (closed_) return;
    closed_ = true;
    closing_ = true;
    close_timer_.cancel();
    backlog_.clear();
    server_->remove_stream(this);
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close();
  }

  /// Runs `f`; any exception ends the stream instead of escaping.
  template <typename F>
  void guarded(F&& f) noexcept {
    run_guarded(f, [this] { finish(); });
  }

  std::shared_ptr<ServerCore> server_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::tcp_stream::executor_type strand_;
  asio::steady_timer close_timer_;
  Request request_;  // the upgrade request, until the handshake is done
  beast::flat_buffer read_buffer_;
  StreamBacklog backlog_;
  StreamMessage in_flight_;  // the payload async_write is sending
  websocket::close_reason close_reason_;
  std::string peer_ = "?";
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

void Session::hand_over_to_stream() {
  closed_ = true;  // this session does nothing more; the socket moves on
  timer_.cancel();
  auto stream = std::make_shared<StreamSession>(stream_.release_socket(), server_);
  stream->start(std::move(request_));
}

// ---------------------------------------------------------------------------

void ServerCore::watch() {
  watch_timer.expires_after(options.stream_poll_interval);
  watch_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->is_stopping()) return;
    try {
      self->fan_out();
    } catch (const std::exception& e) {  // e.g. bad_alloc: skip this round, the next one catches up
      try {
        spdlog::error("stream: fan-out failed: {}", e.what());
      } catch (...) {
      }
    }
    self->watch();
  });
}

void ServerCore::fan_out() {
  const SnapshotPtr next = backend.snapshot();
  if (!next) return;
  SnapshotPtr prev;
  std::vector<std::shared_ptr<StreamSession>> clients;
  {
    std::lock_guard lock(mutex);
    if (streamed == next) return;
    prev = std::exchange(streamed, next);
    for (auto& [key, weak] : streams) {
      if (auto s = weak.lock()) clients.push_back(std::move(s));
    }
  }
  if (clients.empty()) return;
  auto messages = std::make_shared<const std::vector<StreamMessage>>(stream_messages(prev.get(), *next));
  if (messages->empty()) return;
  for (auto& c : clients) c->deliver(messages);
}

void ServerCore::do_accept() {
  acceptor.async_accept(asio::make_strand(ioc),
                        [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
                          try {
                            self->on_accept(ec, std::move(socket));
                          } catch (...) {  // keep accepting; the socket is dropped
                            if (self->acceptor.is_open()) self->do_accept();
                          }
                        });
}

void ServerCore::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (!acceptor.is_open() || ec == asio::error::operation_aborted) return;
  if (ec) {  // EMFILE and the like: retry later instead of spinning
    accept_retry.expires_after(k_accept_retry);
    accept_retry.async_wait([self = shared_from_this()](boost::system::error_code wait_ec) {
      if (!wait_ec && self->acceptor.is_open()) self->do_accept();
    });
    return;
  }
  if (open_connections.load() >= options.max_connections) {
    boost::system::error_code ignored;
    socket.close(ignored);  // over the cap: refuse by closing
  } else {
    auto session = std::make_shared<Session>(std::move(socket), shared_from_this());
    if (add_session(session.get(), session)) {
      session->run();
    }  // else stopping: the session closes its socket as it is destroyed
  }
  do_accept();
}

void ServerCore::stop() {
  std::vector<std::shared_ptr<Session>> open;
  std::vector<std::shared_ptr<StreamSession>> open_streams;
  {
    std::lock_guard lock(mutex);
    stopping = true;
    for (auto& [key, weak] : sessions) {
      if (auto s = weak.lock()) open.push_back(std::move(s));
    }
    for (auto& [key, weak] : streams) {
      if (auto s = weak.lock()) open_streams.push_back(std::move(s));
    }
    streamed.reset();
  }
  asio::post(watch_timer.get_executor(), [self = shared_from_this()] { self->watch_timer.cancel(); });
  for (auto& s : open_streams) s->shut_down_from_any_thread();
  asio::post(acceptor.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor.close(ignored);
    self->accept_retry.cancel();
  });
  for (auto& s : open) s->abort_from_any_thread();
}

}  // namespace

struct HttpServer::Impl {
  std::shared_ptr<ServerCore> core;
};

HttpServer::HttpServer(asio::io_context& ioc, ApiBackend& backend, HttpServerOptions options)
    : impl_(std::make_shared<Impl>(Impl{std::make_shared<ServerCore>(ioc, backend, std::move(options))})) {}

HttpServer::~HttpServer() {
  try {
    stop();
  } catch (...) {  // a destructor must not throw
  }
}

void HttpServer::start() {
  asio::post(impl_->core->acceptor.get_executor(), [core = impl_->core] { core->do_accept(); });
  asio::post(impl_->core->watch_timer.get_executor(), [core = impl_->core] {
    if (!core->is_stopping()) core->watch();
  });
}

void HttpServer::stop() { impl_->core->stop(); }

std::uint16_t HttpServer::port() const { return impl_->core->bound_port; }

std::size_t HttpServer::connections() const { return impl_->core->open_connections.load(); }

std::size_t HttpServer::stream_clients() const { return impl_->core->stream_count(); }

std::uint64_t HttpServer::stream_clients_dropped() const { return impl_->core->streams_dropped.load(); }

}  // namespace riskd::daemon
