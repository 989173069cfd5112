#!/usr/bin/env python3
"""Writes a mutant of core/decision: a copy of its headers with the one
change a .mutant file describes. Fails, naming the file and the text, when
the change no longer applies to the code (the code moved on: update the
.mutant file).

  make_mutant.py SPEC SOURCE_DIR OUT_DIR

A .mutant file: '#' comment lines, then
  proof: NAME        the proof that must find the change (proofs/NAME_proof.cpp)
  file: HEADER       the header of core/decision to change
  in: TEXT           a line that occurs once in it, where the change starts
  replace: TEXT      the first occurrence of TEXT after that line...
  with: TEXT         ...becomes this
  scenario: yes|no   whether the counterexample must come as a scenario
"""
import pathlib
import sys


def read_spec(path):
    spec = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        key, separator, value = line.partition(": ")
        if not separator:
            sys.exit(f"{path}:{number}: expected 'key: value', got {line!r}")
        spec[key] = value
    missing = {"proof", "file", "in", "replace", "with"} - spec.keys()
    if missing:
        sys.exit(f"{path}: missing {', '.join(sorted(missing))}")
    return spec


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    spec_path, source_dir, out_dir = (pathlib.Path(arg) for arg in sys.argv[1:])
    spec = read_spec(spec_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    for header in sorted(source_dir.glob("*.hpp")):
        text = header.read_text()
        if header.name == spec["file"]:
            if text.count(spec["in"]) != 1:
                sys.exit(f"{spec_path}: '{spec['in']}' occurs {text.count(spec['in'])} times in {header}, not once")
            start = text.index(spec["in"])
            at = text.find(spec["replace"], start)
            if at < 0:
                sys.exit(f"{spec_path}: '{spec['replace']}' does not follow '{spec['in']}' in {header}")
            text = text[:at] + spec["with"] + text[at + len(spec["replace"]):]
        target = out_dir / header.name
        if not target.exists() or target.read_text() != text:  # unchanged files keep their time stamps
            target.write_text(text)
    if not (source_dir / spec["file"]).exists():
        sys.exit(f"{spec_path}: no {spec['file']} in {source_dir}")


if __name__ == "__main__":
    main()
