// The JSON path of parse_borrower (config/src/json_tree.*): a borrower
// document that is plain JSON is read into the tree the YAML parser would
// build and through the same schema; everything else, and every document
// with a problem, goes through the YAML parser. Checked two ways: the trees
// are equal node for node, and parse_borrower gives the same borrower, the
// same new kinds or the same errors whichever parser reads the document.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "json_tree.hpp"
#include "riskd/config/config.hpp"
#include "support/borrower_json.hpp"
#include "support/random_book.hpp"

namespace {

using riskd::config::ConfigInvalid;
using riskd::config::parse_borrower;
using riskd::config::detail::json_tree;
using riskd::risk::SeriesKind;
using Kinds = std::map<std::string, SeriesKind>;

/// Type, tag, scalar text, and children in order, recursively.
std::string tree_text(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "~";
    case YAML::NodeType::Undefined: return "<undefined>";
    case YAML::NodeType::Scalar: return "<" + n.Tag() + ">'" + n.Scalar() + "'";
    case YAML::NodeType::Sequence: {
      std::string s = "[";
      for (const auto& item : n) s += tree_text(item) + ",";
      return s + "]";
    }
    case YAML::NodeType::Map: {
      std::string s = "{";
      for (const auto& kv : n) s += tree_text(kv.first) + ":" + tree_text(kv.second) + ",";
      return s + "}";
    }
  }
  return "?";
}

/// Keys of a parsed tree are scalars whatever their tag; compare key text only.
std::string tree_text_keys_untagged(const YAML::Node& n) {
  if (n.IsMap()) {
    std::string s = "{";
    for (const auto& kv : n) s += "'" + kv.first.Scalar() + "':" + tree_text_keys_untagged(kv.second) + ",";
    return s + "}";
  }
  if (n.IsSequence()) {
    std::string s = "[";
    for (const auto& item : n) s += tree_text_keys_untagged(item) + ",";
    return s + "]";
  }
  return tree_text(n);
}

std::string hex(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", x);
  return buf;
}

/// Every field of a borrower, doubles exactly.
std::string dump(const riskd::risk::BorrowerSpec& b) {
  std::string s = b.id + "|" + b.name + "|" + hex(b.covenants.max_ltv) + "," + hex(b.covenants.min_dscr) + "|" +
                  hex(b.cash_usd) + "|" + hex(b.fixed_costs_usd_per_year) + "|crypto:";
  for (const auto& c : b.crypto) s += c.series + "," + hex(c.units) + "," + hex(c.haircut) + ";";
  s += "|gpus:";
  for (const auto& g : b.gpus) {
    s += g.model + "," + g.index_series + "," + hex(g.count) + "," + hex(g.utilization) + "," +
         hex(g.opex_usd_per_gpu_hour) + "," + std::to_string(g.in_service_ms) + "," + hex(g.useful_life_months);
    if (g.contract) {
      s += ",c:" + hex(g.contract->gpus) + "," + hex(g.contract->usd_per_gpu_hour) + "," +
           std::to_string(g.contract->end_ms);
    }
    s += ";";
  }
  if (b.mining) {
    s += "|mining:" + hex(b.mining->hashrate_ph) + "," + hex(b.mining->opex_usd_per_ph_day) + "," +
         (b.mining->btc_per_ph_day ? hex(*b.mining->btc_per_ph_day) : "-") + "," + b.mining->btc_series + "," +
         b.mining->hashprice_series;
  }
  s += "|facilities:";
  for (const auto& f : b.facilities) {
    s += f.id + "," + f.kind + "," + hex(f.principal_usd) + "," + hex(f.amortization_usd_per_year) + "," +
         std::to_string(f.maturity_ms) + ",";
    if (const auto* fixed = std::get_if<riskd::risk::FixedRate>(&f.rate)) {
      s += "fixed " + hex(fixed->fixed_pct);
    } else {
      const auto& fl = std::get<riskd::risk::FloatingRate>(f.rate);
      s += "floating " + fl.base_series + "," + hex(fl.spread_bps) + "," + fl.spread_series + "," + hex(fl.floor_pct);
    }
    s += ";";
  }
  return s;
}

/// What parse_borrower makes of `text`: the borrower and its new kinds, or
/// every error with its place.
std::string outcome(const std::string& text, const Kinds& known) {
  Kinds new_kinds{{"left-over", SeriesKind::price}};
  try {
    const auto b = parse_borrower(text, "topic[0]@1", known, &new_kinds);
    std::string s = "ok " + dump(b) + " new:";
    for (const auto& [id, kind] : new_kinds) s += id + "=" + std::string(riskd::risk::to_string(kind)) + ",";
    return s;
  } catch (const ConfigInvalid& e) {
    std::string s = "invalid";
    for (const auto& err : e.errors()) s += "\n" + err.to_string();
    return s;
  }
}

/// The same document as YAML only: a trailing comment is not JSON.
std::string yaml_only(const std::string& text) { return text + "\n# read by the YAML parser"; }

const riskd::risk::TimeMs k_t_ms = 1'764'547'200'000;  // 2025-12-01

std::vector<std::string> random_documents(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    auto spec = riskd::test::random_borrower(rng, k_t_ms, "b" + std::to_string(i));
    if (i % 3 == 0) spec.name = "Borrower " + std::to_string(i) + " (déjà vu)";
    out.push_back(riskd::test::borrower_json(spec));
  }
  return out;
}

/// Every value in a JSON document, for mutation.
void collect(boost::json::value& v, std::vector<boost::json::value*>& out) {
  out.push_back(&v);
  if (auto* o = v.if_object()) {
    for (auto& kv : *o) collect(kv.value(), out);
  } else if (auto* a = v.if_array()) {
    for (auto& item : *a) collect(item, out);
  }
}

/// One random change of `doc`: most make it invalid, some keep it valid.
std::string mutate(const std::string& doc, std::mt19937_64& rng) {
  boost::json::value root = boost::json::parse(doc);
  std::vector<boost::json::value*> values;
  collect(root, values);
  boost::json::value& v = *values[std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(rng)];
  std::string huge;
  switch (std::uniform_int_distribution<int>(0, 11)(rng)) {
    case 0: v = nullptr; break;
    case 1: v = -1.0; break;
    case 2: v = 0; break;
    case 3: v = "text"; break;
    case 4: v = boost::json::object{}; break;
    case 5: v = boost::json::array{1, 2}; break;
    case 6: v = true; break;
    case 7: v = "${RISKD_TEST_UNSET_VARIABLE}"; break;
    case 8: v = "@@HUGE@@"; huge = "1e400"; break;
    case 9: v = "@@HUGE@@"; huge = "2.5E+3"; break;
    case 10:
      if (auto* o = v.if_object(); o != nullptr && !o->empty()) {
        o->erase(o->begin() + std::uniform_int_distribution<std::ptrdiff_t>(0, static_cast<std::ptrdiff_t>(o->size()) - 1)(rng));
      }
      break;
    default:
      if (auto* o = v.if_object()) (*o)["utilisation"] = 0.5;  // unknown key
      break;
  }
  std::string text = boost::json::serialize(root);
  if (!huge.empty()) text.replace(text.find("\"@@HUGE@@\""), 10, huge);
  return text;
}

}  // namespace

TEST_CASE("json_tree builds the tree the YAML parser builds") {
  const std::vector<std::string> docs{
      R"({"a": "text", "b": 1, "c": -0.5e-3, "d": 1E9, "e": -0, "f": true, "g": false, "h": null})",
      R"({"list": [1, "two", [3], {"four": 4}, [], {}], "empty": "", "unicode": "déjà vu €"})",
      "{\n  \"spaced\" :  [ 1 , 2 ] ,\n  \"n\": 123456789012345678901234567890\n}\n",
      R"({"dup": 1, "dup": 2, "id": "x"})",
      R"(["a", 1.25, null])",
      R"("just a string")",
      R"(42)",
  };
  for (const auto& doc : docs) {
    CAPTURE(doc);
    const auto tree = json_tree(doc);
    REQUIRE(tree.has_value());
    CHECK(tree_text_keys_untagged(*tree) == tree_text_keys_untagged(YAML::Load(doc)));
  }
  for (const auto& doc : random_documents(50, 7)) {
    CAPTURE(doc);
    const auto tree = json_tree(doc);
    REQUIRE(tree.has_value());
    CHECK(tree_text_keys_untagged(*tree) == tree_text_keys_untagged(YAML::Load(doc)));
  }
}

TEST_CASE("json_tree leaves to the YAML parser what is not plain JSON") {
  for (const std::string doc : {
           R"({"id": "a\u0041"})",     // escapes: the YAML parser decides
           R"({"id": "a\"b"})",
           "{id: plain-yaml}",         // YAML flow, not JSON
           "id: block-yaml\n",
           R"({"id": "x"} trailing)",  // extra data
           R"({"id": "x"})" "\n# comment",
           R"({"id": "x")",            // truncated
           "",
       }) {
    CAPTURE(doc);
    CHECK_FALSE(json_tree(doc).has_value());
  }
}

TEST_CASE("parse_borrower gives the same borrower or the same errors through JSON as through YAML") {
  std::mt19937_64 rng(11);
  std::size_t accepted = 0;
  std::size_t rejected = 0;
  const std::vector<Kinds> knowns{
      {},
      {{"BTC-USD", SeriesKind::price}, {"SOFR", SeriesKind::rate}},
      {{"GPU-H100", SeriesKind::price}},  // conflicts with its use as a GPU index
  };
  for (const auto& doc : random_documents(150, 3)) {
    for (int m = 0; m < 6; ++m) {
      const std::string text = m == 0 ? doc : mutate(doc, rng);
      const Kinds& known = knowns[static_cast<std::size_t>(m) % knowns.size()];
      CAPTURE(text);
      REQUIRE(json_tree(text).has_value());  // the JSON path is taken
      REQUIRE_FALSE(json_tree(yaml_only(text)).has_value());  // and this one is not
      const std::string via_json = outcome(text, known);
      CHECK(via_json == outcome(yaml_only(text), known));
      (via_json.rfind("ok", 0) == 0 ? accepted : rejected) += 1;
    }
  }
  // Both sides of the comparison were exercised.
  CHECK(accepted > 200);
  CHECK(rejected > 200);
}

TEST_CASE("parse_borrower names the line of an error in a JSON document") {
  // The JSON path has no positions: a document with an error is read again by
  // the YAML parser, so the error keeps its line and column.
  const std::string doc = "{\"id\": \"b1\",\n \"covenants\": {\"max_ltv\": 0.7, \"min_dscr\": -1}}";
  try {
    (void)parse_borrower(doc, "topic[0]@5", {}, nullptr);
    FAIL("expected ConfigInvalid");
  } catch (const ConfigInvalid& e) {
    REQUIRE(e.errors().size() == 1);
    CHECK(e.errors()[0].line == 2);
    CHECK(e.errors()[0].message == "borrowers[b1].covenants.min_dscr: must be > 0, got -1");
  }
}
