"""scripts/mutate: mutation testing of the device under test (mutate/README.md)."""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import compile_check
import equivalents
import killers as killing
import named
import points as finding
import project
import report
import schemata
import semantic

ROOT = Path(__file__).resolve().parent.parent


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog="scripts/mutate",
        description="Mutation testing of the device under test: finds mutation points in the syntax tree "
                    "(libclang), builds every mutant into one binary set (schemata), and runs the checks "
                    "cheapest first (corpus replay, property test, proofs, a short fuzz, KVM lockstep) until "
                    "one kills the mutant. Exit status 1 when a mutant survives that is not listed in "
                    "mutate/equivalent.tsv, 2 on bad usage or a failed build.")
    parser.add_argument("--since", metavar="REV",
                        help="mutate only the lines changed since REV (git diff REV), e.g. HEAD~5 or the last tag")
    parser.add_argument("--files", nargs="+", metavar="FILE",
                        help="only these files of the device under test (default: all of them)")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)),
                        help="mutants judged at once (default: every CPU)")
    parser.add_argument("--fuzz-runs", type=int, default=20000,
                        help="inputs per target for the fuzz-from-nothing killer (default 20000)")
    parser.add_argument("--weaken", metavar="PATCH",
                        help="apply this patch to the checks before building (mutate/weakened/*.patch): "
                             "measures how much a check contributes")
    parser.add_argument("--again", metavar="TSV",
                        help="judge only the mutants a previous run's mutants.tsv did not kill (matched by file, "
                             "operator and texts, not by id or line): quick rounds while working survivors down")
    parser.add_argument("--out", metavar="DIR", help="report directory (default findings/mutate-DATE)")
    parser.add_argument("--named", action="store_true",
                        help="judge the named mutants instead: the planted bugs (mutate/planted/) and the proofs' "
                             "mutants (proofs/mutants/), each a hand-written fault (mutate/named.py)")
    parser.add_argument("--family", choices=("token", "semantic"),
                        help="only the token operators (one token changed) or only the semantic ones (a variable, "
                             "a bound, an order, a condition, a narrow type: mutate/semantic.py)")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: must be at least 1")
    if args.fuzz_runs < 0:
        parser.error(f"--fuzz-runs {args.fuzz_runs}: must not be negative")
    if args.files:
        dut_files = project.Project().dut_files
        unknown = [f for f in args.files if f not in dut_files]
        if unknown:
            parser.error(f"--files: {unknown[0]} is not a file of the device under test "
                         f"(one of: {', '.join(dut_files)})")
    if args.named and (args.since or args.again or args.family):
        parser.error("--named judges the named mutants: not with --since, --again or --family")
    if args.weaken and not Path(args.weaken).is_file():
        parser.error(f"--weaken: no patch file '{args.weaken}'")
    if args.again and not Path(args.again).is_file():
        parser.error(f"--again: no file '{args.again}' (a mutants.tsv of an earlier run)")
    if args.since and subprocess.run(["git", "rev-parse", "--verify", "--quiet", args.since + "^{commit}"],
                                     cwd=ROOT, capture_output=True).returncode != 0:
        parser.error(f"--since: '{args.since}' is not a commit here")
    return args


def changed_lines(since: str, files) -> dict:
    """file -> set of line numbers that `git diff since` adds or changes."""
    diff = subprocess.run(["git", "diff", "--unified=0", since, "--", *files], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout
    changed, current = {}, None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            current = line[6:] if line.startswith("+++ b/") else None
        elif line.startswith("@@") and current:
            match = re.match(r"@@ -\S+ \+(\d+)(?:,(\d+))? @@", line)
            start, count = int(match.group(1)), int(match.group(2) or 1)
            changed.setdefault(current, set()).update(range(start, start + count))
    return changed


def mirror(points, scratch: Path, weaken: str | None) -> Path:
    """A copy of the tree with the schemata in place of the device's files.
    Unchanged files keep their time stamps, so rebuilds stay incremental."""
    source = scratch / "src"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    by_file = {}
    for point in points:
        by_file.setdefault(point.file, []).append(point)
    staging = scratch / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    for name in tracked.decode().split("\0"):
        if not name or name.startswith(("corpus/", "findings/")) or not (ROOT / name).is_file():
            continue
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name in by_file:
            target.write_text(schemata.rewrite((ROOT / name).read_bytes(), by_file[name]))
        else:
            shutil.copy2(ROOT / name, target)
    if weaken:
        subprocess.run(["patch", "-s", "-p1", "-d", str(staging), "-i", str(Path(weaken).resolve())], check=True)
    _sync(staging, source)
    return source


def _sync(staging: Path, source: Path) -> None:
    for path in staging.rglob("*"):
        if path.is_dir():
            continue
        target = source / path.relative_to(staging)
        if target.exists() and filecmp.cmp(path, target, shallow=False):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        os.utime(target)  # newer than any object built from the old text
    for path in list(source.rglob("*")):
        if path.is_file() and not (staging / path.relative_to(source)).exists():
            path.unlink()


def build(source: Path, build_dir: Path, info: project.Project, with_proofs: bool, log: Path) -> None:
    configure = ["cmake", "-S", str(source), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                 "-DCMAKE_CXX_COMPILER=clang++", "-DVMEMCHECK_LIBFUZZER=ON", "-DVMEMCHECK_BENCHMARKS=OFF",
                 f"-DVMEMCHECK_PROOFS={'ON' if with_proofs else 'OFF'}", "-DVMEMCHECK_WERROR=OFF",
                 # Bounds-checked containers: a mutant's index one past the end aborts;
                 # and the core's own assert()s stay on (Release's flags, less -DNDEBUG).
                 "-DCMAKE_CXX_FLAGS=-D_GLIBCXX_ASSERTIONS -w", "-DCMAKE_CXX_FLAGS_RELEASE=-O3",
                 # The core carries libFuzzer's coverage hooks: the tool and the tests link their runtime too.
                 "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=fuzzer-no-link"]
    targets = ["vmemcheck", "property_test", "fuzz_kvm_lockstep", *info.unit_tests()] + \
        [f"fuzz_{t}" for t in info.fuzz_targets]
    if with_proofs:
        targets.append("vmemcheck_proofs")
    with open(log, "w") as out:
        for step in (configure, ["cmake", "--build", str(build_dir), "-j", str(len(os.sched_getaffinity(0))),
                                 "--target", *targets]):
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                tail = log.read_text().splitlines()[-25:]
                raise SystemExit("mutate: building the mutants failed, see " + str(log) + "\n" + "\n".join(tail))


def kvm_unusable_reason(build_dir: Path) -> str:
    """Why the KVM lockstep cannot run here, or "": fuzz_kvm_lockstep asks
    kvm_usable() at start-up (a /dev/kvm that is not x86 KVM is refused)."""
    with tempfile.TemporaryDirectory() as empty:
        probe = subprocess.run([str(build_dir / "fuzz/fuzz_kvm_lockstep"), "-runs=0", empty],
                               capture_output=True, text=True, timeout=120)
    if probe.returncode == 0:
        return ""
    reasons = [line for line in probe.stderr.splitlines() if "KVM cannot be used here" in line]
    return reasons[0] if reasons else f"fuzz_kvm_lockstep exits with status {probe.returncode}"


def main(argv) -> int:
    args = parse_arguments(argv)
    started = time.monotonic()
    info = project.Project()
    files = args.files or info.dut_files
    say(f"finding mutation points in {len(files)} files (libclang)")
    found = finding.Finder(ROOT, info).find(info.dut_files)
    unnestable = schemata.unnestable(found)
    if unnestable:
        say(f"left out {len(unnestable)} points that overlap others without nesting")
        found = [p for p in found if p not in unnestable]
    # Semantic points only where they are judged: each file of them costs a
    # compile check, and the others' would only grow the build.
    found = [p for p in found if semantic.family(p.operator) == "token" or p.file in files]
    refused = refused_by_the_compiler(found, info, args.jobs)
    if refused:
        say(f"dropped {len(refused)} semantic points the compiler refuses: " +
            "; ".join(f"{p.file}:{p.line} {p.operator} '{report.one_line(p.original)}'" for p in refused[:5]))
        found = [p for p in found if p not in refused]
    # The named mutants are in every tree, so one build serves both kinds of
    # run. They come first among points of the same range: the outer ones,
    # whose hole holds the syntax-tree points of the text they replace.
    named_points = named.every_point(ROOT, info.planted_bugs)
    all_points = sorted(found + named_points, key=lambda p: (p.file, p.start, -p.end, p not in named_points))
    # The syntax tree's own crossings are gone: any left is a named mutant's.
    crossing = schemata.unnestable(all_points)
    if crossing:
        raise SystemExit(f"mutate: {crossing[0].file}:{crossing[0].line}: '{crossing[0].original}' and a named mutant "
                         "overlap without nesting: a named mutant's 'replace' text must be a whole expression")
    schemata.assign_ids(all_points)
    selected = [p for p in (named_points if args.named else found) if p.file in files]
    if args.family:
        selected = [p for p in selected if semantic.family(p.operator) == args.family]
    if args.since:
        lines = changed_lines(args.since, files)
        selected = [p for p in selected if any(n in lines.get(p.file, ()) for n in range(p.line, p.end_line + 1))]
        say(f"--since {args.since}: {sum(len(v) for v in lines.values())} changed lines, "
            f"{len(selected)} points on them")
    mutants = [(p, p.first_id + k, k) for p in selected for k in range(len(p.variants))]
    if args.again:
        unkilled = report.unkilled_in(Path(args.again))
        mutants = [m for m in mutants if report.identity(m[0], m[2]) in unkilled]
        say(f"--again {args.again}: {len(mutants)} mutants it did not kill")
    if args.list:
        for point, mutant_id, k in mutants:
            print(f"{mutant_id}\t{point.file}:{point.line}\t{point.operator}\t{point.original!r} -> {point.variants[k]!r}")
        return 0
    out = Path(args.out or ROOT / "findings" / f"mutate-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    out.mkdir(parents=True, exist_ok=True)
    reviewed = equivalents.load(ROOT / "mutate/equivalent.tsv")
    if not mutants:
        report.write(out, [], {}, [], time.monotonic() - started, args)
        say("no mutation point on the changed lines: nothing to do")
        return 0

    scratch = ROOT / "build/mutate"
    scratch.mkdir(parents=True, exist_ok=True)
    with_proofs = any(p.file.startswith("core/decision/") for p in selected)
    say(f"{len(mutants)} mutants at {len(selected)} points; building them into one tree (schemata) in {scratch}")
    source = mirror(all_points, scratch, args.weaken)
    build_dir = scratch / ("build-weakened" if args.weaken else "build")
    build(source, build_dir, info, with_proofs, out / "build.log")
    kvm_reason = kvm_unusable_reason(build_dir)
    with_kvm = not kvm_reason
    killer_list = killing.make_killers(ROOT, build_dir, info, args.fuzz_runs, with_proofs, with_kvm)
    say("running every check once with no mutant (must pass; records what each reaches)")
    killing.baseline(killer_list, scratch)
    if not with_kvm:
        say(f"KVM lockstep: not run ({kvm_reason}); the shadow KVM's mutants are judged by the other checks")

    verdicts = {}
    say(f"judging {len(mutants)} mutants, {args.jobs} at a time")
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {}
        for point, mutant_id, k in mutants:
            reason = reviewed.get(point.key(k))
            if reason is not None:
                verdicts[mutant_id] = killing.Verdict("equivalent", reason=reason)
                continue
            futures[pool.submit(killing.judge, point, mutant_id, killer_list)] = mutant_id
        for done_count, future in enumerate(concurrent.futures.as_completed(futures), start=1):
            verdicts[futures[future]] = future.result()
            if done_count % 50 == 0 or done_count == len(futures):
                say(progress(verdicts, done_count, len(futures), started))
    survivors = report.scenarios_for_survivors(mutants, verdicts, killer_list, ROOT, build_dir, out)
    summary = report.write(out, mutants, verdicts, killer_list, time.monotonic() - started, args, survivors)
    print(summary)
    say(f"report: {out / 'report.md'}")
    unexplained = [m for m in mutants if verdicts[m[1]].status in ("survived", "not reached")]
    return 1 if unexplained else 0


def refused_by_the_compiler(found, info, jobs) -> list:
    """The semantic points whose rewritten file does not compile (compile_check.py)."""
    by_file = {}
    for point in found:
        by_file.setdefault(point.file, []).append(point)
    checks = {file: [p for p in points if semantic.family(p.operator) == "semantic"] for file, points in by_file.items()}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        refused = pool.map(lambda file: compile_check.refused(ROOT, info, file, by_file[file], checks[file]),
                           [f for f in checks if checks[f]])
    return [p for points in refused for p in points]


def progress(verdicts, done, total, started) -> str:
    killed = sum(v.status == "killed" for v in verdicts.values())
    return f"{done}/{total} judged, {killed} killed, {time.monotonic() - started:.0f} s"


def say(message: str) -> None:
    print(f"[mutate {datetime.datetime.now():%H:%M:%S}] {message}", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
