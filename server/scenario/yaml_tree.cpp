// Builds yaml::document from yaml-cpp's event API (YAML::Parser + YAML::EventHandler), never
// through YAML::Load/LoadAll: those loop forever, allocating, on a document that consumes no
// token (jbeder/yaml-cpp#1040: HandleNextDocument returns true for "," without advancing).
// Here a document that starts where the previous one started is a syntax error, and every
// event is counted against the limits, so each parse ends in time linear in the input.
// Nodes live in flat vectors (no per-node allocation, no reference counting): loading 2,000
// rules costs what yaml-cpp's scanner costs, not its Node bookkeeping (seconds).
#include "scenario/yaml_tree.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <istream>
#include <streambuf>
#include <unordered_map>
#include <vector>

#include "scenario/loader.hpp"

namespace smtpmock::scenario::yaml {

namespace {

/// One node as stored: a scalar's text index, or a collection's range in `children`.
struct record {
  kind type = kind::null;
  bool plain = false;
  int line = 0;  // 1-based
  int column = 0;
  std::uint32_t first = 0;  // scalar: index in scalars; collection: index in children
  std::uint32_t count = 0;  // collection: entries in children (a map has key, value, ...)
};

const std::string empty_text;

/// "1 MiB", "64 KiB" or "1000 octets".
std::string size_text(std::size_t octets) {
  if (octets >= 1024 * 1024 && octets % (1024 * 1024) == 0)
    return std::to_string(octets / (1024 * 1024)) + " MiB";
  if (octets >= 1024 && octets % 1024 == 0) return std::to_string(octets / 1024) + " KiB";
  return std::to_string(octets) + " octets";
}

}  // namespace

struct document_data {
  std::vector<record> nodes;
  std::vector<std::uint32_t> children;
  std::vector<std::string> scalars;
  std::optional<std::uint32_t> root;
};

/// The event handler: appends records, checks the limits as each event arrives, and throws
/// load_error (through yaml-cpp, which holds no state that a throw could corrupt) to stop.
struct builder final : YAML::EventHandler {
  builder(std::string_view text, const std::string& file, const limits& bounds)
      : text_(text), file_(file), bounds_(bounds), data_(std::make_unique<document_data>()) {}

  document finish() {
    document d;
    d.data_ = std::move(data_);
    return d;
  }

  [[noreturn]] void fail(const YAML::Mark& m, const std::string& message) const {
    if (m.is_null()) throw load_error(file_, 1, 1, message);
    throw load_error(file_, m.line + 1, m.column + 1, message);
  }

  /// Called before the parser is given text from `offset` on. yaml-cpp's scanner reads ahead
  /// without emitting anything while a token may still turn out to be a key ("[[[[...": 1 MiB
  /// took 430 ms to scan before the first event), or through one long scalar or comment; the
  /// parse stops once it is this far ahead of the last node.
  void reading(std::size_t offset) const {
    const auto from = static_cast<std::size_t>(std::max(last_event_.pos, 0));
    if (offset > from + bounds_.max_lookahead) {
      fail(last_event_, "more than " + size_text(bounds_.max_lookahead) +
                            " of YAML without a complete node (one value, comment or run of "
                            "unclosed brackets this long): the limit for one file");
    }
  }

  void OnDocumentStart(const YAML::Mark& m) override {
    // jbeder/yaml-cpp#1040: a token no rule consumes (a stray ',' at the top level) yields an
    // empty document without advancing, forever. A real next document starts further on.
    if (documents_ > 0 && m.pos <= last_document_) {
      const auto at = static_cast<std::size_t>(m.pos);
      const char c = at < text_.size() ? text_[at] : '\0';
      fail(m, c > 0x20 && c < 0x7f ? std::string("YAML syntax error: unexpected '") + c + "'"
                                   : std::string("YAML syntax error: unexpected input"));
    }
    ++documents_;
    last_document_ = m.pos;
    last_event_ = m;
    anchors_.clear();  // anchors are per document (YAML 1.2 6.9.2)
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& m, YAML::anchor_t anchor) override {
    add(m, record{kind::null}, anchor, 1);
  }

  void OnAlias(const YAML::Mark& m, YAML::anchor_t anchor) override {
    const auto it = anchors_.find(anchor);
    if (it == anchors_.end()) fail(m, "YAML syntax error: the alias refers to no anchor");
    const std::uint32_t target = it->second;
    if (weights_[target] == 0) {
      fail(m, "an alias cannot refer to a collection that contains it");
    }
    // The alias shares the anchored subtree; only its position is its own.
    add(m, data_->nodes[target], YAML::NullAnchor, weights_[target]);
  }

  void OnScalar(const YAML::Mark& m, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    record r{kind::scalar, tag == "?"};
    r.first = static_cast<std::uint32_t>(data_->scalars.size());
    data_->scalars.push_back(value);
    add(m, r, anchor, 1);
  }

  void OnSequenceStart(const YAML::Mark& m, const std::string& /*tag*/, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    open(m, kind::sequence, anchor);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& m, const std::string& /*tag*/, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    open(m, kind::map, anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct open_collection {
    std::uint32_t node;
    std::size_t pending_from;  // its children so far: pending_[pending_from, end)
  };

  /// Stores a node, counts it (an alias as its whole subtree) and hangs it on its parent.
  std::uint32_t add(const YAML::Mark& m, record r, YAML::anchor_t anchor, std::size_t weight) {
    last_event_ = m;
    expanded_ += weight;  // weight <= max_nodes, so this never wraps
    if (expanded_ > bounds_.max_nodes) {
      fail(m, "more than " + std::to_string(bounds_.max_nodes) +
                  " YAML nodes (aliases counted as what they repeat): the limit for one file");
    }
    if (stack_.empty() && documents_ > 1 && r.type != kind::null) {
      fail(m, "only one YAML document per file");
    }
    r.line = m.line + 1;
    r.column = m.column + 1;
    const auto index = static_cast<std::uint32_t>(data_->nodes.size());
    data_->nodes.push_back(r);
    weights_.push_back(weight);
    if (anchor != YAML::NullAnchor) anchors_[anchor] = index;
    if (!stack_.empty()) {
      pending_.push_back(index);
    } else if (!data_->root) {
      data_->root = index;
    }
    return index;
  }

  void open(const YAML::Mark& m, kind type, YAML::anchor_t anchor) {
    if (stack_.size() >= bounds_.max_depth) {
      fail(m, "YAML nested deeper than " + std::to_string(bounds_.max_depth) +
                  " levels: the limit for one file");
    }
    record r{type};
    const std::uint32_t index = add(m, r, anchor, 1);
    weights_[index] = 0;  // open: an alias must not refer to it until close() sizes it
    stack_.push_back(open_collection{index, pending_.size()});
  }

  void close() {
    const open_collection c = stack_.back();
    stack_.pop_back();
    record& r = data_->nodes[c.node];
    r.first = static_cast<std::uint32_t>(data_->children.size());
    r.count = static_cast<std::uint32_t>(pending_.size() - c.pending_from);
    std::size_t weight = 1;
    for (std::size_t i = c.pending_from; i < pending_.size(); ++i) {
      data_->children.push_back(pending_[i]);
      weight += weights_[pending_[i]];
    }
    pending_.resize(c.pending_from);
    weights_[c.node] = weight;  // nonzero: complete, an alias may now refer to it
    // An alias copied this record before it was closed only if it referred to an open
    // collection, which OnAlias refuses; so no copy holds a stale range.
  }

  std::string_view text_;
  const std::string& file_;
  const limits& bounds_;
  std::unique_ptr<document_data> data_;
  std::vector<std::size_t> weights_;  // per node: its expanded size; 0 while a collection is open
  std::vector<open_collection> stack_;
  std::vector<std::uint32_t> pending_;  // children of the open collections, innermost last
  std::unordered_map<YAML::anchor_t, std::uint32_t> anchors_;
  std::size_t expanded_ = 0;
  std::size_t documents_ = 0;
  int last_document_ = -1;  // stream position where the last document started
  YAML::Mark last_event_;   // where the last node or document started (0: none yet)
};

namespace {

/// An istream's buffer over text we do not own (no copy), handed to the parser a chunk at a
/// time so that the builder can stop a scan that runs far ahead of the nodes it produced.
class chunked_buffer : public std::streambuf {
 public:
  chunked_buffer(std::string_view text, const builder& b) : text_(text), builder_(b) {}

 protected:
  int_type underflow() override {
    if (gptr() != nullptr && gptr() < egptr()) return traits_type::to_int_type(*gptr());
    const std::size_t offset = egptr() == nullptr ? 0 : static_cast<std::size_t>(egptr() - base());
    if (offset >= text_.size()) return traits_type::eof();
    builder_.reading(offset);  // throws load_error past the look-ahead limit
    const std::size_t n = std::min(chunk, text_.size() - offset);
    setg(base() + offset, base() + offset, base() + offset + n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  static constexpr std::size_t chunk = 4096;
  char* base() const { return const_cast<char*>(text_.data()); }  // read only: no put area

  std::string_view text_;
  const builder& builder_;
};

/// yaml-cpp reads UTF-16 and UTF-32 too (marks then count characters, not octets); a scenario
/// is UTF-8, and only UTF-8 keeps marks and the look-ahead bound in the same units.
bool looks_like_utf16_or_32(std::string_view text) {
  if (text.size() >= 2 && (text.substr(0, 2) == "\xfe\xff" || text.substr(0, 2) == "\xff\xfe"))
    return true;
  return (!text.empty() && text[0] == '\0') || (text.size() >= 2 && text[1] == '\0');
}

}  // namespace

kind node::type() const {
  return data_ ? data_->nodes[index_].type : kind::null;
}

bool node::plain() const {
  return data_ && data_->nodes[index_].type == kind::scalar && data_->nodes[index_].plain;
}

const std::string& node::scalar() const {
  if (!is_scalar()) return empty_text;
  return data_->scalars[data_->nodes[index_].first];
}

yaml::mark node::where() const {
  if (!data_) return {};
  return {data_->nodes[index_].line, data_->nodes[index_].column};
}

std::size_t node::size() const {
  if (!is_sequence() && !is_map()) return 0;
  const std::uint32_t count = data_->nodes[index_].count;
  return is_map() ? count / 2 : count;
}

node node::item(std::size_t i) const {
  return node(data_, data_->children[data_->nodes[index_].first + i]);
}

node node::key(std::size_t i) const {
  return node(data_, data_->children[data_->nodes[index_].first + 2 * i]);
}

node node::value(std::size_t i) const {
  return node(data_, data_->children[data_->nodes[index_].first + 2 * i + 1]);
}

document::document() = default;
document::~document() = default;
document::document(document&&) noexcept = default;
document& document::operator=(document&&) noexcept = default;

node document::root() const {
  if (!data_ || !data_->root) return {};
  return node(data_.get(), *data_->root);
}

std::string read_file(const std::filesystem::path& file, std::size_t max_bytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec))
    throw load_error(file.string(), 0, 0, "is a directory");
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw load_error(file.string(), 0, 0, std::string("cannot open: ") + std::strerror(errno));
  }
  std::string text;
  char chunk[64 * 1024];
  while (in && text.size() <= max_bytes) {
    in.read(chunk, sizeof chunk);
    text.append(chunk, static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw load_error(file.string(), 0, 0, "cannot read");
  if (text.size() > max_bytes) {
    throw load_error(
        file.string(), 0, 0,
        "file is over the maximum of " + size_text(max_bytes) + " for this kind of file");
  }
  return text;
}

document parse(std::string_view text, const std::string& file, const limits& bounds) {
  if (text.size() > bounds.max_bytes) {
    throw load_error(file, 0, 0,
                     "text is " + std::to_string(text.size()) + " octets, over the maximum of " +
                         size_text(bounds.max_bytes) + " for this kind of file");
  }
  if (looks_like_utf16_or_32(text)) {
    throw load_error(file, 1, 1,
                     "not UTF-8 text (it starts as UTF-16 or UTF-32 does, or with a NUL byte): "
                     "save the file as UTF-8");
  }
  builder b(text, file, bounds);
  chunked_buffer buffer(text, b);
  std::istream in(&buffer);
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(b)) {
    }
  } catch (const YAML::Exception& e) {
    b.fail(e.mark, "YAML syntax error: " + e.msg);
  }
  return b.finish();
}

}  // namespace smtpmock::scenario::yaml
