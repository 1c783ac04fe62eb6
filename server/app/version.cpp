// See version.hpp.
#include "app/version.hpp"

#include "smtpmock_commit.hpp"  // generated: SMTPMOCK_COMMIT

namespace smtpmock::app {

const char* version() {
  return SMTPMOCK_VERSION;
}

const char* commit() {
  return SMTPMOCK_COMMIT;
}

std::string version_line() {
  return std::string("smtpmock ") + version() + " (commit " + commit() + ")";
}

}  // namespace smtpmock::app
