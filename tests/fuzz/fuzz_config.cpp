// libFuzzer target: parse_config and parse_borrower on arbitrary bytes.
// Contract under test: they return or throw ConfigInvalid, nothing else; any
// other exception, a sanitizer report or an abort is a bug. (Built with
// RISKD_FUZZING, riskd::config aborts where it would otherwise report an
// internal error, so those are found too.)
// A borrower the JSON path of parse_borrower accepts (config/src/json_tree.hpp)
// must be what the YAML parser alone gives: the same borrower and new kinds;
// a difference aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "json_tree.hpp"
#include "riskd/config/config.hpp"

namespace {

/// parse_borrower's result as text: the borrower's id and new kinds, or the errors.
std::string borrower_outcome(const std::string& text) {
  std::map<std::string, riskd::risk::SeriesKind> new_kinds;
  try {
    const auto b = riskd::config::parse_borrower(text, "fuzz", {{"BTC-USD", riskd::risk::SeriesKind::price}}, &new_kinds);
    std::string out = "ok " + b.id + " " + std::to_string(b.crypto.size()) + " " + std::to_string(b.gpus.size()) +
                      " " + std::to_string(b.facilities.size());
    for (const auto& [id, kind] : new_kinds) out += " " + id + "=" + std::string(riskd::risk::to_string(kind));
    return out;
  } catch (const riskd::config::ConfigInvalid& e) {
    std::string out = "invalid";
    for (const auto& err : e.errors()) out += "\n" + err.to_string();
    return out;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)riskd::config::parse_config(text, "fuzz.yaml");
  } catch (const riskd::config::ConfigInvalid&) {
  }
  const std::string outcome = borrower_outcome(text);
  // A borrower the JSON path accepted must be the one the YAML parser alone
  // reads (a trailing comment is not JSON). A rejected document needs no
  // check: the JSON path hands it to the YAML parser as it is. (Comparing
  // those too would test the comment trick: "1\r" and "1\r\n# yaml" are
  // different YAML scalars.)
  if (outcome.rfind("ok", 0) == 0 && riskd::config::detail::json_tree(text) &&
      outcome != borrower_outcome(text + "\n# yaml")) {
    std::abort();
  }
  return 0;
}
