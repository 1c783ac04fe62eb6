// The reconnect-storm watch: pure logic, time passed in.
#include "net/reconnects.hpp"

#include <doctest/doctest.h>

using smtpmock::net::reconnect_watch;
using namespace std::chrono_literals;

TEST_CASE("reconnects: more than five connections within a second after a 421 is a storm") {
  reconnect_watch w;
  const auto t0 = reconnect_watch::clock::time_point{} + 1000s;
  // Before any 421 nothing counts, however fast.
  for (int i = 0; i < 10; ++i)
    CHECK_FALSE(w.connected("192.0.2.1", t0 + std::chrono::milliseconds(i)));
  w.answered_421("192.0.2.1", t0);
  for (int i = 1; i <= 5; ++i)
    CHECK_FALSE(w.connected("192.0.2.1", t0 + std::chrono::milliseconds(100 * i)));
  const auto storm = w.connected("192.0.2.1", t0 + 600ms);
  REQUIRE(storm);
  CHECK(*storm == "6 connections within 1 s from 192.0.2.1, 0.6 s after the server answered 421");
  // The count starts over after a storm; another client is apart.
  CHECK_FALSE(w.connected("192.0.2.1", t0 + 700ms));
  CHECK_FALSE(w.connected("192.0.2.2", t0 + 700ms));
}

TEST_CASE("reconnects: neighbours that are no storm") {
  reconnect_watch w;
  const auto t0 = reconnect_watch::clock::time_point{} + 1000s;
  w.answered_421("192.0.2.1", t0);
  // Six connections, but spread over more than a second.
  for (int i = 1; i <= 6; ++i)
    CHECK_FALSE(w.connected("192.0.2.1", t0 + std::chrono::milliseconds(250 * i)));
  // A burst long after the 421 is not a reaction to it.
  reconnect_watch late;
  late.answered_421("192.0.2.1", t0);
  for (int i = 0; i < 10; ++i)
    CHECK_FALSE(late.connected("192.0.2.1", t0 + 61s + std::chrono::milliseconds(i)));
}
