// Core events as scenario events and facts (moved out of net/session.cpp).
#include "scenario/session_facts.hpp"

namespace smtpmock::scenario {

std::optional<event_type> rule_event(const smtp::event& ev) {
  // AUTH is one event: the moment the exchange is answered for good (not its 334
  // challenges), when the user is known.
  switch (ev.kind) {
    case smtp::event_kind::connect:
      return event_type::connect;
    case smtp::event_kind::message:
      return event_type::message;
    case smtp::event_kind::auth_response:
      if (ev.proposed.code == 334) return std::nullopt;
      return event_type::auth;
    case smtp::event_kind::command:
      break;
    default:
      return std::nullopt;
  }
  switch (ev.command) {
    case smtp::verb::helo:
      return event_type::helo;
    case smtp::verb::ehlo:
      return event_type::ehlo;
    case smtp::verb::starttls:
      return event_type::starttls;
    case smtp::verb::auth:
      if (ev.proposed.code == 334) return std::nullopt;
      return event_type::auth;
    case smtp::verb::mail:
      return event_type::mail;
    case smtp::verb::rcpt:
      return event_type::rcpt;
    case smtp::verb::data:
      return event_type::data;
    case smtp::verb::bdat:
      return event_type::bdat;
    case smtp::verb::rset:
      return event_type::rset;
    case smtp::verb::noop:
      return event_type::noop;
    case smtp::verb::vrfy:
      return event_type::vrfy;
    case smtp::verb::help:
      return event_type::help;
    case smtp::verb::quit:
      return event_type::quit;
    case smtp::verb::expn:
    case smtp::verb::unknown:
      return event_type::unknown;
  }
  return std::nullopt;
}

facts facts_for(const smtp::event& ev, event_type type, const smtp::server_connection& conn,
                std::string_view session_id, std::string_view client_ip, session_counters* counters,
                steady::time_point now) {
  facts f;
  f.event = type;
  f.session_id = session_id;
  f.client_ip = client_ip;
  // A MAIL opens the next transaction: its rules count in the transaction it would start.
  f.transaction = conn.transactions() + (ev.command == smtp::verb::mail ? 1 : 0);
  f.argument = ev.argument;
  f.sender = ev.sender;
  f.recipient = ev.recipient;
  // HELO/EHLO name the client as they are answered; later events, as it was accepted.
  f.helo = (type == event_type::helo || type == event_type::ehlo)
               ? std::string_view(ev.argument)
               : std::string_view(conn.current_envelope().helo);
  f.user = ev.user;
  if (ev.message) {
    f.message = &ev.message->data;
    f.size = ev.message->data.size();
  }
  f.now = now;
  f.counters = counters;
  return f;
}

}  // namespace smtpmock::scenario
