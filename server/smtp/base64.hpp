// Base64 (RFC 4648 4) for SASL exchanges: strict decoding, canonical encoding.
// Decoding rejects anything a SASL peer must not send (bad characters, bad padding, data after
// padding) and reports it as a value; it never throws.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smtpmock::smtp {

/// Encodes bytes as base64 with padding.
std::string base64_encode(std::string_view bytes);
/// Decodes strict base64; nullopt on any malformed input. The empty string decodes to "".
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace smtpmock::smtp
