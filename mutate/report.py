"""The report of a mutation run: report.md and mutants.tsv in the output
directory, and the summary printed at the end."""

from __future__ import annotations

import statistics
import subprocess
import tempfile
from pathlib import Path

import killers as killing
import semantic

STATUSES = ("killed", "equivalent", "survived", "not reached")


def scenarios_for_survivors(mutants, verdicts, killer_list, root: Path, build: Path, out: Path) -> dict:
    """For each survivor a corpus input reached: the first such input (found by
    halving the corpus, replayed with reach recording) as a .vmem scenario."""
    found = {}
    corpus_commands = {c.corpus_target: c for k in killer_list for c in k.commands if c.corpus_target}
    for point, mutant_id, _ in mutants:
        if verdicts[mutant_id].status != "survived":
            continue
        for target, command in corpus_commands.items():
            if mutant_id not in command.reached:
                continue
            inputs = sorted((root / "corpus" / target).iterdir())
            first = _first_reaching(command.argv[0], inputs, mutant_id, out)
            if first is None:
                continue
            scenario = out / "survivors" / f"mutant-{mutant_id}.vmem"
            scenario.parent.mkdir(exist_ok=True)
            subprocess.run([str(build / "tools/vmemcheck"), "convert", "--target", target, "-o", str(scenario),
                            str(first)], capture_output=True)
            if scenario.exists():
                found[mutant_id] = scenario
            break
    return found


def _first_reaching(fuzzer, inputs, mutant_id, out: Path):
    trace_root = out / "reach-search"
    while len(inputs) > 1:
        half = inputs[: len(inputs) // 2]
        inputs = half if _reaches(fuzzer, half, mutant_id, trace_root) else inputs[len(half):]
    return inputs[0] if inputs and _reaches(fuzzer, inputs, mutant_id, trace_root) else None


def _reaches(fuzzer, inputs, mutant_id, trace_root: Path) -> bool:
    trace_root.mkdir(exist_ok=True)
    directory = tempfile.mkdtemp(dir=trace_root)
    command = killing.Command("search", [fuzzer, "-runs=0", *map(str, inputs)])
    killing.run(command, 0, reached_dir=directory, timeout=120)
    return any(str(mutant_id) in p.read_text().split() for p in Path(directory).glob("reached-*"))


def write(out: Path, mutants, verdicts, killer_list, seconds, args, scenarios=None) -> str:
    scenarios = scenarios or {}
    rows = [(point, mutant_id, k, verdicts[mutant_id]) for point, mutant_id, k in mutants]
    _write_tsv(out / "mutants.tsv", rows)
    summary = _summary(rows, seconds, args)
    lines = ["# Mutation testing of the device under test", ""]
    lines += [f"Command: `scripts/mutate {' '.join(_argv(args))}`" if _argv(args) else "Command: `scripts/mutate`", ""]
    lines += ["```", summary, "```", ""]
    lines += _per_operator(rows)
    lines += _per_file(rows)
    lines += _per_killer(rows, killer_list)
    lines += _survivors(rows, scenarios)
    lines += ["## Every mutant", "", "`mutants.tsv`: id, file:line, operator, original, mutated, status, killer, "
              "check, seconds, reason.", ""]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return summary


def _argv(args):
    parts = ["--named"] if args.named else []
    if args.since:
        parts += ["--since", args.since]
    if args.files:
        parts += ["--files", *args.files]
    if args.weaken:
        parts += ["--weaken", args.weaken]
    if args.again:
        parts += ["--again", args.again]
    if args.family:
        parts += ["--family", args.family]
    return parts


def _score(rows):
    judged = [r for r in rows if r[3].status != "equivalent"]
    killed = sum(r[3].status == "killed" for r in judged)
    return killed, len(judged)


def _median_kill(rows):
    times = [r[3].seconds for r in rows if r[3].status == "killed"]
    return statistics.median(times) if times else 0.0


def _summary(rows, seconds, args) -> str:
    killed, judged = _score(rows)
    counts = {s: sum(r[3].status == s for r in rows) for s in STATUSES}
    score = f"{100 * killed / judged:.1f}%" if judged else "-"
    families = []
    for name in ("token", "semantic"):
        mine = [r for r in rows if semantic.family(r[0].operator) == name]
        if mine:
            family_killed, family_judged = _score(mine)
            families.append(f"{name}: {family_killed}/{family_judged} = "
                            f"{100 * family_killed / family_judged:.1f}%" if family_judged else f"{name}: -")
    return "\n".join([
        f"mutants: {len(rows)}  killed: {counts['killed']}  equivalent: {counts['equivalent']}  "
        f"survived: {counts['survived']}  not reached: {counts['not reached']}",
        f"score: {killed}/{judged} = {score} (killed out of all but the equivalent ones)",
        "per family: " + "; ".join(families),
        f"median time to kill: {_median_kill(rows):.2f} s; wall time: {seconds:.0f} s",
    ])


def _per_operator(rows):
    """Token and semantic operators apart: the checks were built against the first kind."""
    lines = ["## Per operator family and operator", "",
             "| family | operator | mutants | killed | equivalent | survived | not reached | score |",
             "|---|---|--:|--:|--:|--:|--:|--:|"]
    for name in ("token", "semantic"):
        family_rows = [r for r in rows if semantic.family(r[0].operator) == name]
        if not family_rows:
            continue
        operators = sorted({r[0].operator for r in family_rows})
        for operator, mine in [("(all)", family_rows)] + [(o, [r for r in family_rows if r[0].operator == o])
                                                           for o in operators]:
            lines.append(f"| {name} | {operator} | {_counted(mine)} |")
    return lines + [""]


def _counted(rows) -> str:
    """The cells mutants | killed | equivalent | survived | not reached | score."""
    killed, judged = _score(rows)
    count = {s: sum(r[3].status == s for r in rows) for s in STATUSES}
    score = f"{100 * killed / judged:.1f}%" if judged else "-"
    return " | ".join([str(len(rows)), *(str(count[s]) for s in STATUSES), score])


def _per_file(rows):
    lines = ["## Per file", "", "| file | mutants | killed | equivalent | survived | not reached | score | median time to kill |",
             "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for file in sorted({r[0].file for r in rows}):
        mine = [r for r in rows if r[0].file == file]
        lines.append(f"| {file} | {_counted(mine)} | {_median_kill(mine):.2f} s |")
    return lines + [""]


def _per_killer(rows, killer_list):
    lines = ["## Killers, cheapest first", "", "| killer | kills | median time to kill | its checks (time with no mutant) |",
             "|---|--:|--:|---|"]
    for killer in killer_list:
        mine = [r for r in rows if r[3].killer == killer.name]
        checks = ", ".join(f"{c.name} ({c.baseline_seconds:.2f} s)" for c in killer.commands[:4])
        if len(killer.commands) > 4:
            checks += f", and {len(killer.commands) - 4} more"
        lines.append(f"| {killer.name} | {len(mine)} | {_median_kill(mine):.2f} s | {checks} |")
    return lines + [""]


def _survivors(rows, scenarios):
    alive = [r for r in rows if r[3].status in ("survived", "not reached")]
    lines = ["## Survivors", ""]
    if not alive:
        return lines + ["None: every mutant was killed or is listed in mutate/equivalent.tsv.", ""]
    lines += ["Each: kill it with a new check, or list it in `mutate/equivalent.tsv` with its key and the reason "
              "it cannot change behaviour.", ""]
    for point, mutant_id, k, verdict in alive:
        where = "no check reaches this line" if verdict.status == "not reached" else "reached, but no check failed"
        lines.append(f"- **{point.file}:{point.line}** ({point.function}, {point.operator}, mutant {mutant_id}): {where}")
        lines.append(f"  - `{one_line(point.original)}` -> `{one_line(point.variants[k])}`")
        if mutant_id in scenarios:
            lines.append(f"  - a corpus input that reaches it: `{scenarios[mutant_id]}` "
                         f"(`VMEMCHECK_MUTANT={mutant_id} build/mutate/build/tools/vmemcheck run {scenarios[mutant_id]}`)")
        lines.append(f"  - key: `{point.key(k)}`")
    return lines + [""]


def one_line(text):
    flat = " ".join(text.split())
    return flat if len(flat) <= 100 else flat[:97] + "..."


def identity(point, variant: int):
    """A mutant as mutants.tsv names it apart from its id and line: ids and
    lines move when the code above changes."""
    return point.file, point.operator, one_line(point.original), one_line(point.variants[variant])


def unkilled_in(tsv: Path) -> set:
    """The identities of the mutants an earlier run's mutants.tsv did not kill."""
    unkilled = set()
    with open(tsv) as rows:
        for row in rows.read().splitlines()[1:]:
            field = row.split("\t")
            if field[5] not in ("killed", "equivalent"):
                unkilled.add((field[1].rsplit(":", 1)[0], field[2], field[3], field[4]))
    return unkilled


def _write_tsv(path: Path, rows):
    with open(path, "w") as out:
        out.write("id\tplace\toperator\toriginal\tmutated\tstatus\tkiller\tcheck\tseconds\treason\n")
        for point, mutant_id, k, v in rows:
            out.write("\t".join([str(mutant_id), f"{point.file}:{point.line}", point.operator, one_line(point.original),
                                 one_line(point.variants[k]), v.status, v.killer, v.command, f"{v.seconds:.2f}",
                                 one_line(v.reason)]) + "\n")
