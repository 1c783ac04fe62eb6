// The default EHLO name (an FQDN, else the local address literal) and endpoint texts.
#include "client/local_name.hpp"

#include <doctest/doctest.h>

using namespace smtpmock::client;

TEST_CASE("unit: local_name: an FQDN has two labels of letters, digits and hyphens") {
  CHECK(is_fqdn("mail.example.com"));
  CHECK(is_fqdn("mail.example.com."));
  CHECK(is_fqdn("a-1.b2"));
  CHECK_FALSE(is_fqdn("vm"));
  CHECK_FALSE(is_fqdn("localhost"));
  CHECK_FALSE(is_fqdn("localhost.localdomain"));
  CHECK_FALSE(is_fqdn(""));
  CHECK_FALSE(is_fqdn("."));
  CHECK_FALSE(is_fqdn("a..b"));
  CHECK_FALSE(is_fqdn("-a.b"));
  CHECK_FALSE(is_fqdn("a.b-"));
  CHECK_FALSE(is_fqdn("under_score.example"));
  CHECK_FALSE(is_fqdn("[127.0.0.1]"));
  CHECK_FALSE(is_fqdn(std::string(64, 'a') + ".example"));
}

TEST_CASE("unit: local_name: the machine's FQDN is an FQDN or nothing") {
  const std::string name = local_fqdn();
  CHECK((name.empty() || is_fqdn(name)));
}

TEST_CASE("unit: local_name: address literals as RFC 5321 4.1.3 writes them") {
  CHECK(address_literal("127.0.0.1") == "[127.0.0.1]");
  CHECK(address_literal("::1") == "[IPv6:::1]");
  CHECK(address_literal("2001:db8::25") == "[IPv6:2001:db8::25]");
  CHECK(address_literal("::ffff:192.0.2.7") == "[192.0.2.7]");
  CHECK(address_literal("fe80::1%eth0") == "[IPv6:fe80::1]");
  CHECK(address_literal("mail.example.com").empty());
  CHECK(address_literal("").empty());
}

TEST_CASE("unit: local_name: endpoints as IP:port, IPv6 in brackets") {
  CHECK(endpoint_text("127.0.0.1", 5000) == "127.0.0.1:5000");
  CHECK(endpoint_text("::1", 5000) == "[::1]:5000");
  CHECK(endpoint_text("::ffff:127.0.0.1", 25) == "127.0.0.1:25");
  CHECK(plain_ip("::ffff:10.0.0.1") == "10.0.0.1");
  CHECK(plain_ip("2001:db8::1") == "2001:db8::1");
}
