// libFuzzer target: parse_config and parse_borrower on arbitrary bytes.
// Contract under test: they return or throw ConfigInvalid, nothing else; any
// other exception, a sanitizer report or an abort is a bug. (Built with
// RISKD_FUZZING, riskd::config aborts where it would otherwise report an
// internal error, so those are found too.)
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "riskd/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)riskd::config::parse_config(text, "fuzz.yaml");
  } catch (const riskd::config::ConfigInvalid&) {
  }
  try {
    std::map<std::string, riskd::risk::SeriesKind> new_kinds;
    (void)riskd::config::parse_borrower(text, "fuzz", {{"BTC-USD", riskd::risk::SeriesKind::price}}, &new_kinds);
  } catch (const riskd::config::ConfigInvalid&) {
  }
  return 0;
}
