// swaks' spellings of `smtpmock send`'s options, turned into the `--` names CLI11 knows before
// it sees them. swaks takes every option with one dash or two (`-tls` is `--tls`) and has
// multi-letter short forms (`-au`, `-tlsc`); CLI11 would read `-tls` as `-t ls`. Pure: no CLI11.
#pragma once

#include <string>
#include <vector>

namespace smtpmock::client {

/// What normalise_swaks_args made of the words after `send`.
struct swaks_args {
  std::vector<std::string> args;  ///< the command line for CLI11, in smtpmock's `--` spellings
  /// Empty when every word in option position was understood; else that word as typed (without
  /// an `=VALUE`), which the caller refuses with exit 2.
  std::string refused;
  /// For a refused swaks option smtpmock does not support yet: swaks' long name ("tls-optional").
  /// Empty for an unknown option (the caller says "did you mean").
  std::string unsupported;
};

/// Rewrites `words` (the arguments after `send`): one-dash long names get two dashes, swaks'
/// short forms and aliases become smtpmock's names (`-h NAME` is `--ehlo NAME`, `-au` is
/// `--auth-user`, `--h-Subject hi` is `--header "Subject: hi"`). Only words in option position
/// are rewritten: an option's value (`--body -x`) and everything after `--` are kept as they are.
swaks_args normalise_swaks_args(const std::vector<std::string>& words);

/// The option names `send` accepts (no dashes, three letters or more), for a did-you-mean.
std::vector<std::string> swaks_option_names();

}  // namespace smtpmock::client
