"""mutate/equivalent.tsv: mutants reviewed as equivalent, each with a reason.

A line is `KEY<TAB>REASON`; KEY is file|function|operator|original|mutated
(Point.key: whitespace runs as one space), so an entry survives edits that
move its line. Lines starting with '#' are comments.
"""

from pathlib import Path


def load(path: Path) -> dict:
    reviewed = {}
    if not path.exists():
        return reviewed
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        key, tab, reason = line.partition("\t")
        if not tab or not reason.strip():
            raise SystemExit(f"mutate: {path}:{number}: an entry is KEY<TAB>REASON, and the reason is not empty")
        reviewed[key] = reason.strip()
    return reviewed
