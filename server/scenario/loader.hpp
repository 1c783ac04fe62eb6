// Loads scenario files (YAML) into definitions (personality and rules), and finds bundled
// scenarios by name.
// YAML is read through scenario/yaml_tree.hpp, bounded in size, depth, nodes and aliases; values
// are bounded by scenario/load_limits.hpp. A file that is not understood completely is
// rejected: unknown keys, wrong types and bad values raise load_error naming file:line:column.
// Loading never touches the network and never starts anything.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/personality.hpp"

namespace smtpmock::scenario {

/// A scenario or config file error; what() is "file:line:column: message" ("file: message"
/// when line is 0, i.e. the error has no position, such as a missing file).
class load_error : public std::runtime_error {
 public:
  load_error(std::string file, int line, int column, std::string message);
  const std::string& file() const { return file_; }
  int line() const { return line_; }      ///< 1-based
  int column() const { return column_; }  ///< 1-based
  const std::string& message() const { return message_; }

 private:
  std::string file_;
  int line_;
  int column_;
  std::string message_;
};

struct definition;  // scenario/rules.hpp: the personality and its rules

/// Parses scenario YAML text, personality and `rules:`; `filename` is used in error messages,
/// and its stem is the name when the text has no `name:`. Keys a file leaves out keep
/// smtp::personality's defaults. The definition's `file` stays empty (the text has no file).
std::shared_ptr<const definition> load_definition_text(std::string_view yaml,
                                                       std::string_view filename);
/// Reads and parses a scenario file; the definition's `file` is `file`.
std::shared_ptr<const definition> load_definition_file(const std::filesystem::path& file);

/// Reads a scenario file as load_definition_file does, but goes on past an error: every error
/// is returned, in file order, up to `max_errors` of them (a YAML syntax error is always the
/// only one: nothing after it can be read). Empty when the file loads.
std::vector<load_error> check_definition_file(const std::filesystem::path& file,
                                              std::size_t max_errors = 50);

/// load_definition_text, keeping only the personality (the rules are still checked).
std::shared_ptr<const smtp::personality> load_text(std::string_view yaml,
                                                   std::string_view filename);
/// load_definition_file, keeping only the personality (the rules are still checked).
std::shared_ptr<const smtp::personality> load_file(const std::filesystem::path& file);

/// Where bundled scenarios are looked for, in order: $SMTPMOCK_SCENARIO_DIR, the directory
/// `share/smtpmock/scenarios` next to the executable's prefix, then the source tree's scenarios/.
std::vector<std::filesystem::path> search_dirs();
/// Resolves `--scenario NAME|FILE`: an existing path is used as is, else NAME.yaml in the dirs.
/// Throws load_error (line 0) when nothing is found.
std::filesystem::path resolve(std::string_view name_or_path,
                              const std::vector<std::filesystem::path>& dirs = search_dirs());

/// One bundled scenario: name and the description from its file.
struct entry {
  std::string name;         ///< the file's stem: what `--scenario NAME` takes
  std::string description;  ///< "(invalid: ...)" when the file does not load
  std::filesystem::path file;
};
/// The bundled scenarios found in `dirs` (first directory wins per name), sorted by name.
std::vector<entry> list(const std::vector<std::filesystem::path>& dirs = search_dirs());

/// Parses a duration such as "300s", "500ms", "2m", "1h" or "1m30s"; nullopt when malformed or
/// past what milliseconds hold (the loader also applies load_limits' maximums).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

/// The candidate closest to `word` when it is near enough to be a typo of it ("did you mean").
std::optional<std::string> did_you_mean(std::string_view word,
                                        const std::vector<std::string>& candidates);

}  // namespace smtpmock::scenario
