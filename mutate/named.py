#!/usr/bin/env python3
"""Named mutants: hand-written faults in the device under test, one per
.mutant file. The planted bugs (mutate/planted/NAME.mutant, docs/planted-bugs.md)
and the proofs' mutants (proofs/mutants/NAME.mutant) are both. Each becomes a
point like those points.py finds in the syntax tree, so the mutation tool
applies it in one of two ways:
- scripts/mutate compiles it into its tree of schemata, switched on at run
  time (VMEMCHECK_MUTANT), beside every syntax-tree mutant (`--named`
  judges them);
- a build with one of them always on gets a copy of the file with the
  mutant in (schemata.fixed): -DVMEMCHECK_PLANTED_BUG=NAME
  (core/decision/CMakeLists.txt) and the proofs' mutant builds
  (proofs/CMakeLists.txt) run `named.py apply`.

A .mutant file: '#' lines (the first says what the fault is), then
  file: PATH          the file of the device under test to change
  in: TEXT            a text that occurs once in it; the change follows it
  replace: TEXT       an expression: its first occurrence after the `in` text...
  occurrence: N       ...or its N-th (when the first is another expression)
  with: TEXT          ...becomes this expression (the same type: the schemata
                      switch between the two with `?:`)
  target: TARGET      a planted bug's fuzz target (scripts/planted-bugs)
  proof: NAME         the proof that must refute it (proofs/NAME_proof.cpp)
  scenario: yes|no    with proof: must its counterexample come as a scenario

  named.py apply SPEC ROOT OUT_DIR
writes OUT_DIR/<file> with the mutant in and, when the file is a header,
copies of its sibling headers (so that their quoted includes of it find the
copy); prints every source it read, one a line (what the copy depends on).
  named.py check [BUILD_DIR]
checks that every named mutant still applies to today's code and that each
planted bug names a fuzz target of the manifest (ctest mutate.named-specs).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from schemata import Point, fixed

ROOT = Path(__file__).resolve().parent.parent
PLANTED, PROOFS = "mutate/planted", "proofs/mutants"
FOLDERS = {PLANTED: "planted bug", PROOFS: "proof's mutant"}
REQUIRED = ("file", "in", "replace", "with")
OPTIONAL = ("occurrence", "target", "proof", "scenario")


class SpecError(Exception):
    pass


@dataclasses.dataclass
class Spec:
    name: str
    path: Path
    description: str
    fields: dict

    def __getitem__(self, key):
        return self.fields[key]

    def get(self, key, default=None):
        return self.fields.get(key, default)


def read(path: Path) -> Spec:
    if not path.is_file():
        raise SpecError(f"no mutant spec {path}")
    fields, comments = {}, []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("#"):
            comments.append(line.lstrip("# ").strip())
            continue
        if not line.strip():
            continue
        key, separator, value = line.partition(": ")
        if not separator or key not in REQUIRED + OPTIONAL:
            raise SpecError(f"{path}:{number}: expected 'KEY: VALUE' with KEY one of "
                            f"{', '.join(REQUIRED + OPTIONAL)}, got {line!r}")
        fields[key] = value
    missing = [key for key in REQUIRED if key not in fields]
    if missing:
        raise SpecError(f"{path}: missing {', '.join(missing)}")
    if not comments:
        raise SpecError(f"{path}: no '#' line saying what the fault is")
    return Spec(path.stem, path, comments[0], fields)


def specs(root: Path, planted_bugs) -> dict:
    """The specs of the planted bugs named (the manifest's planted_bugs, which
    CMake reads from mutate/planted/) and of every proof's own mutant."""
    return {PLANTED: [read(root / PLANTED / f"{name}.mutant") for name in planted_bugs],
            PROOFS: [read(path) for path in sorted((root / PROOFS).glob("*.mutant"))]}


def point(root: Path, spec: Spec) -> Point:
    """Where the spec's change goes in today's text of its file."""
    path = root / spec["file"]
    if not path.is_file():
        raise SpecError(f"{spec.path}: no file {spec['file']}")
    text = path.read_bytes()
    anchor, original = spec["in"].encode(), spec["replace"].encode()
    if text.count(anchor) != 1:
        raise SpecError(f"{spec.path}: '{spec['in']}' occurs {text.count(anchor)} times in {spec['file']}, not once "
                        "(the code moved on: update the .mutant file)")
    start, position = -1, text.index(anchor) + len(anchor)
    for _ in range(int(spec.get("occurrence", "1"))):
        start = text.find(original, position)
        if start < 0:
            raise SpecError(f"{spec.path}: '{spec['replace']}' does not follow '{spec['in']}' in {spec['file']} "
                            f"{spec.get('occurrence', '1')} times (the code moved on: update the .mutant file)")
        position = start + len(original)
    end = start + len(original)
    def braces(s):  # the template is a str.format pattern
        return s.replace("{", "{{").replace("}", "}}")
    folder = spec.path.parent.relative_to(root).as_posix() if spec.path.is_relative_to(root) else ""
    return Point(spec["file"], start, end, text.count(b"\n", 0, start) + 1, text.count(b"\n", 0, end) + 1,
                 FOLDERS.get(folder, "named mutant"), spec.name, spec["replace"], [spec["with"]], [(start, end)],
                 "(vmemcheck_mutant::on({id}) ? (" + braces(spec["with"]) + ") : ({h0}))", exact=True)


def every_point(root: Path, planted_bugs) -> list:
    """The points of every named mutant, planted bugs first."""
    return [point(root, spec) for found in specs(root, planted_bugs).values() for spec in found]


def apply(spec_path: Path, root: Path, out: Path) -> list:
    """Writes the mutated copy (and a header's siblings) under out; returns the sources read."""
    spec = read(spec_path)
    mutant = point(root, spec)
    original = root / mutant.file
    copies = {mutant.file: fixed(original.read_bytes(), mutant)}
    if original.suffix == ".hpp":
        for sibling in sorted(original.parent.glob("*.hpp")):
            relative = sibling.relative_to(root).as_posix()
            copies.setdefault(relative, sibling.read_text())
    for relative, text in copies.items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text() != text:  # unchanged copies keep their time stamps
            target.write_text(text)
    return [spec_path.resolve()] + [root / relative for relative in copies]


def check(build: Path | None) -> None:
    """Every named mutant applies; every planted bug names a fuzz target."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import manifest
    lists = manifest.load(build)
    targets = lists["fuzz_targets"]
    for folder, found in specs(ROOT, lists["planted_bugs"]).items():
        for spec in found:
            mutant = point(ROOT, spec)
            if fixed((ROOT / mutant.file).read_bytes(), mutant) == (ROOT / mutant.file).read_text():
                raise SpecError(f"{spec.path}: the change leaves {mutant.file} as it is")
            if folder == PLANTED and spec.get("target") not in targets:
                raise SpecError(f"{spec.path}: 'target: {spec.get('target', '')}' is not a fuzz target "
                                f"({', '.join(targets)})")
        print(f"{folder}: {len(found)} apply: {', '.join(s.name for s in found)}")


def main(argv) -> int:
    try:
        if len(argv) == 4 and argv[0] == "apply":
            for source in apply(Path(argv[1]).resolve(), Path(argv[2]).resolve(), Path(argv[3])):
                print(source)
        elif argv[:1] == ["check"] and len(argv) <= 2:
            check(Path(argv[1]) if len(argv) == 2 else None)
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except SpecError as error:
        print(f"named.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
