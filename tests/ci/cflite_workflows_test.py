#!/usr/bin/env python3
"""The ClusterFuzzLite workflows (.github/workflows/cflite_*.yml) parse, and
follow ClusterFuzzLite's documented layout: PR fuzzing in code-change mode,
continuous builds on pushes to main, batch fuzzing on a schedule, pruning and
coverage on a cron schedule; every job builds with build_fuzzers and runs with
run_fuzzers of google/clusterfuzzlite/actions, C++ as the language.
GitHub cannot run here, so this is what can be checked without it.
    cflite_workflows_test.py WORKFLOW_DIR"""
import sys
from pathlib import Path

import yaml

BUILD = "google/clusterfuzzlite/actions/build_fuzzers@v1"
RUN = "google/clusterfuzzlite/actions/run_fuzzers@v1"
# file -> (the events that start it, the run_fuzzers modes its jobs use)
EXPECTED = {
    "cflite_pr.yml": ({"pull_request"}, {"code-change"}),
    "cflite_build.yml": ({"push"}, set()),
    "cflite_batch.yml": ({"schedule", "workflow_dispatch"}, {"batch"}),
    "cflite_cron.yml": ({"schedule", "workflow_dispatch"}, {"prune", "coverage"}),
}


def check(path: Path) -> list[str]:
    problems = []
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key "on" as the boolean true.
    events = workflow.get("on", workflow.get(True))
    want_events, want_modes = EXPECTED[path.name]
    if not isinstance(events, dict) or set(events) != want_events:
        problems.append(f"{path.name}: starts on {events!r}, expected {sorted(want_events)}")
    if "schedule" in want_events and not all("cron" in entry for entry in events.get("schedule", [])):
        problems.append(f"{path.name}: a schedule entry without cron")
    if workflow.get("permissions") != "read-all":
        problems.append(f"{path.name}: permissions must be read-all")
    modes = set()
    for job_name, job in workflow.get("jobs", {}).items():
        steps = job.get("steps", [])
        uses = [step.get("uses") for step in steps]
        if BUILD not in uses:
            problems.append(f"{path.name}: job {job_name} does not build with {BUILD}")
            continue
        build = steps[uses.index(BUILD)].get("with", {})
        if build.get("language") != "c++":
            problems.append(f"{path.name}: job {job_name} builds language {build.get('language')!r}, not c++")
        if RUN in uses:
            run = steps[uses.index(RUN)].get("with", {})
            modes.add(run.get("mode"))
            if not isinstance(run.get("fuzz-seconds"), int) or run["fuzz-seconds"] <= 0:
                problems.append(f"{path.name}: job {job_name} has no positive fuzz-seconds")
            # The run must use the sanitizer the build used.
            if run.get("sanitizer", "address") != build.get("sanitizer", "address"):
                problems.append(f"{path.name}: job {job_name} runs sanitizer {run.get('sanitizer')!r} "
                                f"on a {build.get('sanitizer')!r} build")
    if modes != want_modes:
        problems.append(f"{path.name}: run_fuzzers modes {sorted(m for m in modes if m)}, expected {sorted(want_modes)}")
    return problems


def main() -> int:
    directory = Path(sys.argv[1])
    found = {path.name for path in directory.glob("cflite_*.yml")}
    problems = [f"missing {name}" for name in sorted(set(EXPECTED) - found)]
    problems += [f"{name}: not a ClusterFuzzLite workflow this test knows" for name in sorted(found - set(EXPECTED))]
    for name in sorted(found & set(EXPECTED)):
        try:
            problems += check(directory / name)
        except yaml.YAMLError as error:
            problems.append(f"{name}: does not parse: {error}")
    for problem in problems:
        print(problem)
    print(f"{len(found)} workflows, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
