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

}  // namespace smtpmock::smtp::limits
