#include "smtp/base64.hpp"

#include <doctest/doctest.h>

using namespace smtpmock::smtp;

TEST_CASE("unit: base64 encodes with padding") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("Username:") == "VXNlcm5hbWU6");
  CHECK(base64_encode(std::string("\0alice\0secret", 13)) == "AGFsaWNlAHNlY3JldA==");
}

TEST_CASE("unit: base64 decodes strictly") {
  CHECK(base64_decode("Zm9v").value() == "foo");
  CHECK(base64_decode("Zg==").value() == "f");
  CHECK(base64_decode("Zm8=").value() == "fo");
  CHECK(base64_decode("").value() == "");
  CHECK_FALSE(base64_decode("!!!").has_value());
  CHECK_FALSE(base64_decode("!!!!").has_value());
  CHECK_FALSE(base64_decode("=AAA").has_value());
  CHECK_FALSE(base64_decode("AAA=BBB").has_value());
  CHECK_FALSE(base64_decode("AA=A").has_value());
  CHECK_FALSE(base64_decode("AAA=AAAA").has_value());
  CHECK_FALSE(base64_decode("Zm9").has_value());
  CHECK_FALSE(base64_decode("Zm 9v").has_value());
}

TEST_CASE("unit: base64 round-trips every byte value") {
  std::string all;
  for (int i = 0; i < 256; ++i)
    all.push_back(char(i));
  for (std::size_t n = 0; n < all.size(); n += 37) {
    const auto part = all.substr(0, n);
    CHECK(base64_decode(base64_encode(part)).value() == part);
  }
}
