// The client commands of the command line: `smtpmock send`, `check` and `record`. main.cpp
// registers them with add_client_commands() and, after parsing, asks run_client_command()
// whether one of them was chosen. The flags are swaks' long names (SPEC §5, §6); the work is
// done by server/client/, which knows nothing of CLI11.
#pragma once

#include <optional>

namespace CLI {
class App;
}

namespace smtpmock::app {

/// Adds the send, check and record subcommands (and their flags) to `app`.
void add_client_commands(CLI::App& app);
/// After app.parse(): runs the client command that was chosen and returns its exit code, or
/// nullopt when none was.
std::optional<int> run_client_command();

}  // namespace smtpmock::app
