// libFuzzer target: scenario::load_definition_text on arbitrary YAML text. Every input must
// load or throw scenario::load_error (file:line:column); any other exception escapes and is a
// crash, and run.sh's -timeout=1 turns a hang (yaml-cpp's infinite loops) into a failure.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "scenario/loader.hpp"
#include "scenario/rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto def = smtpmock::scenario::load_definition_text(text, "fuzz.yaml");
    if (!def) __builtin_trap();  // loads, or says why not
  } catch (const smtpmock::scenario::load_error& e) {
    if (e.file() != "fuzz.yaml") __builtin_trap();  // errors name the file they are about
  }
  return 0;
}
