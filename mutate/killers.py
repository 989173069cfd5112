"""The checks that kill mutants, cheapest first.

A killer is a list of commands run with VMEMCHECK_MUTANT=<id>; the mutant is
killed when one fails (non-zero exit, a crash, or a timeout: a mutant that
hangs is caught too). Each killer first runs once with no mutant: it must
pass, its time sets its timeouts, and the points it reaches
(VMEMCHECK_MUTANT_REACHED) say which mutants it can kill at all.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

FUZZ_TARGETS = ("ops", "virtqueue", "layout")
# The unit tests of the device under test's folders (tests/core/<role>/).
UNIT_TESTS = ("decision_test", "block_bitmap_test", "device_test", "device_config_test", "memslot_policy_test", "virtqueue_test",
              "wire_test", "kvm_slot_backend_test", "shadow_kvm_test", "fault_injection_test", "machine_test")
# A tenth of the property test's own run (10^5 operations instead of 10^6):
# under libFuzzer's coverage hooks the whole run takes 9 s per mutant.
PROPERTY_SCENARIOS = 500
# proofs/main.cpp's proofs, the quickest first.
PROOFS = ("request", "budget", "layout", "usable", "index", "activation")


@dataclasses.dataclass
class Command:
    name: str           # e.g. "fuzz_ops corpus/ops"
    argv: list
    baseline_seconds: float = 0.0
    reached: frozenset = frozenset()
    # Its work happens in children that leave with _exit (the proofs), so no
    # reach is recorded: it is taken to reach every point of its killer's files.
    assume_reached: bool = False
    env: dict = dataclasses.field(default_factory=dict)
    corpus_target: str = ""  # replays corpus/<target> (report.py turns a reaching input into a scenario)

    def reaches(self, mutant_id) -> bool:
        return self.assume_reached or mutant_id in self.reached

    def timeout(self) -> float:
        return 10 * self.baseline_seconds + 5


@dataclasses.dataclass
class Killer:
    name: str
    commands: list
    only_files: tuple = ()  # kills only mutants of these files (empty: any)

    def may_kill(self, point, mutant_id) -> bool:
        if self.only_files and point.file not in self.only_files:
            return False
        return any(c.reaches(mutant_id) for c in self.commands)


def make_killers(root: Path, build: Path, fuzz_runs: int, with_proofs: bool, with_kvm: bool) -> list:
    tool = str(build / "tools/vmemcheck")
    fuzz = {t: str(build / f"fuzz/fuzz_{t}") for t in FUZZ_TARGETS}
    scenarios = sorted(str(p) for p in (root / "tests/scenarios").glob("*.vmem")) + \
        sorted(str(p) for p in (root / "corpus/regressions").iterdir() if p.is_file())
    killers = [
        Killer("corpus", [Command(f"vmemcheck run {Path(s).relative_to(root)}", [tool, "run", "-q", s]) for s in scenarios] +
               [Command(f"fuzz_{t} corpus/{t}", [fuzz[t], "-runs=0", str(root / "corpus" / t)], corpus_target=t)
                for t in FUZZ_TARGETS]),
        Killer("unit", [Command(name, [str(build / "tests/core" / name), "--gtest_brief=1"]) for name in UNIT_TESTS]),
        Killer("property", [Command(f"property_test ({PROPERTY_SCENARIOS} scenarios)",
                                    [str(build / "tests/property_test"), "--gtest_brief=1"],
                                    env={"VMEMCHECK_PROPERTY_SCENARIOS": str(PROPERTY_SCENARIOS)})]),
        # A few seconds: before the proofs, which take a minute.
        Killer("fuzz", [Command(f"fuzz_{t} from nothing", [fuzz[t], f"-runs={fuzz_runs}", "-seed=1", "."])
                        for t in FUZZ_TARGETS]),
    ]
    if with_proofs:
        # One proof at a time, so the first refuted claim ends the run.
        killers.append(Killer("proofs", [Command(f"vmemcheck_proofs {name}",
                                                 [str(build / "proofs/vmemcheck_proofs"), "--jobs", "1", name],
                                                 assume_reached=True) for name in PROOFS],
                              only_files=("core/decision/decision.hpp", "core/decision/steps.hpp")))
    if with_kvm:
        killers.append(Killer("kvm-lockstep", [Command("fuzz_kvm_lockstep corpus/ops",
                                                       [str(build / "fuzz/fuzz_kvm_lockstep"), "-runs=0", str(root / "corpus/ops")])],
                              only_files=("core/kvm/shadow_kvm.cpp", "core/kvm/kvm_slot_backend.cpp")))
    return killers


@dataclasses.dataclass
class Outcome:
    failed: bool
    seconds: float
    reason: str  # the first problem it printed, or "timeout", or ""


def run(command: Command, mutant_id: int, reached_dir: str | None = None, timeout: float | None = None) -> Outcome:
    env = dict(os.environ, VMEMCHECK_MUTANT=str(mutant_id), **command.env)
    env.pop("VMEMCHECK_MUTANT_REACHED", None)
    if reached_dir:
        env["VMEMCHECK_MUTANT_REACHED"] = reached_dir
    # Its own empty directory: a fuzz from nothing starts there, and libFuzzer
    # writes its crash files there, not into the repository.
    workdir = tempfile.mkdtemp(prefix="vmemcheck-mutant-")
    started = time.monotonic()
    try:
        done = subprocess.run(command.argv, env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout, start_new_session=True)
        seconds = time.monotonic() - started
        return Outcome(done.returncode != 0, seconds, first_problem(done.stdout) if done.returncode else "")
    except subprocess.TimeoutExpired:
        return Outcome(True, time.monotonic() - started, f"timeout after {timeout:.0f} s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def first_problem(output: bytes) -> str:
    """The line that says what failed, for the report."""
    lines = output.decode(errors="replace").splitlines()
    for marker in ("problem:", "mismatch", "invariant", "refuted", "Failure", "ERROR: ", "==ERROR", "error:",
                   "Assertion", "FAILED"):
        for line in lines:
            if marker in line:
                return line.strip()[:200]
    return (lines[-1].strip() if lines else "exit status non-zero")[:200]


def baseline(killers, scratch: Path) -> None:
    """Runs every command with no mutant: it must pass; records time and reach."""
    for killer in killers:
        for command in killer.commands:
            reached_dir = tempfile.mkdtemp(prefix="reached-", dir=scratch)
            outcome = run(command, 0, reached_dir, timeout=600)
            if outcome.failed:
                raise SystemExit(f"mutate: '{command.name}' fails with no mutant switched on ({outcome.reason}); "
                                 "the checks must pass on the device as written first")
            command.baseline_seconds = outcome.seconds
            reached = set()
            for trace in Path(reached_dir).glob("reached-*"):
                reached.update(int(line) for line in trace.read_text().split())
            command.reached = frozenset(reached)


@dataclasses.dataclass
class Verdict:
    status: str            # killed, survived, not reached, equivalent
    killer: str = ""
    command: str = ""
    seconds: float = 0.0   # from the first check to the kill
    reason: str = ""


def judge(point, mutant_id, killers) -> Verdict:
    started = time.monotonic()
    tried = False
    for killer in killers:
        if not killer.may_kill(point, mutant_id):
            continue
        for command in killer.commands:
            if not command.reaches(mutant_id):
                continue
            tried = True
            outcome = run(command, mutant_id, timeout=command.timeout())
            if outcome.failed:
                return Verdict("killed", killer.name, command.name, time.monotonic() - started, outcome.reason)
    return Verdict("survived" if tried else "not reached", seconds=time.monotonic() - started)
