#pragma once
// HTTP endpoints of notification sinks, parsed and checked once at
// construction (Boost.URL, kept out of this header).
#include <cstdint>
#include <string>
#include <string_view>

namespace riskd::alerts {

struct HttpEndpoint {
  std::string url;   // as configured
  std::string host;  // name or address (IPv6 without brackets)
  std::uint16_t port = 80;
  std::string target;       // path and query, at least "/"
  std::string host_header;  // "host[:port]" as in the URL
};

/// Parses an absolute `http://` URL. Throws std::invalid_argument whose
/// message names `what` (e.g. "outputs.webhooks[0].url") and the URL if it
/// is not one: unparsable, another scheme (`https` included: TLS is not
/// supported by sinks yet), no host, user info, a fragment, or port 0.
HttpEndpoint parse_http_url(std::string_view url, std::string_view what);

/// Percent-encodes every byte outside RFC 3986 "unreserved" (ALPHA DIGIT - . _ ~),
/// for one path segment.
std::string percent_encode_segment(std::string_view text);

}  // namespace riskd::alerts
