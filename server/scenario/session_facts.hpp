// The binding from the protocol core's events to the rule engine's facts: which core events
// rules may act on, and what they may look at. Pure: no I/O, no clock (the time comes in).
// Must not keep anything: the facts are views into the event and the session's strings, valid
// while the event is (until respond()), so they are built for one decide() call.
#pragma once

#include <optional>
#include <string_view>

#include "scenario/engine.hpp"
#include "scenario/rules.hpp"
#include "smtp/server_connection.hpp"

namespace smtpmock::scenario {

/// The scenario event a core event is, if rules may act on it (AUTH: only its final answer,
/// not 334 challenges).
std::optional<event_type> rule_event(const smtp::event& ev);

/// What rules may look at for `ev` (of scenario event `type`) in the session `conn`.
facts facts_for(const smtp::event& ev, event_type type, const smtp::server_connection& conn,
                std::string_view session_id, std::string_view client_ip, session_counters* counters,
                steady::time_point now);
/// The facts would view a temporary event's strings: keep the event while they are used.
facts facts_for(smtp::event&& ev, event_type type, const smtp::server_connection& conn,
                std::string_view session_id, std::string_view client_ip, session_counters* counters,
                steady::time_point now) = delete;

}  // namespace smtpmock::scenario
