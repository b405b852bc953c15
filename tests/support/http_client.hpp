#pragma once
// A minimal blocking HTTP/1.1 client (Boost.Beast) for integration tests.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <string>

namespace riskd::test {

struct HttpResponse {
  int status = 0;  // 0: no answer (connection failed or timed out)
  std::string body;
  std::string content_type;
};

/// One request to http://host:port/target; never throws.
inline HttpResponse http_request(const std::string& host, unsigned short port, const std::string& method,
                                 const std::string& target, const std::string& body = {},
                                 std::chrono::seconds timeout = std::chrono::seconds(10)) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  HttpResponse out;
  try {
    boost::asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(host), port));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(stream, buffer, parser);
    out.status = static_cast<int>(parser.get().result_int());
    out.body = parser.get().body();
    out.content_type = std::string(parser.get()[http::field::content_type]);
    beast::error_code ec;
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  } catch (const std::exception&) {
    out.status = 0;
  }
  return out;
}

}  // namespace riskd::test
