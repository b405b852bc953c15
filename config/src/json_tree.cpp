#include "json_tree.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <string>
#include <utility>
#include <vector>

namespace riskd::config::detail {
namespace {

namespace json = boost::json;

constexpr std::string_view k_tag_quoted = "!";  // what yaml-cpp gives a double-quoted scalar
constexpr std::string_view k_tag_plain = "?";   // and a plain one

/// Boost.JSON SAX handler building the yaml-cpp tree bottom-up.
class TreeBuilder {
 public:
  // A borrower document is small; the limits are basic_parser's to enforce
  // and the caller falls back to the YAML reader on any failure.
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return open(YAML::NodeType::Map); }
  bool on_object_end(std::size_t, json::error_code&) { return close(); }
  bool on_array_begin(json::error_code&) { return open(YAML::NodeType::Sequence); }
  bool on_array_end(std::size_t, json::error_code&) { return close(); }

  bool on_key_part(json::string_view s, std::size_t n, json::error_code&) {
    if (n == s.size()) stack_.back().key.clear();
    stack_.back().key.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t n, json::error_code& ec) { return on_key_part(s, n, ec); }

  bool on_string_part(json::string_view s, std::size_t n, json::error_code&) {
    if (n == s.size()) text_.clear();
    text_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t n, json::error_code& ec) {
    on_string_part(s, n, ec);
    return scalar(k_tag_quoted);
  }

  bool on_number_part(json::string_view s, json::error_code&) {
    if (!in_number_) text_.clear();
    in_number_ = true;
    text_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t, json::string_view s, json::error_code& ec) { return number(s, ec); }
  bool on_uint64(std::uint64_t, json::string_view s, json::error_code& ec) { return number(s, ec); }
  bool on_double(double, json::string_view s, json::error_code& ec) { return number(s, ec); }

  bool on_bool(bool b, json::error_code&) {
    text_ = b ? "true" : "false";
    return scalar(k_tag_plain);
  }
  bool on_null(json::error_code&) { return attach(YAML::Node(YAML::NodeType::Null)); }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

  std::optional<YAML::Node> root;

 private:
  struct Frame {
    YAML::Node node;
    std::string key;  // of the member whose value comes next (maps)
  };

  bool open(YAML::NodeType::value type) {
    stack_.push_back(Frame{YAML::Node(type), {}});
    return true;
  }
  bool close() {
    YAML::Node done = std::move(stack_.back().node);
    stack_.pop_back();
    return attach(std::move(done));
  }
  bool number(json::string_view s, json::error_code& ec) {
    on_number_part(s, ec);
    in_number_ = false;
    return scalar(k_tag_plain);
  }
  bool scalar(std::string_view tag) {
    YAML::Node node(text_);
    node.SetTag(std::string(tag));
    return attach(std::move(node));
  }
  bool attach(YAML::Node value) {
    if (stack_.empty()) {
      root = std::move(value);
      return true;
    }
    Frame& parent = stack_.back();
    if (parent.node.IsSequence()) {
      parent.node.push_back(value);
    } else {
      YAML::Node key(parent.key);
      key.SetTag(std::string(k_tag_quoted));
      parent.node.force_insert(key, value);
    }
    return true;
  }

  std::vector<Frame> stack_;
  std::string text_;  // the string or number being read
  bool in_number_ = false;
};

}  // namespace

std::optional<YAML::Node> json_tree(std::string_view text) {
  if (text.find('\\') != std::string_view::npos) return std::nullopt;
  try {
    json::basic_parser<TreeBuilder> parser(json::parse_options{});
    json::error_code ec;
    const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
    if (ec || used != text.size() || !parser.done()) return std::nullopt;
    return std::move(parser.handler().root);
  } catch (const std::exception&) {  // yaml-cpp or allocation: the YAML reader decides
    return std::nullopt;
  }
}

}  // namespace riskd::config::detail
