"""Mutant schemata: one source per file that holds every mutant of it.

A mutant is a point (a source range) and its variants: found in the syntax
tree (points.py), or named and written by hand (named.py: the planted bugs
and the proofs' mutants). Each point's range is replaced by its template, whose holes hold the
rewritten text of the sub-ranges it keeps, so points nest (a relational flip
inside a negated condition inside a removable statement). The build of the
rewritten tree is the device with every mutant switched off; the environment
variable VMEMCHECK_MUTANT switches one on (vmemcheck_mutant.hpp).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

RUNTIME = Path(__file__).resolve().parent / "vmemcheck_mutant.hpp"


@dataclasses.dataclass
class Point:
    file: str            # relative to the repository
    start: int           # byte offsets into the file
    end: int
    line: int
    end_line: int
    operator: str
    function: str
    original: str        # the original text, for people
    variants: list       # each: the mutated text, for people
    holes: list          # [(start, end)] kept and rewritten inside
    template: str        # the replacement: {id}, {id1}.., {h0}, {h1}.. for the holes
    first_id: int = 0
    exact: bool = False  # the variants are the exact replacement text (fixed() can apply them)
    # The same operator on the same text earlier in the same function makes
    # this the occurrence'th such point (assign_ids): its key says so.
    occurrence: int = 1

    def key(self, variant: int) -> str:
        """What names a mutant across edits: file, function, operator and texts,
        and `#N` for the Nth point of the same text there (N > 1): two points
        of one text in a function, one killed and one equivalent, must not
        share an entry of mutate/equivalent.tsv."""
        key = f"{self.file}|{self.function}|{self.operator}|{_flat(self.original)}|{_flat(self.variants[variant])}"
        return key if self.occurrence == 1 else f"{key}|#{self.occurrence}"


def _flat(text: str) -> str:
    return " ".join(text.split())


def fixed(source: bytes, point, variant: int = 0) -> str:
    """The file's text with one mutant always on, compiled in with no run-time
    switch (a planted-bug build, a proof's mutant): the variant's text in place
    of the point's range. Only for points whose variants are exact source text
    (named.py's); a syntax-tree point's variants are descriptions for people."""
    assert point.exact, f"{point.file}:{point.line}: a {point.operator} point has no exact text to put in"
    return (source[:point.start] + point.variants[variant].encode() + source[point.end:]).decode()


def assign_ids(points) -> int:
    """Numbers every mutant from 1 (0 is 'none'), and each point among those
    of the same operator and text in its function, in file order; returns how
    many mutants."""
    next_id = 1
    seen = {}
    for point in points:
        point.first_id = next_id
        next_id += len(point.variants)
        same = (point.file, point.function, point.operator, _flat(point.original))
        seen[same] = seen.get(same, 0) + 1
        point.occurrence = seen[same]
    return next_id - 1


def rewrite(source: bytes, points) -> str:
    """The file's text with every point replaced by its schema."""
    # libclang's offsets count bytes: slice the bytes (a cut is always at a
    # token, never inside a character), decode the pieces.
    ordered = sorted(points, key=lambda p: (p.start, -p.end))
    body = _rewrite_range(source, 0, len(source), ordered)
    return f'#include "{RUNTIME}"\n#line 1\n{body}'


def _rewrite_range(text, low, high, points) -> str:
    out, position, index = [], low, 0
    while index < len(points):
        point = points[index]
        if point.start < position or point.end > high:
            index += 1  # overlaps one already taken: cannot nest, left out (checked by the caller)
            continue
        inside = [p for p in points[index + 1:] if p.start >= point.start and p.end <= point.end]
        out.append(text[position:point.start].decode())
        out.append(_render(text, point, inside))
        position = point.end
        index += 1 + len(inside)
    out.append(text[position:high].decode())
    return "".join(out)


def _render(text, point, inside) -> str:
    holes = {}
    for number, (start, end) in enumerate(point.holes):
        holes[f"h{number}"] = _rewrite_range(text, start, end, [p for p in inside if p.start >= start and p.end <= end])
    return point.template.format(id=point.first_id, **holes)


def unnestable(points) -> list:
    """Points that overlap another of their file without nesting in one of its holes."""
    bad = []
    for file in sorted({p.file for p in points}):
        ordered = sorted((p for p in points if p.file == file), key=lambda p: (p.start, -p.end))
        for outer_index, outer in enumerate(ordered):
            for inner in ordered[outer_index + 1:]:
                if inner.start >= outer.end:
                    break
                inside_hole = any(s <= inner.start and inner.end <= e for s, e in outer.holes)
                if not inside_hole and inner not in bad:
                    bad.append(inner)
    return bad
