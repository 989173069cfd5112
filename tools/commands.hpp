// The vmemcheck subcommands. Each registers its options on the CLI11 app and
// returns the callback that runs it (exit status: 0 fine, 1 findings, 2 usage).
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace vmemcheck::cli {

using Command = std::function<int()>;

Command add_run_command(CLI::App& app);
Command add_metadata_command(CLI::App& app);
Command add_soak_command(CLI::App& app);
Command add_kvm_metadata_command(CLI::App& app);
Command add_compare_command(CLI::App& app);
Command add_replay_command(CLI::App& app);
Command add_convert_command(CLI::App& app);
Command add_minimize_command(CLI::App& app);
Command add_triage_command(CLI::App& app);
Command add_census_command(CLI::App& app);
Command add_qemu_command(CLI::App& app);
Command add_guest_command(CLI::App& app);

// Parses a size option ("2M", "1T", "0x1000") for CLI11.
CLI::Validator size_validator();
CLI::Validator positive_seconds_validator();
uint64_t size_option(const std::string& text);

}  // namespace vmemcheck::cli
