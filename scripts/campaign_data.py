"""The data work of scripts/campaign: the engines' figures, the history, crash
deduplication, the resumable state and report.md. scripts/campaign starts,
watches and stops the processes; everything it reads or writes goes through
here, so tests/campaign/campaign_data_test.py can check it without fuzzing.

The files of a campaign directory (all tab-separated, one row per line):
  campaign.state     JSON: elapsed_before (campaign seconds fuzzed so far),
                     sessions, previous_jobs; what --resume continues
  sessions.tsv       session, started (UTC), at campaign second, asked for, cores, processes
  history.tsv        campaign second, target, execs, AFL++ edges, libFuzzer cov,
                     AFL++ corpus, libFuzzer corpus, crash files (a sample every 10 s)
  intervals.tsv      session, interval, ended at (s), ended (UTC), target, execs,
                     exec/s, edges AFL++, cov libFuzzer, corpus/<target>/ files,
                     core/ coverage, distinct crashes
  crashes/index.tsv  key (target: first problem, numbers masked), kept file,
                     first found (campaign s), first found (UTC), files, first problem
  crashes/seen-files every crash file already triaged, one path a line
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

SAMPLE_SECONDS = 10
_DURATION = re.compile(r"([0-9]+)([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds_of(text: str) -> int | None:
    """A duration (N, Ns, Nm, Nh, Nd) in seconds; None when it is not one."""
    match = _DURATION.fullmatch(text)
    return int(match[1]) * _UNIT_SECONDS[match[2]] if match else None


def utc(seconds: float, layout: str = "%Y-%m-%d %H:%M:%S") -> str:
    return time.strftime(layout, time.gmtime(seconds))


def per_second(delta: int, seconds: int) -> int:
    """delta / seconds, truncated toward zero (a count can go back on a resume)."""
    return int(delta / seconds) if seconds > 0 else 0


def read_rows(path: Path) -> list[list[str]]:
    try:
        return [line.split("\t") for line in path.read_text().splitlines() if line]
    except FileNotFoundError:
        return []


def append_row(path: Path, *fields: object) -> None:
    with path.open("a") as out:
        out.write("\t".join(str(field) for field in fields) + "\n")


def count_files(*directories: Path) -> int:
    return sum(len(files) for directory in directories for _, _, files in os.walk(directory))


# --- Campaign state ---------------------------------------------------------


@dataclass
class State:
    elapsed_before: int = 0
    sessions: int = 0
    previous_jobs: int | None = None


def load_state(path: Path) -> State:
    """campaign.state: JSON, or the key=value lines the bash campaign wrote
    (read as data, never run), so its directories resume too."""
    if not path.exists():
        return State()
    text = path.read_text()
    try:
        values = json.loads(text)
    except json.JSONDecodeError:
        values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    try:
        jobs = values.get("previous_jobs")
        return State(int(values.get("elapsed_before", 0)), int(values.get("sessions", 0)),
                     int(jobs) if jobs is not None else None)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: not a campaign state ({error})") from None


def save_state(path: Path, state: State) -> None:
    """Written whole, then renamed: a campaign killed outright still resumes."""
    new = path.with_name(path.name + ".new")
    new.write_text(json.dumps(state.__dict__) + "\n")
    new.replace(path)


# --- The engines' figures ---------------------------------------------------


@dataclass
class AflFigures:
    execs: int = 0
    edges: int = 0
    corpus: int = 0
    crashes: int = 0


def _afl_figures(values: dict[str, str]) -> AflFigures:
    def number(name: str) -> int:
        try:
            return int(float(values.get(name, "0")))
        except ValueError:
            return 0
    return AflFigures(number("execs_done"), number("edges_found"), number("corpus_count"), number("saved_crashes"))


def afl_instance(sent: Path, stats: Path) -> AflFigures:
    """One AFL++ instance: the figures it last sent to scripts/afl-stats-collector
    ("name value" lines, every second), or its fuzzer_stats ("name : value",
    rewritten once a minute and when it stops) when that file is newer."""
    if sent.exists() and (not stats.exists() or sent.stat().st_mtime > stats.stat().st_mtime):
        return _afl_figures(dict(line.split(None, 1) for line in sent.read_text().splitlines() if len(line.split()) == 2))
    if stats.exists():
        pairs = (line.split(":", 1) for line in stats.read_text().splitlines() if ":" in line)
        return _afl_figures({name.strip(): value.strip() for name, value in pairs})
    return AflFigures()


_LIBFUZZER_FINAL = re.compile(r"stat::number_of_executed_units:\s*([0-9]+)")
_LIBFUZZER_REPORT = re.compile(r"#([0-9]+)")
_LIBFUZZER_COV = re.compile(r"cov: ([0-9]+)")


def libfuzzer_figures(logs: Iterable[Path]) -> tuple[int, int]:
    """(execs, cov) of a target's libFuzzer jobs over all sessions: the final
    stats of every finished run plus the last "#N" report of a run that has
    none yet (the running one); cov: the highest it reported."""
    done = cov = 0
    for log in logs:
        running = 0
        for line in log.read_text(errors="replace").splitlines():
            if (final := _LIBFUZZER_FINAL.match(line)):
                done += int(final[1])
                running = 0
            elif (report := _LIBFUZZER_REPORT.match(line)):
                running = int(report[1])
                if (found := _LIBFUZZER_COV.search(line)):
                    cov = max(cov, int(found[1]))
        done += running
    return done, cov


@dataclass
class Sample:
    """One history.tsv row."""
    time: int
    target: str
    execs: int
    afl_edges: int
    libfuzzer_cov: int
    afl_corpus: int
    libfuzzer_corpus: int
    crashes: int

    @classmethod
    def of_row(cls, row: list[str]) -> Sample:
        return cls(int(row[0]), row[1], *(int(field) for field in row[2:8]))


def take_sample(out: Path, target: str, now: int) -> Sample:
    """The target's figures now: AFL++ instances summed (execs, crashes) or at
    their best (edges, queue), libFuzzer's jobs together."""
    afl = [afl_instance(out / "afl-stats" / f"{target}-{instance.name}", instance / "fuzzer_stats")
           for instance in sorted((out / target / "afl").glob("*")) if instance.is_dir()]
    execs, cov = libfuzzer_figures(sorted((out / target / "libfuzzer").glob("log-*")))
    return Sample(now, target, execs + sum(a.execs for a in afl), max((a.edges for a in afl), default=0), cov,
                  max((a.corpus for a in afl), default=0), count_files(out / target / "libfuzzer" / "corpus"),
                  sum(a.crashes for a in afl) + count_files(out / target / "libfuzzer" / "crashes"))


def history(out: Path, target: str) -> list[Sample]:
    return [Sample.of_row(row) for row in read_rows(out / "history.tsv") if row[1] == target]


def progress_line(sample: Sample, rate: int) -> str:
    return (f"{sample.target:<9} execs {sample.execs:10d}  exec/s {rate:6d}  corpus AFL++ {sample.afl_corpus:5d} "
            f"libFuzzer {sample.libfuzzer_corpus:5d}  edges AFL++ {sample.afl_edges:5d} libFuzzer "
            f"{sample.libfuzzer_cov:5d}  crashes {sample.crashes}")


# --- Crashes ----------------------------------------------------------------


def mask_numbers(text: str) -> str:
    """The deduplication key of a problem: numbers (hex first) masked as N."""
    return re.sub(r"[0-9]+", "N", re.sub(r"0x[0-9a-fA-F]+", "N", text))


def crash_files(out: Path, target: str) -> list[Path]:
    """The target's crash files, oldest first: libFuzzer's crash-* and AFL++'s crashes/id:*."""
    found = [path for path in (out / target / "libfuzzer" / "crashes").rglob("crash-*") if path.is_file()]
    found += [path for path in (out / target / "afl").glob("*/crashes/id:*") if path.is_file()]
    return sorted(found, key=lambda path: (path.stat().st_mtime, str(path)))


@dataclass
class Crash:
    """One crashes/index.tsv row: a distinct first problem of a target."""
    key: str
    kept: str
    found_second: int
    found_utc: str
    files: int
    problem: str

    @property
    def target(self) -> str:
        return self.key.split(":", 1)[0]

    def row(self) -> list[object]:
        return [self.key, self.kept, self.found_second, self.found_utc, self.files, self.problem]


def load_crashes(out: Path) -> list[Crash]:
    return [Crash(row[0], row[1], int(row[2]), row[3], int(row[4]), row[5])
            for row in read_rows(out / "crashes" / "index.tsv")]


def save_crashes(out: Path, crashes: list[Crash]) -> None:
    new = out / "crashes" / "index.new"
    new.write_text("".join("\t".join(str(field) for field in crash.row()) + "\n" for crash in crashes))
    new.replace(out / "crashes" / "index.tsv")


@dataclass
class Session:
    """When the running session began (epoch seconds) and campaign seconds before it."""
    start: int
    elapsed_before: int


def dedup_crashes(out: Path, targets: list[str], session: Session,
                  triage: Callable[[str, list[Path]], list[tuple[str, str]]],
                  sanitizer_problem: Callable[[str, str], str],
                  say: Callable[[str], None]) -> list[Crash]:
    """Triages every crash file not seen before and keeps one per key in
    crashes/, with when it was first found; a key seen before counts the file.
    triage(target, files) gives (file, first problem) per file the checks
    triaged ("no problem" when they see none); sanitizer_problem(target, file)
    is the libFuzzer build's word on such a file."""
    crashes = load_crashes(out)
    by_key = {crash.key: crash for crash in crashes}
    seen_path = out / "crashes" / "seen-files"
    seen = set(seen_path.read_text().splitlines()) if seen_path.exists() else set()
    for target in targets:
        new = [path for path in crash_files(out, target) if str(path) not in seen]
        triaged = triage(target, new) if new else []
        with seen_path.open("a") as record:
            record.writelines(f"{file}\n" for file, _ in triaged)
        seen.update(file for file, _ in triaged)
        for file, problem in triaged:
            if problem == "no problem":
                problem = sanitizer_problem(target, file)
            key = f"{target}: {mask_numbers(problem)}"
            if key in by_key:
                by_key[key].files += 1
                continue
            kept = out / "crashes" / f"{target}-{len(crashes) + 1}"
            shutil.copyfile(file, kept)
            # Found in this session, else at the latest when it began.
            found_at = max(int(os.stat(file).st_mtime), session.start)
            crash = Crash(key, str(kept), session.elapsed_before + found_at - session.start, utc(found_at), 1, problem)
            crashes.append(crash)
            by_key[key] = crash
            say(f"new crash: {key} (kept as {kept})")
    save_crashes(out, crashes)
    return crashes


def parse_triage(text: str) -> list[tuple[str, str]]:
    """vmemcheck triage's lines: FILE<TAB>FIRST PROBLEM."""
    return [(file, problem) for file, _, problem in (line.partition("\t") for line in text.splitlines()) if file]


def first_sanitizer_problem(output: str) -> str:
    """A libFuzzer run's first SUMMARY: or libFuzzer error line."""
    for line in output.splitlines():
        if line.startswith("SUMMARY:") or "ERROR: libFuzzer" in line:
            return line
    return "does not reproduce"


# --- Coverage ---------------------------------------------------------------


def _total(report: Path) -> list[str] | None:
    try:
        lines = report.read_text().splitlines()
    except FileNotFoundError:
        return None
    return next((line.split() for line in lines if line.startswith("TOTAL")), [])


def total_of(report: Path) -> str:
    """llvm-cov report's TOTAL: "lines L% (c/t), branches B% (c/t)"; "" without one."""
    fields = _total(report)
    if not fields or len(fields) < 13:
        return ""
    lines, missed_lines, branches, missed_branches = (int(fields[i]) for i in (7, 8, 10, 11))
    return (f"lines {fields[9]} ({lines - missed_lines}/{lines}), "
            f"branches {fields[12]} ({branches - missed_branches}/{branches})")


def dut_lines_of(report: Path) -> str | None:
    """The DUT report's "lines L% (c/t)"; None when it was not measured."""
    fields = _total(report)
    if fields is None:
        return None
    if len(fields) < 10:
        return ""
    lines, missed = int(fields[7]), int(fields[8])
    return f"lines {fields[9]} ({lines - missed}/{lines})"


def dut_coverage_section(coverage: Path) -> list[str]:
    """report.md's section on the device under test: total, per file, and
    every line not reached with its reason."""
    before = dut_lines_of(coverage / "before-dut-report.txt")
    report = coverage / "after-dut-report.txt"
    per_file = []
    rules = 0
    for line in (report.read_text().splitlines() if report.exists() else []):
        if line.startswith("-"):
            rules += 1
        elif rules == 1 and (fields := line.split()):
            per_file.append(f"| {fields[0]} | {_field(fields, 7)} | {_field(fields, 8)} | {_field(fields, 9)} |")
    missed = read_rows(coverage / "after-dut-missed.tsv")
    return [
        "## Coverage of the device under test", "",
        "The device (core/device), the decision templates (core/decision), the memslot budget",
        "(core/machine/machine.cpp), the KVM slot backend and the shadow KVM; not the oracle or the scenario code.", "",
        f"device under test: {dut_lines_of(report) or ''} (before the campaign: "
        f"{before if before is not None else 'not measured'})", "",
        "| file | lines | not reached | covered |",
        "|------|------:|------------:|--------:|",
        *per_file, "",
        f"DUT lines no input reached ({len(missed)}), with the reason reviewed in `fuzz/unreached-lines.tsv`:", "",
        *(f"- `{_field(row, 0)}:{_field(row, 1)}` `{_field(row, 2)}`: {_field(row, 3)}" for row in missed),
    ]


def _field(fields: list[str], index: int) -> str:
    return fields[index] if index < len(fields) else ""


# --- Intervals, plot, report ------------------------------------------------


def interval_rows(out: Path, targets: list[str], session: int, number: int, now: int, began: int,
                  corpus_files: Callable[[str], int]) -> list[list[object]]:
    """The intervals.tsv rows of an interval that ends now: per target its last
    sample, exec/s since the interval began, corpus/<target>/ after the merge,
    core/ line coverage and its distinct crashes."""
    covered = total_of(out / "coverage" / "after-report.txt").split(" (", 1)[0]
    crashes = load_crashes(out)
    rows = []
    for target in targets:
        samples = history(out, target)
        last = samples[-1]
        before = next((s.execs for s in reversed(samples) if s.time <= began), 0)
        rows.append([session, number, now, utc(time.time(), "%Y-%m-%d %H:%M"), target, last.execs,
                     per_second(last.execs - before, now - began if now > began else 1), last.afl_edges,
                     last.libfuzzer_cov, corpus_files(target), covered,
                     sum(1 for crash in crashes if crash.target == target)])
    return rows


def gnuplot_script(out: Path, targets: list[str]) -> str:
    """progress-over-time.svg: execs, edges and corpus per target over the
    campaign (plot/<target>.tsv, cut from history.tsv), sessions marked."""
    plot = out / "plot"
    for target in targets:
        (plot / f"{target}.tsv").write_text(
            "".join("\t".join(row) + "\n" for row in read_rows(out / "history.tsv") if row[1] == target))
    data = {target: f"'{plot / target}.tsv'" for target in targets}
    execs = ",".join(f"{data[t]} using 1:3 with lines title '{t}'" for t in targets)
    edges = ",".join(f"{data[t]} using 1:4 with lines title '{t} AFL++ edges',"
                     f"{data[t]} using 1:5 with lines title '{t} libFuzzer cov'" for t in targets)
    corpus = ",".join(f"{data[t]} using 1:6 with lines title '{t} AFL++ queue',"
                      f"{data[t]} using 1:7 with lines title '{t} libFuzzer corpus'" for t in targets)
    return "\n".join([
        "set terminal svg size 1500,450 dynamic font 'sans,11'",
        f"set output '{out}/progress-over-time.svg'",
        "set multiplot layout 1,3 title 'campaign progress (x: fuzzing seconds over all sessions; "
        "dashed lines: a session starts)'",
        "set xlabel 's'; set key below; set grid; set datafile separator tab",
        *(f'set arrow from {row[2]}, graph 0 to {row[2]}, graph 1 nohead dt 2 lc rgb "gray"'
          for row in read_rows(out / "sessions.tsv")),
        f"set title 'total execs'; set ylabel 'execs'; plot {execs}",
        f"set title 'coverage'; set ylabel 'edges'; plot {edges}",
        f"set title 'corpus'; set ylabel 'inputs'; plot {corpus}",
        "unset multiplot",
    ]) + "\n"


def report(out: Path) -> str:
    """report.md: the sessions, every interval, the plot, coverage of core/
    and of the device under test, and the distinct crashes by when found."""
    sessions = read_rows(out / "sessions.tsv")
    intervals = read_rows(out / "intervals.tsv")
    crashes = load_crashes(out)
    # fuzzed: up to the session's last interval (a stopped session ends early).
    ends: dict[str, int] = {}
    for row in intervals:
        ends[row[0]] = max(ends.get(row[0], 0), int(row[2]))
    lines = [
        "# vmemcheck fuzzing campaign", "",
        f"Output: `{out}`. {len(sessions)} session(s), {intervals[-1][2] if intervals else 0} s of",
        "fuzzing in all. Per target: AFL++ main (-M) and cmplog secondary (-S, -c; no sanitizers, persistent",
        "mode) syncing through one directory, and libFuzzer (ASan+UBSan); more of both when there are",
        f"more cores. Resume with `scripts/campaign --resume {out} [SECONDS]`.", "",
        "## Sessions", "",
        "| session | started (UTC) | at campaign second | asked for | fuzzed (s) | cores | processes |",
        "|--------:|---------------|-------------------:|----------|-----------:|------:|----------:|",
        *(f"| {s[0]} | {s[1]} | {s[2]} | {s[3]} | {ends[s[0]] - int(s[2]) if s[0] in ends else '-'} | {s[4]} | {s[5]} |"
          for s in sessions), "",
        "## Every interval", "",
        "Totals at the interval's end (execs: AFL++ instances and libFuzzer jobs together; exec/s: over the interval;",
        "edges: AFL++'s edges_found / libFuzzer's cov; corpus: corpus/<target>/ after the merge).", "",
        "| session | interval | ended at (s) | ended (UTC) | target | execs | exec/s | edges AFL++ / libFuzzer "
        "| corpus/<target>/ | core/ coverage | distinct crashes |",
        "|--:|--:|--:|---|---|--:|--:|---|--:|---|--:|",
        *("| {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {} |".format(*row) for row in intervals), "",
        f"Execs, coverage edges and corpus over the whole campaign, sampled every {SAMPLE_SECONDS} s:",
        "`progress-over-time.svg` (data: `history.tsv`).", "",
        "![progress over time](progress-over-time.svg)", "",
        "## Coverage of core/ (llvm-cov, replaying corpus/<target>/ of all targets)", "",
        f"- before the campaign: {total_of(out / 'coverage' / 'before-report.txt')}",
        f"- after the last merge: {total_of(out / 'coverage' / 'after-report.txt')}", "",
        f"Per file: `{out}/coverage/after-report.txt`; annotated source: `{out}/coverage/html/index.html`.", "",
        *dut_coverage_section(out / "coverage"), "",
        "## Crashes", "",
    ]
    if not crashes:
        lines.append("None.")
    else:
        seen = len((out / "crashes" / "seen-files").read_text().splitlines())
        lines += [
            f"{seen} crash files, {len(crashes)} distinct (kept in `{out}/crashes/`), by when each was first found:", "",
            "| target | first problem | first found (campaign s, UTC) | files | replay, then minimize into a regression |",
            "|--------|---------------|------------------------------|------:|--------|",
        ]
        for crash in sorted(crashes, key=lambda c: (c.found_second, "\t".join(map(str, c.row())))):
            problem = crash.problem.replace("|", "\\|")
            lines.append(f"| {crash.target} | `{problem}` | {crash.found_second} s, {crash.found_utc} | {crash.files} "
                         f"| `vmemcheck replay --target {crash.target} {crash.kept}`, "
                         f"`vmemcheck minimize --target {crash.target} {crash.kept}` |")
    return "\n".join(lines) + "\n"
