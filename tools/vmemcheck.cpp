// vmemcheck: a fuzzing and formal-check testbed for virtio-mem and its KVM
// memslots. This file only wires the subcommands together.
#include <exception>
#include <iostream>
#include <string>
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

CLI::Validator positive_seconds_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double value = 0;
        size_t used = 0;
        try {
          value = std::stod(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        return used == text.size() && value > 0 ? "" : "'" + text + "' is not a positive number of seconds";
      },
      "SECONDS");
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
  commands["kvm-metadata"] = add_kvm_metadata_command(app);
  commands["compare"] = add_compare_command(app);
  commands["replay"] = add_replay_command(app);
  commands["convert"] = add_convert_command(app);
  commands["minimize"] = add_minimize_command(app);
  commands["triage"] = add_triage_command(app);
  commands["census"] = add_census_command(app);
  commands["qemu"] = add_qemu_command(app);
  commands["guest"] = add_guest_command(app);
  // CLI11 reports an unknown subcommand only as a missing one: name it.
  if (argc > 1 && argv[1][0] != '-' && !commands.contains(argv[1])) {
    std::cerr << "vmemcheck: unknown command '" << argv[1]
              << "' (run, metadata, soak, kvm-metadata, compare, replay, convert, minimize, triage, qemu, guest; see --help)\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  for (const auto* sub : app.get_subcommands()) return commands.at(sub->get_name())();
  return 2;
}
