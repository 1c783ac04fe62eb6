// Listen addresses as written on the command line: "ADDR:PORT", "[IPV6]:PORT", "localhost:PORT".
// The parsing lives in scenario/listen_address.hpp (the lowest layer that reads addresses: the
// listener specs of a config file); net/ and the app use it under these names.
#pragma once

#include "scenario/listen_address.hpp"

namespace smtpmock::net {

using scenario::format_address;
using scenario::listen_address;
using scenario::listen_address_problem;
using scenario::parse_listen_address;

}  // namespace smtpmock::net
