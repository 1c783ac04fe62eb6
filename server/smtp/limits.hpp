// Protocol limits of the receiving side, each with the RFC clause it comes from.
// Every buffer in the core is bounded by one of these; none of them may be exceeded by input.
// Values a scenario may change live in personality::limits; these are the fixed ones.
#pragma once

#include <cstddef>

namespace smtpmock::smtp::limits {

/// RFC 5321 4.5.3.1.4: a command line is at most 512 octets including CRLF.
inline constexpr std::size_t command_line = 512;
/// RFC 5321 4.5.3.1.6: a text line is at most 1000 octets including CRLF.
inline constexpr std::size_t text_line = 1000;
/// RFC 4954 4: an AUTH response line may be up to 12288 octets.
inline constexpr std::size_t auth_line = 12288;
/// RFC 5321 4.5.3.1.8: servers must accept at least 100 recipients.
inline constexpr std::size_t default_recipients = 100;
/// Upper bound on a message when the scenario declares no SIZE value (bounded memory).
inline constexpr std::size_t default_message_size = 64 * 1024 * 1024;
/// RFC 5321 4.5.3.1.5: a reply line is at most 512 octets including CRLF.
inline constexpr std::size_t reply_line = 512;
/// RFC 5321 4.5.3.1.1: a local part is at most 64 octets.
inline constexpr std::size_t local_part = 64;
/// RFC 5321 4.5.3.1.2: a domain is at most 255 octets.
inline constexpr std::size_t domain = 255;
/// RFC 5321 4.5.3.1.3: a reverse- or forward-path is at most 256 octets, punctuation included.
inline constexpr std::size_t path = 256;
/// RFC 3461 4.4: an ENVID value is at most 100 characters.
inline constexpr std::size_t envid = 100;

}  // namespace smtpmock::smtp::limits
