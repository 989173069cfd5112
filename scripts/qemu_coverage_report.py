#!/usr/bin/env python3
"""Line and branch coverage of QEMU's virtio-mem files from a merged profile
(scripts/qemu-coverage), every line not reached listed with its reason.

Reasons come from qemu/source-build/unreached-lines.tsv, keyed by file,
function and the line's trimmed text (not its number, so they survive line
moves), or `*` for every missed line of the function; a run of missed lines takes the reason of its first line when it has
none of its own (a statement's continuation, a block's closing brace). Each
reason has a class: `unreachable` (the line cannot run on x86 q35 without a
guest driven over qtest: another architecture, VFIO, a running guest,
postcopy, an allocation failing) or `gap` (vmemcheck could reach it and does
not yet). Lines reached / reachable = reached / (instrumented - unreachable).
"""
import argparse
import csv
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FILES = ["hw/virtio/virtio-mem.c", "hw/virtio/virtio-mem-pci.c"]
REASONS = REPO / "qemu/source-build/unreached-lines.tsv"


def read_reasons():
    reasons = {}
    with open(REASONS) as f:
        for row in csv.reader((line for line in f if line.strip() and not line.startswith("#")), delimiter="\t"):
            file, function, text, klass, reason = row
            if klass not in ("unreachable", "gap"):
                sys.exit(f"qemu_coverage_report: {REASONS}: class '{klass}' is neither unreachable nor gap")
            reasons[(file, function, text)] = (klass, reason)
    return reasons


def show(binary, profdata, source):
    """(file, function, line, count or None, text) for every line of the files' functions.

    llvm-cov 14 ignores the source-file filter for this binary (whose files
    are recorded as ../src/...), so the functions are chosen by name: static
    ones are recorded as "FILE:NAME", by the file's base name (all of these
    files' functions are static).
    """
    text = subprocess.run(["llvm-cov-14", "show", binary, f"-instr-profile={profdata}", "-use-color=false",
                           r"-name-regex=virtio-mem(-pci)?\.c:"],
                          check=True, capture_output=True, text=True).stdout
    # A function is the file's own when its definition starts a line there.
    defined = {f: set(re.findall(r"^(?:static\s+)?[\w\s\*]*?\b(virtio_\w+)\(", (source / f).read_text(), re.M))
               for f in FILES}
    current, function, seen = None, None, set()
    for raw in text.splitlines():
        if raw and not raw.startswith(" ") and raw.endswith(":"):
            name = raw[:-1]
            # Static inline functions of included headers (QAPI casts,
            # QOM checkers) are recorded under the including file too: only
            # the file's own functions, which are all named virtio_*.
            current = next((f for f in FILES if name.startswith(f.split("/")[-1] + ":virtio_")), None)
            function = name.split(":", 1)[1]
            if current and function not in defined[current]:
                current = None  # an inline function of a header (virtio.h)
            continue
        m = re.match(r"^ *(\d+)\|\s*([0-9.]+[kMG]?)?\|(.*)$", raw)
        if m and current and (current, int(m.group(1))) not in seen:
            seen.add((current, int(m.group(1))))
            yield current, function, int(m.group(1)), m.group(2), m.group(3)


def summary(binary, profdata, source):
    data = json.loads(subprocess.run(["llvm-cov-14", "export", binary, f"-instr-profile={profdata}",
                                      "-summary-only"],
                                     check=True, capture_output=True, text=True).stdout)
    # The export also lists headers these files include: keep the two files.
    return {f: entry["summary"] for entry in data["data"][0]["files"] for f in FILES
            if entry["filename"].endswith("/" + f)}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--profdata", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    source = Path(args.binary).resolve().parent.parent / "src"
    reasons = read_reasons()
    out = Path(args.out)

    missed, used = [], set()
    last = None
    counts = {f: [0, 0, 0] for f in FILES}  # instrumented, reached, unreachable
    lines = sorted(show(args.binary, args.profdata, source), key=lambda entry: (entry[0], entry[2]))
    for file, function, line, count, text in lines:
        if count is None:
            continue
        counts[file][0] += 1
        if count != "0":
            counts[file][1] += 1
            last = None
            continue
        key = (file, function, text.strip())
        if key not in reasons and (file, function, "*") in reasons:
            key = (file, function, "*")  # the reason holds for the whole function
        if key in reasons:
            klass, reason = reasons[key]
            used.add(key)
        elif last and last[0] == file and last[1] == line - 1 and last[2] is not None:
            klass, reason = last[2]
        else:
            klass, reason = "gap", "no reason recorded"
        entry = (klass, reason) if reason != "no reason recorded" else None
        last = (file, line, entry)
        if klass == "unreachable":
            counts[file][2] += 1
        missed.append((file, function, line, text.strip(), klass, reason))

    with open(out / "missed.tsv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["file", "function", "line", "text", "class", "reason"])
        w.writerows(missed)
    sums = summary(args.binary, args.profdata, source)
    for file in FILES:
        instrumented, reached, unreachable = counts[file]
        s = sums[file]
        reachable = instrumented - unreachable
        print(f"{file}: lines {reached}/{instrumented} ({100 * reached / instrumented:.1f} %), "
              f"branches {s['branches']['covered']}/{s['branches']['count']} ({s['branches']['percent']:.1f} %), "
              f"functions {s['functions']['covered']}/{s['functions']['count']}; "
              f"reachable on x86 q35 without a guest: {reached}/{reachable} ({100 * reached / reachable:.1f} %)")
    gaps = sum(1 for m in missed if m[4] == "gap")
    unexplained = sum(1 for m in missed if m[5] == "no reason recorded")
    print(f"missed lines: {len(missed)} ({gaps} gaps, {unexplained} without a reason) in {out / 'missed.tsv'}")
    stale = [k for k in reasons if k not in used]
    if stale:
        print(f"note: {len(stale)} reasons matched no missed line (reached now, or the text moved)")


if __name__ == "__main__":
    main()
