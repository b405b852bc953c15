#pragma once
// Internal to riskd::config: the borrower schema, one definition shared by
// the config's `borrowers:` list and parse_borrower (the borrowers topic).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "reader.hpp"
#include "riskd/risk/model.hpp"

namespace riskd::config::detail {

/// [A-Za-z0-9._-]{1,64}
bool is_valid_borrower_id(std::string_view id);

/// The document's id when it has a valid one.
std::optional<std::string> borrower_id(const YAML::Node& node);

/// What a borrower is called in error paths: its id when the document has a
/// valid one, else its position (`index`).
std::string borrower_label(const YAML::Node& node, std::size_t index);

/// Reads and validates one borrower at `at` (whose path is already
/// `borrowers[label]`). Series it references are recorded with
/// Reader::use_series; their kinds are checked by the caller.
void read_borrower(Reader& r, const At& at, risk::BorrowerSpec& out);

}  // namespace riskd::config::detail
