// Random identifiers for sessions and messages, safe to call from any thread.
// Each thread has its own generator (seeded from std::random_device), so no lock is taken.
// These ids are not part of the scenario's seeded randomness: --seed never changes them.
#pragma once

#include <string>

namespace smtpmock::net {

/// A session id: "S" followed by 12 lower-case hex digits ("S1a2b3c4d5e6f").
std::string new_session_id();
/// A message id: 22 random alphanumeric characters, as Mailpit uses.
std::string new_message_id();

}  // namespace smtpmock::net
