// vmemcheck: a fuzzing and formal-check testbed for virtio-mem and its KVM
// memslots. This file only wires the subcommands together.
#include <iostream>
#include <map>

#include "commands.hpp"
#include "units.hpp"

namespace vmemcheck::cli {

CLI::Validator size_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return parse_size(text) ? "" : "'" + text + "' is not a size (examples: 4096, 0x1000, 2M, 1G, 1T)";
      },
      "SIZE");
}

uint64_t size_option(const std::string& text) { return parse_size(text).value_or(0); }

}  // namespace vmemcheck::cli

int main(int argc, char** argv) {
  using namespace vmemcheck::cli;
  CLI::App app{
      "vmemcheck: a testbed for virtio-mem memory hot(un)plug and its KVM memslots.\n"
      "It runs an independent device core against a reference model, a shadow of KVM's\n"
      "memslot rules and DESIGN's invariants."};
  app.require_subcommand(1);
  std::map<std::string, Command> commands;
  commands["run"] = add_run_command(app);
  commands["metadata"] = add_metadata_command(app);
  commands["soak"] = add_soak_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  for (const auto* sub : app.get_subcommands()) return commands.at(sub->get_name())();
  return 2;
}
