#pragma once
// Internal to riskd::config: reads a JSON document into the yaml-cpp tree the
// YAML reader would build for the same text, without yaml-cpp's scanner
// (which costs ~0.3 ms per borrower document: minutes for a large borrowers
// topic at start). Strings become double-quoted scalars (tag "!"), numbers,
// true and false plain scalars with their text as written (tag "?"), null a
// null node; objects keep their keys in document order, duplicates included,
// so the schema code reads the tree exactly as it reads the YAML parser's.
// Nodes carry no position: callers that need positions for error messages
// read the text with the YAML parser instead.
#include <optional>
#include <string_view>

#include <yaml-cpp/yaml.h>

namespace riskd::config::detail {

/// The tree of `text` when it is one JSON value without backslash escapes
/// (the JSON and YAML escape sets differ at the edges, so such text is left
/// to the YAML parser); nullopt otherwise, including for any JSON syntax error.
std::optional<YAML::Node> json_tree(std::string_view text);

}  // namespace riskd::config::detail
