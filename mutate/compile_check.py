"""Semantic points the compiler refuses, dropped before the build.

A semantic mutant copies text to another place (a variable, a bound, the
other order of two statements or arguments), and its template is written to
compile with the mutant off and on; where it still does not (a name the
copy cannot see, an overload the other type picks), one refused point would
fail the whole tree of schemata. So each rewritten file is checked alone
(clang's -fsyntax-only, with its compile command's flags), and the semantic
points of a file that fails are halved until the refused ones are found:
they are dropped and reported, never counted.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import points as finding
import schemata


def refused(root: Path, info, file: str, points, semantic_points) -> list:
    """The points of `semantic_points` (all of `file`) without which `file`,
    rewritten with `points`, compiles."""
    kept = [p for p in points if p not in semantic_points]
    if _compiles(root, info, file, points):
        return []
    return _halve(root, info, file, kept, list(semantic_points))


def _halve(root, info, file, kept, candidates) -> list:
    if _compiles(root, info, file, kept + candidates):
        return []
    if len(candidates) == 1:
        return candidates
    middle = len(candidates) // 2
    first = _halve(root, info, file, kept, candidates[:middle])
    # The second half is judged with the first half's good points in.
    good_first = [p for p in candidates[:middle] if p not in first]
    return first + _halve(root, info, file, kept + good_first, candidates[middle:])


def _compiles(root: Path, info, file: str, points) -> bool:
    ordered = sorted(points, key=lambda p: (p.start, -p.end))
    text = schemata.rewrite((root / file).read_bytes(), ordered)
    with tempfile.TemporaryDirectory(prefix="vmemcheck-compile-check-") as scratch:
        # Next to a copy of its includer (a header) or alone (a source); its
        # own folder's headers through -iquote, as its #include "..." finds them.
        rewritten = Path(scratch) / Path(file).name
        rewritten.write_text(text)
        source = rewritten
        if file.endswith(".hpp"):
            includer = finding.parsed_through(root, file, info.dut_files)
            source = Path(scratch) / Path(includer).name
            shutil.copy2(root / includer, source)
            flags = info.parse_flags(root / includer) + ["-iquote", str((root / includer).parent)]
        else:
            flags = info.parse_flags(root / file)
        flags += ["-iquote", str((root / file).parent)]
        done = subprocess.run(["clang++", "-fsyntax-only", "-w", *flags, str(source)], capture_output=True)
        return done.returncode == 0
