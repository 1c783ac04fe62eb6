// Random identifiers; see ids.hpp.
#include "net/ids.hpp"

#include <cstdint>
#include <random>
#include <string_view>

namespace smtpmock::net {
namespace {

std::mt19937_64& generator() {
  thread_local std::mt19937_64 gen = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  return gen;
}

std::string random_string(std::string_view alphabet, std::size_t length) {
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string out;
  out.reserve(length);
  auto& gen = generator();
  for (std::size_t i = 0; i < length; ++i)
    out.push_back(alphabet[pick(gen)]);
  return out;
}

}  // namespace

std::string new_session_id() {
  return "S" + random_string("0123456789abcdef", 12);
}

std::string new_message_id() {
  return random_string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 22);
}

}  // namespace smtpmock::net
