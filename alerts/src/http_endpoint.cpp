#include "riskd/alerts/http_endpoint.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <stdexcept>

namespace riskd::alerts {

namespace {

[[noreturn]] void reject(std::string_view what, std::string_view url, std::string_view why) {
  throw std::invalid_argument(std::string(what) + ": invalid URL \"" + std::string(url) + "\": " + std::string(why));
}

}  // namespace

HttpEndpoint parse_http_url(std::string_view url, std::string_view what) {
  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed) reject(what, url, "not an absolute URL (" + parsed.error().message() + ")");
  const boost::urls::url_view& u = *parsed;
  if (u.scheme() == "https") reject(what, url, "https is not supported by notification sinks yet (use http)");
  if (u.scheme() != "http") reject(what, url, "the scheme must be http");
  if (!u.has_authority() || u.encoded_host().empty()) reject(what, url, "no host");
  if (u.has_userinfo()) reject(what, url, "user info is not supported");
  if (u.has_fragment()) reject(what, url, "a fragment is not allowed");
  if (u.host_type() == boost::urls::host_type::ipvfuture) reject(what, url, "unsupported IP literal");
  HttpEndpoint out;
  out.url = std::string(url);
  out.host = u.host_address();
  if (u.has_port()) {
    // port_number() wraps values above 65535: check the digits themselves.
    const std::string_view digits = u.port();
    unsigned long port = 0;
    for (const char c : digits) {
      port = port * 10 + static_cast<unsigned long>(c - '0');
      if (port > 65535) break;
    }
    if (digits.empty() || port == 0 || port > 65535) reject(what, url, "the port must be 1-65535");
    out.port = static_cast<std::uint16_t>(port);
  }
  out.target = std::string(u.encoded_path());
  if (out.target.empty()) out.target = "/";
  if (u.has_query()) out.target += "?" + std::string(u.encoded_query());
  out.host_header = std::string(u.encoded_host_and_port());
  return out;
}

std::string percent_encode_segment(std::string_view text) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(k_hex[c >> 4]);
      out.push_back(k_hex[c & 0xF]);
    }
  }
  return out;
}

}  // namespace riskd::alerts
