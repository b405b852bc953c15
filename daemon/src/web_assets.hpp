#pragma once
// The dashboard's files (daemon/web/), compiled into the binary by
// cmake/embed_assets.cmake so `GET /` works with no file on disk and no
// network. Private to the daemon library.
#include <span>
#include <string_view>

namespace riskd::daemon {

struct WebAsset {
  std::string_view name;          // path relative to daemon/web, e.g. "app.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
};

/// Every embedded file; static storage, valid for the life of the process.
std::span<const WebAsset> web_assets();

}  // namespace riskd::daemon
