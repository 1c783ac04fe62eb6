// The program's version and the git commit it was built from (for --version, the ready line and
// the smtpmock_build_info metric). The commit comes from a header generated at build time, seen
// only by version.cpp, so a new commit rebuilds one small file.
#pragma once

#include <string>

namespace smtpmock::app {

/// "0.1.0".
const char* version();
/// The short git commit ("3f2a9c1b7d0e"), or "unknown" outside a git checkout.
const char* commit();
/// "smtpmock 0.1.0 (commit 3f2a9c1b7d0e)".
std::string version_line();

}  // namespace smtpmock::app
