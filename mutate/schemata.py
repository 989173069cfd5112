"""Mutant schemata: one source per file that holds every mutant of it.

Each point's range is replaced by its template, whose holes hold the
rewritten text of the sub-ranges it keeps, so points nest (a relational flip
inside a negated condition inside a removable statement). The build of the
rewritten tree is the device with every mutant switched off; the environment
variable VMEMCHECK_MUTANT switches one on (vmemcheck_mutant.hpp).
"""

from __future__ import annotations

from pathlib import Path

RUNTIME = Path(__file__).resolve().parent / "vmemcheck_mutant.hpp"


def assign_ids(points) -> int:
    """Numbers every mutant from 1 (0 is 'none'); returns how many."""
    next_id = 1
    for point in points:
        point.first_id = next_id
        next_id += len(point.variants)
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
