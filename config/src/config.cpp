#include "riskd/config/config.hpp"

#include <array>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include <yaml-cpp/eventhandler.h>

#include "borrower.hpp"
#include "json_tree.hpp"
#include "reader.hpp"
#include "schema.hpp"
#include "series_kinds.hpp"

namespace riskd::config {
namespace detail {
namespace {

using risk::SeriesKind;

constexpr std::size_t k_max_file_bytes = 16U << 20U;  // a config is text; refuse anything larger

// ---- intermediate forms that keep positions for the checks run after reading

/// One `series:` entry as written.
struct SeriesDecl {
  std::string id;
  risk::SeriesSettings settings;
  At where;                   // the entry (its value, or key when null)
  std::optional<At> kind_at;  // where `kind` was given
};

struct ShockInput {
  std::string key;
  double value = 0.0;
  At key_at;
  At value_at;
};

struct ScenarioInput {
  std::optional<std::string> name;
  At name_at;
  std::vector<ShockInput> shocks;
};

/// The whole document while it is read; `config` is the result.
struct Draft {
  Config config;
  std::vector<SeriesDecl> series;
  std::vector<ScenarioInput> scenarios;
};

// ---- small value rules

/// `http://...` or `https://...`.
void read_url(Reader& r, const At& v, std::string& out) {
  auto url = r.non_empty_text(v);
  if (!url) return;
  const bool http = url->rfind("http://", 0) == 0 && url->size() > 7;
  const bool https = url->rfind("https://", 0) == 0 && url->size() > 8;
  if (!http && !https) {
    r.error(v, "must be an http:// or https:// URL, got '" + *url + "'");
    return;
  }
  out = std::move(*url);
}

/// `HOST:PORT`, PORT in [0, 65535] (0: any free port).
void read_listen(Reader& r, const At& v, HttpSettings& out) {
  auto listen = r.non_empty_text(v);
  if (!listen) return;
  const std::size_t colon = listen->rfind(':');
  bool ok = colon != std::string::npos && colon > 0 && colon + 1 < listen->size() && listen->size() - colon <= 6;
  long port = 0;
  for (std::size_t i = colon + 1; ok && i < listen->size(); ++i) {
    const char c = (*listen)[i];
    ok = c >= '0' && c <= '9';
    port = port * 10 + (c - '0');
  }
  if (!ok || port > 65535) {
    r.error(v, "must be HOST:PORT (e.g. 127.0.0.1:8080), got '" + *listen + "'");
    return;
  }
  out.listen = std::move(*listen);
}

// ---- schemas of the top-level sections

const Schema<KafkaSettings>& kafka_schema() {
  static const Schema<KafkaSettings> schema{
      {
          text("bootstrap_servers", &KafkaSettings::bootstrap_servers),
          text("group_id", &KafkaSettings::group_id, Need::optional, false),
          custom<KafkaSettings>("properties", Need::optional,
                                [](Reader& r, const At& v, KafkaSettings& out) {
                                  r.for_each_entry(v, true, [&](const std::string& key, const At&, const At& value) {
                                    if (!value.node.IsScalar()) {
                                      r.error(value, "expected a scalar, got " + describe_node(value.node));
                                      return;
                                    }
                                    if (auto s = r.text(value)) out.properties[key] = std::move(*s);
                                  });
                                }),
      },
      {}};
  return schema;
}

const Schema<FeedSettings>& feeds_schema() {
  static const Schema<FeedSettings> schema{{
                                               custom<FeedSettings>("topics", Need::optional,
                                                                    [](Reader& r, const At& v, FeedSettings& out) {
                                                                      r.for_each_item(
                                                                          v, [&](std::size_t, const At& item) {
                                                                            if (auto s = r.non_empty_text(item))
                                                                              out.topics.push_back(std::move(*s));
                                                                          });
                                                                    }),
                                               text("borrowers_topic", &FeedSettings::borrowers_topic),
                                               text("state_topic", &FeedSettings::state_topic),
                                           },
                                           {}};
  return schema;
}

const Schema<AlertmanagerSettings>& alertmanager_schema() {
  static const Schema<AlertmanagerSettings> schema{
      {
          custom<AlertmanagerSettings>(
              "url", Need::required,
              [](Reader& r, const At& v, AlertmanagerSettings& out) { read_url(r, v, out.url); }),
          number("resend_s", &AlertmanagerSettings::resend_s, above(0)),
      },
      {}};
  return schema;
}

const Schema<WebhookSettings>& webhook_schema() {
  static const Schema<WebhookSettings> schema{
      {
          custom<WebhookSettings>("url", Need::required,
                                  [](Reader& r, const At& v, WebhookSettings& out) { read_url(r, v, out.url); }),
          number("timeout_s", &WebhookSettings::timeout_s, above(0)),
      },
      {}};
  return schema;
}

const Schema<OutputSettings>& outputs_schema() {
  static const Schema<OutputSettings> schema{
      {
          text("alerts_topic", &OutputSettings::alerts_topic),
          text("signals_topic", &OutputSettings::signals_topic),
          nested("alertmanager", &OutputSettings::alertmanager, alertmanager_schema()),
          list("webhooks", &OutputSettings::webhooks, webhook_schema()),
      },
      {}};
  return schema;
}

const Schema<HttpSettings>& http_schema() {
  static const Schema<HttpSettings> schema{{custom<HttpSettings>("listen", Need::optional, read_listen)}, {}};
  return schema;
}

const Schema<MetricsSettings>& metrics_schema() {
  static const Schema<MetricsSettings> schema{
      {
          custom<MetricsSettings>("borrower_series", Need::optional,
                                  [](Reader& r, const At& v, MetricsSettings& out) {
                                    const auto s = r.text(v);
                                    if (!s) return;
                                    if (*s == "all") {
                                      out.borrower_series = BorrowerSeries::all;
                                    } else if (*s == "alerting") {
                                      out.borrower_series = BorrowerSeries::alerting;
                                    } else if (*s == "none") {
                                      out.borrower_series = BorrowerSeries::none;
                                    } else {
                                      r.error(v, "must be one of all, alerting, none; got '" + *s + "'");
                                    }
                                  }),
      },
      {}};
  return schema;
}

const Schema<SeriesDecl>& series_schema() {
  static const Schema<SeriesDecl> schema{
      {
          custom<SeriesDecl>("kind", Need::optional,
                             [](Reader& r, const At& v, SeriesDecl& out) {
                               const auto s = r.text(v);
                               if (!s) return;
                               const auto kind = risk::series_kind_from_string(*s);
                               if (!kind) {
                                 r.error(v, "must be one of price, gpu_rent, rate, hashprice; got '" + *s + "'");
                                 return;
                               }
                               out.settings.kind = kind;
                               out.kind_at = v;
                             }),
          custom<SeriesDecl>("stale_after_s", Need::optional,
                             [](Reader& r, const At& v, SeriesDecl& out) {
                               if (auto x = r.number(v, above(0))) out.settings.stale_after_s = x;
                             }),
          custom<SeriesDecl>("max_jump", Need::optional,
                             [](Reader& r, const At& v, SeriesDecl& out) {
                               if (auto x = r.number(v, above(0))) out.settings.max_jump = x;
                             }),
      },
      {}};
  return schema;
}

const Schema<risk::ModelParams>& model_schema() {
  using risk::ModelParams;
  static const Schema<ModelParams> schema{
      {
          number("rent_decline_per_year", &ModelParams::rent_decline_per_year, closed_open(0, 1)),
          number("discount_rate", &ModelParams::discount_rate, above(-1)),
          number("fire_sale_base", &ModelParams::fire_sale_base, closed(0, 1)),
          number("fire_sale_impact", &ModelParams::fire_sale_impact, closed(0, 1)),
          number("fire_sale_exponent", &ModelParams::fire_sale_exponent, above(0)),
          number("fire_sale_max", &ModelParams::fire_sale_max, closed(0, 1)),
          number("obsolescence_discount", &ModelParams::obsolescence_discount, closed(0, 1)),
      },
      {}};
  return schema;
}

const Schema<risk::GpuModelParams>& gpu_model_schema() {
  using risk::GpuModelParams;
  static const Schema<GpuModelParams> schema{
      {
          number("secondary_depth_units", &GpuModelParams::secondary_depth_units, above(0)),
          flag("successor_released", &GpuModelParams::successor_released),
      },
      {}};
  return schema;
}

const Schema<risk::AlertingParams>& alerting_schema() {
  using risk::AlertingParams;
  static const Schema<AlertingParams> schema{
      {
          number("warn_ltv_margin", &AlertingParams::warn_ltv_margin, at_least(0)),
          number("warn_dscr_margin", &AlertingParams::warn_dscr_margin, at_least(0)),
          number("ltv_hysteresis", &AlertingParams::ltv_hysteresis, at_least(0)),
          number("dscr_hysteresis", &AlertingParams::dscr_hysteresis, at_least(0)),
          number("for_s", &AlertingParams::for_s, at_least(0)),
      },
      {}};
  return schema;
}

const Schema<ScenarioInput>& scenario_schema() {
  static const Schema<ScenarioInput> schema{
      {
          custom<ScenarioInput>("name", Need::required,
                                [](Reader& r, const At& v, ScenarioInput& out) {
                                  out.name = r.non_empty_text(v);
                                  out.name_at = v;
                                }),
          custom<ScenarioInput>("shocks", Need::required,
                                [](Reader& r, const At& v, ScenarioInput& out) {
                                  r.for_each_entry(v, true,
                                                   [&](const std::string& key, const At& key_at, const At& value) {
                                                     if (auto x = r.number(value, any_finite())) {
                                                       out.shocks.push_back(ShockInput{key, *x, key_at, value});
                                                     }
                                                   });
                                }),
      },
      {}};
  return schema;
}

void read_series(Reader& r, const At& v, Draft& draft) {
  r.for_each_entry(v, true, [&](const std::string& id, const At& key_at, const At& value) {
    SeriesDecl decl;
    decl.id = id;
    decl.where = value;
    if (id.empty()) r.error(key_at, "series id must not be empty");
    read_map(r, value, series_schema(), decl);
    draft.series.push_back(std::move(decl));
  });
}

void read_gpu_models(Reader& r, const At& v, Draft& draft) {
  r.for_each_entry(v, true, [&](const std::string& name, const At& key_at, const At& value) {
    if (name.empty()) r.error(key_at, "GPU model name must not be empty");
    read_map(r, value, gpu_model_schema(), draft.config.risk.gpu_models[name]);
  });
}

void read_scenarios(Reader& r, const At& v, Draft& draft) {
  r.for_each_item(v, [&](std::size_t, const At& item) {
    if (!item.node.IsMap()) {
      r.error(item, "expected a map, got " + describe_node(item.node));
      return;
    }
    read_map(r, item, scenario_schema(), draft.scenarios.emplace_back());
  });
}

/// Borrower ids are unique across the list.
void read_borrowers(Reader& r, const At& v, Draft& draft) {
  std::map<std::string, At> first_seen;
  r.for_each_item(v, [&](std::size_t index, const At& item) {
    const At at{item.node, item.mark, item_path(v.path, borrower_label(item.node, index))};
    risk::BorrowerSpec& borrower = draft.config.risk.borrowers.emplace_back();
    read_borrower(r, at, borrower);
    if (borrower.id.empty()) return;
    const YAML::Node id_node = child(item.node, "id");
    const At id_at{id_node, id_node.IsDefined() ? id_node.Mark() : item.mark, field_path(at.path, "id")};
    if (const auto [it, inserted] = first_seen.emplace(borrower.id, id_at); !inserted) {
      r.error(id_at, "duplicate borrower id '" + borrower.id + "' (first at " + describe_place(it->second) + ")");
    }
  });
}

const Schema<Draft>& config_schema() {
  static const Schema<Draft> schema{
      {
          custom<Draft>("kafka", Need::optional,
                        [](Reader& r, const At& v, Draft& d) { read_map(r, v, kafka_schema(), d.config.kafka); }),
          custom<Draft>("feeds", Need::optional,
                        [](Reader& r, const At& v, Draft& d) { read_map(r, v, feeds_schema(), d.config.feeds); }),
          custom<Draft>("outputs", Need::optional,
                        [](Reader& r, const At& v, Draft& d) { read_map(r, v, outputs_schema(), d.config.outputs); }),
          custom<Draft>("http", Need::optional,
                        [](Reader& r, const At& v, Draft& d) { read_map(r, v, http_schema(), d.config.http); }),
          custom<Draft>("metrics", Need::optional,
                        [](Reader& r, const At& v, Draft& d) { read_map(r, v, metrics_schema(), d.config.metrics); }),
          custom<Draft>("series", Need::optional, read_series),
          custom<Draft>("model", Need::optional,
                        [](Reader& r, const At& v, Draft& d) { read_map(r, v, model_schema(), d.config.risk.model); }),
          custom<Draft>("gpu_models", Need::optional, read_gpu_models),
          custom<Draft>(
              "alerting", Need::optional,
              [](Reader& r, const At& v, Draft& d) { read_map(r, v, alerting_schema(), d.config.risk.alerting); }),
          custom<Draft>("scenarios", Need::optional, read_scenarios),
          custom<Draft>("borrowers", Need::optional, read_borrowers),
      },
      {}};
  return schema;
}

// ---- checks across sections

/// Resolves every series' kind (declared, else inferred from use) and fills
/// config.risk.series with every series declared or used.
void resolve_series(Reader& r, Draft& draft) {
  KindResolver resolver;
  for (const SeriesDecl& decl : draft.series) {
    if (decl.settings.kind && decl.kind_at) resolver.declare(decl.id, *decl.settings.kind, *decl.kind_at);
  }
  for (const SeriesUse& use : r.series_uses()) resolver.use(r, use);
  auto& out = draft.config.risk.series;
  for (const SeriesDecl& decl : draft.series) {
    risk::SeriesSettings settings = decl.settings;
    settings.kind = resolver.kind_of(decl.id);
    if (!settings.kind) {
      r.error(decl.where, "kind required: no borrower uses it (price, gpu_rent, rate or hashprice)");
    }
    out[decl.id] = settings;
  }
  for (const auto& [id, kind] : resolver.kinds()) {
    if (out.find(id) == out.end()) out[id].kind = kind;
  }
}

/// Shock groups and whether their shocks are relative (price-like) or additive bp.
struct Group {
  std::string_view key;
  bool relative;
};
constexpr std::array<Group, 5> k_groups{
    {{"@price", true}, {"@gpu_rent", true}, {"@hashprice", true}, {"@rate", false}, {"@spread", false}}};

void check_scenarios(Reader& r, Draft& draft) {
  const auto& series = draft.config.risk.series;
  std::vector<std::string_view> candidates;
  candidates.reserve(k_groups.size() + series.size());
  for (const auto& g : k_groups) candidates.push_back(g.key);
  for (const auto& entry : series) candidates.push_back(entry.first);
  std::map<std::string, At> names;
  for (ScenarioInput& in : draft.scenarios) {
    if (in.name) {
      if (const auto [it, inserted] = names.emplace(*in.name, in.name_at); !inserted) {
        r.error(in.name_at, "duplicate scenario name '" + *in.name + "' (first at " + describe_place(it->second) + ")");
      }
    }
    risk::Scenario scenario;
    scenario.name = in.name.value_or("");
    for (const ShockInput& shock : in.shocks) {
      std::optional<bool> relative;
      if (shock.key.rfind('@', 0) == 0) {
        for (const auto& g : k_groups) {
          if (g.key == shock.key) relative = g.relative;
        }
        if (!relative) {
          std::string message =
              "unknown group '" + shock.key + "' (groups: @price, @gpu_rent, @hashprice, @rate, @spread)";
          if (const auto hint = closest(shock.key, candidates); !hint.empty())
            message += "; did you mean '" + hint + "'?";
          r.error(shock.key_at, message);
          continue;
        }
      } else if (const auto it = series.find(shock.key); it != series.end()) {
        if (it->second.kind) relative = *it->second.kind != SeriesKind::rate;
      } else {
        std::string message = "unknown series '" + shock.key + "'";
        if (const auto hint = closest(shock.key, candidates); !hint.empty())
          message += "; did you mean '" + hint + "'?";
        r.error(shock.key_at, message);
        continue;
      }
      if (relative.value_or(false) && shock.value <= -1.0) {
        r.error(shock.value_at,
                "a relative shock must be > -1 (the value would fall to <= 0), got " + format_number(shock.value));
      }
      scenario.shocks[shock.key] = shock.value;
    }
    draft.config.risk.scenarios.push_back(std::move(scenario));
  }
}

/// Records where each document of a stream starts; builds nothing.
class DocumentCounter : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;

  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

/// Parses the text into one document; malformed YAML is one error at the
/// parser's position. nullopt when it did not parse.
///
/// Documents are counted first, at most two: yaml-cpp 0.7's LoadAll loops
/// forever, allocating, on some malformed input (a lone ",": upstream issue
/// 1040, fixed by PR 1319), so it is never called; such input shows up here
/// as "more than one document".
std::optional<YAML::Node> load_document(Reader& r, const std::string& text) {
  try {
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    DocumentCounter counter;
    while (counter.starts.size() < 2 && parser.HandleNextDocument(counter)) {
    }
    if (counter.starts.size() > 1) {
      r.error(counter.starts[1], "", "expected one YAML document, found more ('---' or a stray ',' at top level?)");
      return std::nullopt;
    }
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    r.error(e.mark, "", "invalid YAML: " + e.msg);
  }
  return std::nullopt;
}

/// yaml-cpp threw while the tree was read: a bug in this module, not in the
/// input. Reported as an error; in fuzzing builds (RISKD_FUZZING) it aborts so
/// the fuzzer records it.
void report_internal_error(Reader& r, const YAML::Exception& e) {
#ifdef RISKD_FUZZING
  (void)r;
  (void)e;
  std::abort();
#else
  r.error(e.mark, "", "internal error reading the YAML tree: " + e.msg);
#endif
}

std::string summarize(const std::vector<ConfigError>& errors) {
  std::string out = std::to_string(errors.size()) + (errors.size() == 1 ? " config error" : " config errors");
  for (const ConfigError& e : errors) out += "\n" + e.to_string();
  return out;
}

}  // namespace
}  // namespace detail

std::string ConfigError::to_string() const {
  if (line > 0) return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
  return file + ": " + message;
}

ConfigInvalid::ConfigInvalid(std::vector<ConfigError> errors)
    : std::runtime_error(detail::summarize(errors)), errors_(std::move(errors)) {}

Config parse_config(const std::string& yaml_text, const std::string& file_name) {
  using namespace detail;
  Reader r(file_name);
  Draft draft;
  try {
    if (const auto root = load_document(r, yaml_text)) {
      read_map(r, At{*root, root->Mark(), ""}, config_schema(), draft);
      resolve_series(r, draft);
      check_scenarios(r, draft);
    }
  } catch (const YAML::Exception& e) {  // defensive: the reader never converts through yaml-cpp
    report_internal_error(r, e);
  }
  if (r.has_errors()) throw ConfigInvalid(r.sorted_errors());
  draft.config.path = file_name;
  return std::move(draft.config);
}

Config load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const std::string reason = std::generic_category().message(errno);
    throw ConfigInvalid({ConfigError{path, 0, 0, "cannot open config file: " + reason}});
  }
  std::string text;
  std::array<char, 65536> buf{};
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
    text.append(buf.data(), static_cast<std::size_t>(in.gcount()));
    if (text.size() > detail::k_max_file_bytes) {
      throw ConfigInvalid({ConfigError{path, 0, 0, "config file is larger than 16 MiB"}});
    }
  }
  if (in.bad()) throw ConfigInvalid({ConfigError{path, 0, 0, "cannot read config file"}});
  return parse_config(text, path);
}

namespace {

/// Reads the borrower document `root` into `out` and resolves the kinds of
/// the series it uses against `known_kinds`; problems go to `r`. Without
/// problems, `new_kinds` (when given) gets the series it introduces.
void read_borrower_document(detail::Reader& r, const YAML::Node& root,
                            const std::map<std::string, risk::SeriesKind>& known_kinds,
                            std::map<std::string, risk::SeriesKind>* new_kinds, risk::BorrowerSpec& out) {
  using namespace detail;
  const std::string label = borrower_id(root).value_or("?");
  read_borrower(r, At{root, root.Mark(), item_path("borrowers", label)}, out);
  KindResolver resolver;
  for (const auto& [id, kind] : known_kinds) resolver.know(id, kind);
  for (const SeriesUse& use : r.series_uses()) resolver.use(r, use);
  if (r.has_errors() || new_kinds == nullptr) return;
  new_kinds->clear();
  for (const auto& [id, kind] : resolver.kinds()) {
    if (known_kinds.find(id) == known_kinds.end()) (*new_kinds)[id] = kind;
  }
}

}  // namespace

risk::BorrowerSpec parse_borrower(const std::string& text, const std::string& source,
                                  const std::map<std::string, risk::SeriesKind>& known_kinds,
                                  std::map<std::string, risk::SeriesKind>* new_kinds) {
  using namespace detail;
  // A plain JSON document (what the borrowers topic carries) is read without
  // yaml-cpp's scanner, into the tree the YAML parser would build, through the
  // same schema: the same borrower, ~30x faster. That tree has no positions,
  // so a document with any problem is read again by the YAML parser, whose
  // errors name the line and column.
  if (const auto tree = json_tree(text)) {
    Reader r(source);
    risk::BorrowerSpec borrower;
    try {
      read_borrower_document(r, *tree, known_kinds, new_kinds, borrower);
      if (!r.has_errors()) return borrower;
    } catch (const YAML::Exception&) {  // defensive: the YAML path below reports it
    }
  }
  Reader r(source);
  risk::BorrowerSpec borrower;
  try {
    if (const auto root = load_document(r, text)) read_borrower_document(r, *root, known_kinds, new_kinds, borrower);
  } catch (const YAML::Exception& e) {  // defensive, as in parse_config
    report_internal_error(r, e);
  }
  if (r.has_errors()) throw ConfigInvalid(r.sorted_errors());
  return borrower;
}

}  // namespace riskd::config
