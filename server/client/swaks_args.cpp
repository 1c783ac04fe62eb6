// swaks' option spellings for `smtpmock send`; see swaks_args.hpp. The table follows swaks'
// own option list (its names and aliases), plus smtpmock's options that swaks lacks.
#include "client/swaks_args.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace smtpmock::client {
namespace {

// level: swaks' `-S [1|2|3]` (only a digit is its value); optional_name: `--attach-name [NAME]`,
// without NAME the flag `--attach-no-name` (CLI11 would need a value).
enum class arg { none, required, optional, level, optional_name };

struct option {
  std::array<std::string_view, 4> names;  ///< swaks' long name first, then aliases ("": none)
  std::string_view target;                ///< smtpmock's name; empty: not supported yet
  arg value;
};

// clang-format off
const std::array options = {
    // Supported: swaks' names and short forms, and smtpmock's own options.
    option{{"server", "s"}, "server", arg::required},
    option{{"port", "p"}, "port", arg::required},
    option{{"from", "f"}, "from", arg::required},
    option{{"to", "t"}, "to", arg::required},
    option{{"helo", "ehlo", "lhlo", "h"}, "ehlo", arg::required},
    option{{"auth", "a"}, "auth", arg::optional},
    option{{"auth-optional", "ao"}, "auth-optional", arg::optional},
    option{{"auth-optional-strict", "aos"}, "auth-optional-strict", arg::optional},
    option{{"auth-user", "au"}, "auth-user", arg::required},
    option{{"auth-password", "ap"}, "auth-password", arg::required},
    option{{"tls"}, "tls", arg::none},
    option{{"tls-on-connect", "tlsc"}, "tls-on-connect", arg::none},
    option{{"tls-verify"}, "tls-verify", arg::none},
    option{{"tls-optional", "tlso"}, "tls-optional", arg::none},
    option{{"tls-optional-strict", "tlsos"}, "tls-optional-strict", arg::none},
    option{{"tls-sni"}, "tls-sni", arg::required},
    option{{"tls-protocol", "tlsp"}, "tls-protocol", arg::required},
    option{{"tls-cert"}, "tls-cert", arg::required},
    option{{"tls-key"}, "tls-key", arg::required},
    option{{"tls-ca-path"}, "tls-ca-path", arg::required},
    option{{"protocol"}, "protocol", arg::required},
    option{{"4"}, "4", arg::none},
    option{{"6"}, "6", arg::none},
    option{{"local-interface", "li"}, "local-interface", arg::required},
    option{{"local-port", "lport", "lp"}, "local-port", arg::required},
    option{{"pipeline"}, "pipeline", arg::none},
    option{{"chunking", "bdat"}, "chunking", arg::none},
    option{{"data", "d"}, "data", arg::required},
    option{{"force-getpwuid"}, "force-getpwuid", arg::none},
    option{{"g"}, "data=-", arg::none},  // swaks' deprecated -g is --data -
    option{{"no-strip-from", "nsf"}, "no-strip-from", arg::none},
    option{{"dump-mail"}, "dump-mail", arg::none},
    option{{"tls-cipher"}, "tls-cipher", arg::required},
    option{{"header"}, "header", arg::required},
    option{{"add-header", "ah"}, "add-header", arg::required},
    option{{"body"}, "body", arg::required},
    option{{"attach"}, "attach", arg::required},
    option{{"attach-type"}, "attach-type", arg::required},
    option{{"attach-name"}, "attach-name", arg::optional_name},
    option{{"attach-body"}, "attach-body", arg::required},
    option{{"no-data-fixup", "ndf"}, "no-data-fixup", arg::none},
    option{{"quit-after", "quit", "q", "qa"}, "quit-after", arg::required},
    option{{"drop-after", "drop", "da"}, "drop-after", arg::required},
    option{{"drop-after-send", "das"}, "drop-after-send", arg::required},
    option{{"timeout"}, "timeout", arg::required},
    option{{"silent", "S"}, "silent", arg::level},
    option{{"hide-all", "ha"}, "hide-all", arg::none},
    option{{"suppress-data", "n"}, "suppress-data", arg::none},
    option{{"show-time-lapse", "stl"}, "show-time-lapse", arg::optional},
    option{{"auth-hide-password", "ahp"}, "auth-hide-password", arg::optional},
    option{{"auth-plaintext", "apt"}, "auth-plaintext", arg::none},
    option{{"hide-send", "hs"}, "hide-send", arg::none},
    option{{"hide-receive", "hr"}, "hide-receive", arg::none},
    option{{"hide-informational", "hi"}, "hide-informational", arg::none},
    option{{"no-hints", "nth"}, "no-hints", arg::none},
    option{{"no-send-hints", "nsh"}, "no-send-hints", arg::none},
    option{{"no-receive-hints", "nrh"}, "no-receive-hints", arg::none},
    option{{"no-info-hints", "nih"}, "no-info-hints", arg::none},
    option{{"output-file", "output"}, "output-file", arg::required},
    option{{"output-file-stdout"}, "output-file-stdout", arg::required},
    option{{"output-file-stderr"}, "output-file-stderr", arg::required},
    option{{"help"}, "help", arg::none},
    option{{"version"}, "version", arg::none},
    option{{"json"}, "json", arg::none},
    option{{"api"}, "api", arg::required},
    option{{"no-api"}, "no-api", arg::none},
    option{{"count"}, "count", arg::required},
    option{{"concurrency"}, "concurrency", arg::required},
    option{{"per-connection"}, "per-connection", arg::required},
    option{{"no-progress"}, "no-progress", arg::none},
    // swaks' options smtpmock send does not support yet: refused, never misread.
    option{{"config"}, "", arg::none}, 
    option{{"copy-routing"}, "", arg::none},
    option{{"dump-as-body", "dab"}, "", arg::none},
    option{{"dump-as-body-shows-password", "dabsp"}, "", arg::none},
    option{{"auth-map", "am"}, "", arg::none}, option{{"auth-extra", "ae"}, "", arg::none},
    option{{"support"}, "", arg::none},
    
    
    option{{"tls-get-peer-cert"}, "", arg::none},
    
    option{{"protect-prompt", "pp"}, "", arg::none},
    option{{"show-raw-text", "raw"}, "", arg::none},
    option{{"pipe"}, "", arg::none},
    option{{"socket"}, "", arg::none}, option{{"dump"}, "", arg::none},
    option{{"prdr"}, "", arg::none},
    option{{"xclient"}, "", arg::none},
    option{{"xclient-name"}, "", arg::none}, option{{"xclient-addr"}, "", arg::none},
    option{{"xclient-port"}, "", arg::none}, option{{"xclient-proto"}, "", arg::none},
    option{{"xclient-destaddr"}, "", arg::none}, option{{"xclient-destport"}, "", arg::none},
    option{{"xclient-helo"}, "", arg::none}, option{{"xclient-login"}, "", arg::none},
    option{{"xclient-reverse-name"}, "", arg::none}, option{{"xclient-delim"}, "", arg::none},
    option{{"xclient-optional"}, "", arg::none},
    option{{"xclient-optional-strict"}, "", arg::none},
    option{{"xclient-before-starttls"}, "", arg::none},
    option{{"xclient-no-verify"}, "", arg::none}, option{{"proxy"}, "", arg::none},
    option{{"proxy-version"}, "", arg::none}, option{{"proxy-family"}, "", arg::none},
    option{{"proxy-protocol"}, "", arg::none}, option{{"proxy-command"}, "", arg::none},
    option{{"proxy-source"}, "", arg::none}, option{{"proxy-source-port"}, "", arg::none},
    option{{"proxy-dest"}, "", arg::none}, option{{"proxy-dest-port"}, "", arg::none},

};
// clang-format on

const option* find(std::string_view name) {
  if (name.empty()) return nullptr;
  for (const option& o : options)
    if (std::find(o.names.begin(), o.names.end(), name) != o.names.end()) return &o;
  return nullptr;
}

/// swaks' `--h-NAME` / `--header-NAME` (a trailing colon allowed): NAME, else "".
std::string_view header_name(std::string_view name) {
  for (std::string_view prefix : {"header-", "h-"}) {
    if (name.size() > prefix.size() && name.starts_with(prefix)) {
      std::string_view header = name.substr(prefix.size());
      if (header.ends_with(':')) header.remove_suffix(1);
      if (!header.empty() && header.find(':') == std::string_view::npos) return header;
    }
  }
  return {};
}

}  // namespace

swaks_args normalise_swaks_args(const std::vector<std::string>& words) {
  swaks_args out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word == "--") {  // the end of options: the rest is kept as it is
      out.args.insert(out.args.end(), words.begin() + static_cast<std::ptrdiff_t>(i), words.end());
      break;
    }
    if (word.size() < 2 || word[0] != '-') {  // not an option: CLI11 says what is wrong
      out.args.push_back(word);
      continue;
    }
    // "--name=value" and "-name=value" (as swaks splits them first).
    const std::size_t dashes = word[1] == '-' ? 2 : 1;
    const std::size_t eq = word.find('=', dashes);
    const std::string typed = word.substr(0, eq);
    const std::string_view name = std::string_view(typed).substr(dashes);
    const bool inline_value = eq != std::string::npos;
    const std::string value = inline_value ? word.substr(eq + 1) : std::string();

    if (const option* o = find(name)) {
      if (o->target.empty()) {
        out.refused = typed;
        out.unsupported = *o->names.begin();
        return out;
      }
      // One letter is a short option (-4, -6), as CLI11 knows it.
      const std::string target = (o->target.size() == 1 ? "-" : "--") + std::string(o->target);
      switch (o->value) {
        case arg::none:
          out.args.push_back(inline_value ? target + "=" + value : target);
          break;
        case arg::level:  // swaks' `-S [1|2|3]`: only a digit is its value
          if (inline_value) {
            out.args.push_back(target + "=" + value);
          } else if (i + 1 < words.size() &&
                     (words[i + 1] == "1" || words[i + 1] == "2" || words[i + 1] == "3")) {
            out.args.push_back(target + "=" + words[++i]);
          } else {
            out.args.push_back(target);
          }
          break;
        case arg::required:
          if (inline_value) {
            out.args.push_back(target + "=" + value);
          } else {
            out.args.push_back(target);
            if (i + 1 < words.size()) out.args.push_back(words[++i]);  // the value, as it is
          }
          break;
        case arg::optional_name:
          if (inline_value) {
            out.args.push_back(target + "=" + value);
          } else if (i + 1 < words.size() && !words[i + 1].starts_with('-')) {
            out.args.push_back(target);
            out.args.push_back(words[++i]);
          } else {
            out.args.push_back("--attach-no-name");
          }
          break;
        case arg::optional:  // the next word is the value unless it is an option
          if (inline_value) {
            out.args.push_back(target + "=" + value);
          } else {
            out.args.push_back(target);
            if (i + 1 < words.size() && (words[i + 1] == "-" || !words[i + 1].starts_with('-')))
              out.args.push_back(words[++i]);
          }
          break;
      }
      continue;
    }
    if (std::string_view header = header_name(name); !header.empty()) {
      out.args.push_back("--header");
      if (inline_value) {
        out.args.push_back(std::string(header) + ": " + value);
      } else if (i + 1 < words.size()) {
        out.args.push_back(std::string(header) + ": " + words[++i]);
      }
      continue;
    }
    // swaks' negations (--no-tls, --no-header-Foo) undo an earlier option or a config file's.
    if (name.starts_with("no-") &&
        (find(name.substr(3)) != nullptr || !header_name(name.substr(3)).empty())) {
      out.refused = typed;
      out.unsupported = std::string(name);
      return out;
    }
    out.refused = typed;  // unknown: never guessed at
    return out;
  }
  return out;
}

std::vector<std::string> swaks_option_names() {
  std::vector<std::string> names;
  for (const option& o : options) {
    if (o.target.empty()) continue;
    for (std::string_view n : o.names)
      if (n.size() > 2) names.emplace_back(n);  // not -h, -au, nor the unused ("")
  }
  return names;
}

}  // namespace smtpmock::client
