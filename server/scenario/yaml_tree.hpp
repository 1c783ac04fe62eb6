// A small immutable YAML tree, read from text with bounded size, depth and node count, for the
// scenario loader and the config file reader. The only component that includes yaml-cpp (in
// yaml_tree.cpp, through its event API only: yaml-cpp 0.7's LoadAll/Load loop forever on input
// such as ",", jbeder/yaml-cpp#1040, and its Node bookkeeping is superlinear in file size).
// Must not: include yaml-cpp here, resolve tags, or expand aliases by copying (an alias shares
// the anchored subtree). Invariants: marks are 1-based; a node view is valid while its document
// lives; every parse ends, with a document or a load_error, in time linear in the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace smtpmock::scenario::yaml {

/// Where a node was written: 1-based line and column (0, 0 for no position).
struct mark {
  int line = 0;
  int column = 0;
};

/// What a node is. `null` is a plain `~`, `null` or an empty value, as in YAML 1.2.
enum class kind : std::uint8_t { null, scalar, sequence, map };

struct document_data;  // yaml_tree.cpp

/// A view of one node of a document; cheap to copy. A default-constructed node is undefined:
/// it stands for "no node" (the key of the document itself, a rule without `name:`).
class node {
 public:
  node() = default;

  bool defined() const { return data_ != nullptr; }  ///< false for a default-constructed node
  kind type() const;                                 ///< kind::null when undefined
  bool is_null() const { return defined() && type() == kind::null; }
  bool is_scalar() const { return defined() && type() == kind::scalar; }
  bool is_sequence() const { return defined() && type() == kind::sequence; }
  bool is_map() const { return defined() && type() == kind::map; }
  /// A scalar written without quotes or tag (YAML's non-specific tag "?"): only those are
  /// numbers and booleans.
  bool plain() const;
  /// A scalar's text; "" for any other node.
  const std::string& scalar() const;
  /// Where the node was written (for an alias: where the alias was written).
  yaml::mark where() const;

  /// Items of a sequence, pairs of a map, 0 for anything else.
  std::size_t size() const;
  /// The i-th item of a sequence (i < size()).
  node item(std::size_t i) const;
  /// The i-th key of a map, in file order, duplicates kept (i < size()).
  node key(std::size_t i) const;
  /// The i-th value of a map (i < size()).
  node value(std::size_t i) const;

 private:
  friend class document;
  friend struct builder;
  node(const document_data* data, std::uint32_t index) : data_(data), index_(index) {}

  const document_data* data_ = nullptr;
  std::uint32_t index_ = 0;
};

/// The bounds of one parse; defaults are the scenario file limits (SPEC §3).
/// The bounds of one parse; defaults are the scenario file limits. yaml-cpp's scanner costs
/// ~1 us a node and ~0.1 us an octet of scalar, so these keep every parse under ~60 ms (the
/// fuzz budget is 100 ms) while 2,000 rules (200 KiB, 30,000 nodes) load in ~60 ms.
struct limits {
  /// Input size in octets: 256 KiB holds ~2,500 rules, beyond any hand-written scenario.
  std::size_t max_bytes = 256 * 1024;
  /// Nesting of sequences and maps: a scenario needs 5 (rules[i].match.header.Name).
  std::size_t max_depth = 64;
  /// Nodes, every alias counted as the size of the subtree it refers to, so that nested
  /// aliases ("billion laughs") are refused before the loader walks them.
  std::size_t max_nodes = 50'000;
  /// Octets the parser may read past the start of the last node it produced: one value,
  /// comment or run of unclosed brackets longer than this is refused (see builder::reading).
  std::size_t max_lookahead = 64 * 1024;
};

/// The one document of a YAML text, or none (an empty or comment-only text).
class document {
 public:
  document();
  ~document();
  document(document&&) noexcept;
  document& operator=(document&&) noexcept;

  /// The root node; undefined when the text holds no document.
  node root() const;

 private:
  friend struct builder;
  std::unique_ptr<document_data> data_;
};

/// Reads a file of at most `max_bytes` octets without reading further (a device such as
/// /dev/zero or a huge file is refused, not slurped). Throws load_error without position for a
/// directory, a file that cannot be opened or read, or one over the limit.
std::string read_file(const std::filesystem::path& file,
                      std::size_t max_bytes = limits{}.max_bytes);

/// Parses `text`, UTF-8 holding at most one document besides empty ones (`---` alone).
/// Throws load_error (scenario/loader.hpp) naming `file` and the 1-based position for a syntax
/// error, a second non-empty document, input that makes no progress, UTF-16/32, or a limit
/// exceeded (input size: no position).
document parse(std::string_view text, const std::string& file, const limits& bounds = {});

}  // namespace smtpmock::scenario::yaml
