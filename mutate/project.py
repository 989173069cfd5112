"""What the build says about the project, read rather than copied: the
device-under-test files, the fuzz targets and the planted bugs from the
manifest CMake writes (scripts/manifest.py), the compile flags and the unit
tests from its compile_commands.json.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import manifest  # noqa: E402

# What libclang needs of a compile command to parse a file as the build does:
# include folders, macros, the language standard (the rest is code generation
# and warnings). The first set takes a separate argument.
_FLAG_WITH_ARGUMENT = ("-I", "-isystem", "-iquote", "-D", "-U", "-include")
_FLAG_PREFIXES = _FLAG_WITH_ARGUMENT + ("-std=",)
# CMake names a target's objects <folder>/CMakeFiles/<target>.dir/<source>.o.
_TARGET_OF_OBJECT = re.compile(r"CMakeFiles/([^/]+)\.dir/")


class Project:
    def __init__(self, build: Path | None = None):
        self.build = Path(build) if build else ROOT / "build" / "default"
        lists = manifest.load(build)
        self.dut_files = lists["dut_files"]
        self.fuzz_targets = lists["fuzz_targets"]
        self.planted_bugs = lists["planted_bugs"]
        database = self.build / "compile_commands.json"
        try:
            self.commands = {str(Path(c["directory"], c["file"]).resolve()): c for c in json.loads(database.read_text())}
        except FileNotFoundError:
            raise SystemExit(f"mutate: {database} does not exist: configure that build (cmake --preset default)")

    def dut_files_in(self, folder: str) -> tuple:
        """The files of the device under test in one folder of core/."""
        return tuple(f for f in self.dut_files if Path(f).parent == Path(folder))

    def parse_flags(self, source: Path) -> list:
        """The flags libclang parses `source` with: its compile command's, or,
        for a file the build does not compile (the tool's own test fixture),
        the build's language standard alone."""
        command = self.commands.get(str(source.resolve()))
        if command is None:
            standards = {a for c in self.commands.values() for a in _arguments(c) if a.startswith("-std=")}
            return sorted(standards)[:1]
        kept, arguments = [], _arguments(command)
        for index, argument in enumerate(arguments):
            if argument in _FLAG_WITH_ARGUMENT and index + 1 < len(arguments):
                kept += [argument, arguments[index + 1]]
            elif argument.startswith(_FLAG_PREFIXES) and argument not in _FLAG_WITH_ARGUMENT:
                kept.append(argument)
        return kept

    def unit_tests(self) -> list:
        """The unit tests of the device under test's folders: the targets that
        compile tests/core/<folder>/ for every folder holding a DUT file
        (tests/ mirrors core/ folder for folder)."""
        folders = {str(ROOT / "tests" / Path(f).parent) for f in self.dut_files}
        targets = set()
        for path, command in self.commands.items():
            if str(Path(path).parent) in folders:
                arguments = _arguments(command)
                output = arguments[arguments.index("-o") + 1] if "-o" in arguments else ""
                match = _TARGET_OF_OBJECT.search(output)
                if match:
                    targets.add(match.group(1))
        return sorted(targets)


def _arguments(command: dict) -> list:
    return command["arguments"] if "arguments" in command else shlex.split(command["command"])
