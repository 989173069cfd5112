"""scripts/campaign_data.py (and scripts/campaign's plan): the engines' figures,
crash deduplication across sessions, the resumable state and report.md, on
campaign directories made here, without fuzzing."""

import importlib.machinery
import importlib.util
import os
import sys
import tempfile
import unittest
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))
import campaign_data as data  # noqa: E402


def load_campaign_script():
    loader = importlib.machinery.SourceFileLoader("campaign_script", str(SCRIPTS / "campaign"))
    spec = importlib.util.spec_from_loader("campaign_script", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["campaign_script"] = module  # dataclasses look their module up
    loader.exec_module(module)
    return module


def write(path: Path, text: str, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


# llvm-cov report's layout: Filename, then regions, functions, lines, branches
# (count, missed, cover each).
COVERAGE_REPORT = """Filename  Regions Missed Cover Functions Missed Executed Lines Missed Cover Branches Missed Cover
---------------------------------------------------------------------------------------------------
device/device.cpp  100 10 90.00% 20 1 95.00% 261 5 98.08% 80 8 90.00%
device/wire.cpp  50 5 90.00% 10 0 100.00% 58 4 93.10% 20 2 90.00%
---------------------------------------------------------------------------------------------------
TOTAL  150 15 90.00% 30 1 96.67% 319 9 97.18% 100 10 90.00%
"""


class CampaignDirectory(unittest.TestCase):
    def setUp(self):
        self.temp = tempfile.TemporaryDirectory()
        self.out = Path(self.temp.name)
        for directory in ("crashes", "plot", "coverage"):
            (self.out / directory).mkdir()
        for name in ("history.tsv", "intervals.tsv", "crashes/index.tsv", "crashes/seen-files"):
            (self.out / name).touch()

    def tearDown(self):
        self.temp.cleanup()


class Durations(unittest.TestCase):
    def test_units(self):
        self.assertEqual(data.seconds_of("120"), 120)
        self.assertEqual(data.seconds_of("45s"), 45)
        self.assertEqual(data.seconds_of("30m"), 1800)
        self.assertEqual(data.seconds_of("8h"), 28800)
        self.assertEqual(data.seconds_of("2d"), 172800)
        self.assertEqual(data.seconds_of("08"), 8)

    def test_not_durations(self):
        for text in ("", "2x", "m5", "5mm", "5m1", "-5", "1.5h", "h"):
            self.assertIsNone(data.seconds_of(text), text)

    def test_rate_truncates_toward_zero(self):
        self.assertEqual(data.per_second(25, 10), 2)
        self.assertEqual(data.per_second(-25, 10), -2)
        self.assertEqual(data.per_second(25, 0), 0)


class Resume(CampaignDirectory):
    def test_state_round_trip(self):
        path = self.out / "campaign.state"
        data.save_state(path, data.State(130, 2, 1))
        self.assertEqual(data.load_state(path), data.State(130, 2, 1))
        self.assertFalse(path.with_name("campaign.state.new").exists())

    def test_no_state_is_a_new_campaign(self):
        self.assertEqual(data.load_state(self.out / "campaign.state"), data.State(0, 0, None))

    def test_bash_campaign_state_is_read_as_data(self):
        path = write(self.out / "campaign.state", "elapsed_before=600\nsessions=1\nprevious_jobs=2\n")
        self.assertEqual(data.load_state(path), data.State(600, 1, 2))

    def test_corrupt_state_is_an_error(self):
        path = write(self.out / "campaign.state", '{"elapsed_before": "soon"}')
        with self.assertRaisesRegex(ValueError, "not a campaign state"):
            data.load_state(path)


class AflFigures(CampaignDirectory):
    SENT = "execs_done 5000\nedges_found 300\ncorpus_count 40\nsaved_crashes 1\n"
    STATS = "execs_done        : 4000\nedges_found       : 290\ncorpus_count      : 38\nsaved_crashes     : 0\n"

    def test_newer_statsd_figures_win(self):
        stats = write(self.out / "fuzzer_stats", self.STATS, mtime=1000)
        sent = write(self.out / "sent", self.SENT, mtime=1001)
        self.assertEqual(data.afl_instance(sent, stats), data.AflFigures(5000, 300, 40, 1))

    def test_newer_fuzzer_stats_win(self):
        sent = write(self.out / "sent", self.SENT, mtime=1000)
        stats = write(self.out / "fuzzer_stats", self.STATS, mtime=1001)
        self.assertEqual(data.afl_instance(sent, stats), data.AflFigures(4000, 290, 38, 0))

    def test_float_figures_and_nothing_yet(self):
        sent = write(self.out / "sent", "execs_done 12.0\nedges_found 3\n")
        self.assertEqual(data.afl_instance(sent, self.out / "none"), data.AflFigures(12, 3, 0, 0))
        self.assertEqual(data.afl_instance(self.out / "none", self.out / "none2"), data.AflFigures())


class LibFuzzerFigures(CampaignDirectory):
    def test_finished_runs_and_the_running_one(self):
        finished = write(self.out / "log-1", "#2\tINITED cov: 100 ft: 200\n#1024\tpulse  cov: 150 ft: 300\n"
                                             "==1== ERROR: AddressSanitizer\nstat::number_of_executed_units: 1500\n"
                                             "#64\tpulse  cov: 120 ft: 210\n")
        running = write(self.out / "log-2", "#4096\tNEW    cov: 170 ft: 400 corp: 50\n#8192\tpulse  cov: 160\n")
        # 1500 final + 64 of a restarted run that has not finished, + 8192 running.
        self.assertEqual(data.libfuzzer_figures([finished, running]), (1500 + 64 + 8192, 170))

    def test_sample_sums_instances(self):
        afl = self.out / "ops" / "afl"
        write(afl / "main" / "fuzzer_stats", "execs_done : 100\nedges_found : 50\ncorpus_count : 7\nsaved_crashes : 1\n")
        write(afl / "cmplog" / "fuzzer_stats", "execs_done : 30\nedges_found : 60\ncorpus_count : 5\nsaved_crashes : 0\n")
        write(self.out / "ops" / "libfuzzer" / "log-1", "stat::number_of_executed_units: 1000\n#10 cov: 9\n")
        write(self.out / "ops" / "libfuzzer" / "corpus" / "a", "x")
        write(self.out / "ops" / "libfuzzer" / "crashes" / "crash-1", "x")
        sample = data.take_sample(self.out, "ops", 42)
        self.assertEqual(sample, data.Sample(42, "ops", 1000 + 10 + 130, 60, 9, 7, 1, 2))
        self.assertEqual(data.progress_line(sample, 3),
                         "ops       execs       1140  exec/s      3  corpus AFL++     7 libFuzzer     1  "
                         "edges AFL++    60 libFuzzer     9  crashes 2")


class Crashes(CampaignDirectory):
    def crash(self, target: str, name: str, mtime: float) -> Path:
        return write(self.out / target / "libfuzzer" / "crashes" / name, name, mtime)

    def test_masking(self):
        self.assertEqual(data.mask_numbers("plug at 0x1f000 of 12 blocks, slot 3"), "plug at N of N blocks, slot N")

    def test_triage_and_sanitizer_lines(self):
        self.assertEqual(data.parse_triage("a/crash-1\tno problem\nb/id:0\tinvariant 6: x\n"),
                         [("a/crash-1", "no problem"), ("b/id:0", "invariant 6: x")])
        self.assertEqual(data.first_sanitizer_problem("INFO: x\nSUMMARY: AddressSanitizer: heap-use-after-free\n"),
                         "SUMMARY: AddressSanitizer: heap-use-after-free")
        self.assertEqual(data.first_sanitizer_problem("INFO: Running 1 input\n"), "does not reproduce")

    def test_dedup_across_sessions(self):
        start = 1_000_000
        first = self.crash("ops", "crash-a", start + 30)
        second = self.crash("ops", "crash-b", start + 40)
        afl = write(self.out / "layout" / "afl" / "main" / "crashes" / "id:000000,sig:06", "c", start + 50)
        before = self.crash("ops", "crash-c", start - 500)
        write(self.out / "ops" / "afl" / "main" / "crashes" / "README.txt", "not a crash")
        problems = {str(first): "slot 3 overlaps slot 4", str(second): "slot 7 overlaps slot 9",
                    str(afl): "no problem", str(before): "bitmap word 2 differs"}
        triaged, said = [], []

        def triage(target, files):
            triaged.append((target, [f.name for f in files]))
            return [(str(f), problems[str(f)]) for f in files]

        def sanitizer(target, file):
            return f"SUMMARY: UndefinedBehaviorSanitizer: shift at 0x{len(file):x}"

        crashes = data.dedup_crashes(self.out, ["ops", "layout"], data.Session(start, 600), triage, sanitizer,
                                     said.append)
        self.assertEqual(triaged, [("ops", ["crash-c", "crash-a", "crash-b"]), ("layout", ["id:000000,sig:06"])])
        self.assertEqual([(c.key, c.files, c.found_second) for c in crashes], [
            ("ops: bitmap word N differs", 1, 600),   # found before this session: when it began
            ("ops: slot N overlaps slot N", 2, 630),
            ("layout: SUMMARY: UndefinedBehaviorSanitizer: shift at N", 1, 650)])
        self.assertEqual((self.out / "crashes" / "ops-2").read_text(), "crash-a")
        self.assertEqual(len(said), 3)

        # The next interval (or a resumed session): files seen before count once.
        third = self.crash("ops", "crash-d", start + 900)
        problems[str(third)] = "slot 1 overlaps slot 2"
        triaged.clear()
        crashes = data.dedup_crashes(self.out, ["ops", "layout"], data.Session(start + 800, 1300), triage, sanitizer,
                                     said.append)
        self.assertEqual(triaged, [("ops", ["crash-d"])])
        self.assertEqual([c.files for c in crashes], [1, 3, 1])
        self.assertEqual(data.load_crashes(self.out), crashes)
        self.assertEqual(len((self.out / "crashes" / "seen-files").read_text().splitlines()), 5)


class Report(CampaignDirectory):
    def test_coverage_totals(self):
        report = write(self.out / "coverage" / "after-report.txt", COVERAGE_REPORT)
        self.assertEqual(data.total_of(report), "lines 97.18% (310/319), branches 90.00% (90/100)")
        self.assertEqual(data.total_of(self.out / "missing"), "")
        self.assertEqual(data.dut_lines_of(report), "lines 97.18% (310/319)")
        self.assertIsNone(data.dut_lines_of(self.out / "missing"))

    def test_interval_rows(self):
        history = self.out / "history.tsv"
        for row in ((0, "ops", 0), (10, "ops", 100), (20, "ops", 400), (30, "ops", 1000)):
            data.append_row(history, row[0], row[1], row[2], 5, 6, 7, 8, 0)
        write(self.out / "coverage" / "after-report.txt", COVERAGE_REPORT)
        data.append_row(self.out / "crashes" / "index.tsv", "ops: x", "k", 3, "t", 1, "x")
        [row] = data.interval_rows(self.out, ["ops"], 2, 1, 30, 10, lambda target: 77)
        self.assertEqual(row[:4], [2, 1, 30, row[3]])
        # exec/s over the interval: (1000 - 100) / (30 - 10).
        self.assertEqual(row[4:], ["ops", 1000, 45, 5, 6, 77, "lines 97.18%", 1])

    def test_report(self):
        data.append_row(self.out / "sessions.tsv", 1, "2026-12-02 04:00:00", 0, "60", 1, 9)
        data.append_row(self.out / "sessions.tsv", 2, "2026-12-02 05:00:00", 61, "120", 2, 9)
        data.append_row(self.out / "sessions.tsv", 3, "2026-12-02 06:00:00", 181, "60", 2, 9)
        data.append_row(self.out / "intervals.tsv", 1, 1, 61, "2026-12-02 04:01", "ops", 10, 1, 5, 6, 7, "lines 9%", 0)
        data.append_row(self.out / "intervals.tsv", 2, 1, 181, "2026-12-02 05:02", "ops", 30, 1, 5, 6, 7, "lines 9%", 2)
        write(self.out / "coverage" / "after-report.txt", COVERAGE_REPORT)
        write(self.out / "coverage" / "after-dut-report.txt", COVERAGE_REPORT)
        write(self.out / "coverage" / "after-dut-missed.tsv", "core/device/wire.cpp\t12\treturn x;\tdefensive\n")
        data.append_row(self.out / "crashes" / "index.tsv", "ops: b|c", "/o/crashes/ops-1", 150, "u2", 2, "b|c 7")
        data.append_row(self.out / "crashes" / "index.tsv", "ops: a", "/o/crashes/ops-2", 70, "u1", 1, "a 1")
        write(self.out / "crashes" / "seen-files", "f1\nf2\nf3\n")
        text = data.report(self.out)
        self.assertIn(f"Output: `{self.out}`. 3 session(s), 181 s of\n", text)
        self.assertIn("| 1 | 2026-12-02 04:00:00 | 0 | 60 | 61 | 1 | 9 |\n"
                      "| 2 | 2026-12-02 05:00:00 | 61 | 120 | 120 | 2 | 9 |\n"
                      "| 3 | 2026-12-02 06:00:00 | 181 | 60 | - | 2 | 9 |\n", text)
        self.assertIn("| 2 | 1 | 181 | 2026-12-02 05:02 | ops | 30 | 1 | 5 / 6 | 7 | lines 9% | 2 |\n", text)
        self.assertIn("- before the campaign: \n- after the last merge: lines 97.18% (310/319), branches 90.00% (90/100)\n",
                      text)
        self.assertIn("device under test: lines 97.18% (310/319) (before the campaign: not measured)\n", text)
        self.assertIn("| device/device.cpp | 261 | 5 | 98.08% |\n| device/wire.cpp | 58 | 4 | 93.10% |\n\n", text)
        self.assertIn("DUT lines no input reached (1), with the reason reviewed in `fuzz/unreached-lines.tsv`:\n\n"
                      "- `core/device/wire.cpp:12` `return x;`: defensive\n", text)
        self.assertIn("3 crash files, 2 distinct (kept in", text)
        # By when each was first found; a | in a problem does not break the table.
        self.assertRegex(text, r"\| ops \| `a 1` \| 70 s, u1 \| 1 \|[^\n]*\n\| ops \| `b\\\|c 7` \| 150 s, u2 \| 2 \| "
                               r"`vmemcheck replay --target ops /o/crashes/ops-1`, "
                               r"`vmemcheck minimize --target ops /o/crashes/ops-1` \|\n")
        self.assertTrue(text.endswith("|\n"))

    def test_no_crashes(self):
        self.assertTrue(data.report(self.out).endswith("## Crashes\n\nNone.\n"))

    def test_plot_marks_sessions(self):
        data.append_row(self.out / "sessions.tsv", 1, "x", 0, "60", 1, 9)
        data.append_row(self.out / "sessions.tsv", 2, "y", 61, "60", 1, 9)
        data.append_row(self.out / "history.tsv", 10, "ops", 1, 2, 3, 4, 5, 0)
        data.append_row(self.out / "history.tsv", 10, "layout", 1, 2, 3, 4, 5, 0)
        script = data.gnuplot_script(self.out, ["ops", "layout"])
        self.assertIn('set arrow from 61, graph 0 to 61, graph 1 nohead dt 2 lc rgb "gray"\n', script)
        self.assertIn(f"plot '{self.out}/plot/ops.tsv' using 1:3 with lines title 'ops',"
                      f"'{self.out}/plot/layout.tsv' using 1:3 with lines title 'layout'\n", script)
        self.assertEqual((self.out / "plot" / "layout.tsv").read_text(), "10\tlayout\t1\t2\t3\t4\t5\t0\n")


class Plan(unittest.TestCase):
    campaign = load_campaign_script()

    def names(self, jobs):
        return [(i.target, i.engine, i.name) for i in self.campaign.plan(["ops", "virtqueue", "layout"], jobs, Path())]

    def test_nine_processes_always(self):
        self.assertEqual(self.names(1), self.names(9))
        self.assertEqual(self.names(1)[:4], [("ops", "afl", "main"), ("virtqueue", "afl", "main"),
                                             ("layout", "afl", "main"), ("ops", "libfuzzer", "1")])
        self.assertEqual(self.names(1)[-1], ("layout", "afl", "cmplog"))

    def test_more_cores_alternate_afl_and_libfuzzer(self):
        self.assertEqual(self.names(16)[9:], [("ops", "afl", "s2"), ("virtqueue", "afl", "s2"), ("layout", "afl", "s2"),
                                              ("ops", "libfuzzer", "2"), ("virtqueue", "libfuzzer", "2"),
                                              ("layout", "libfuzzer", "2"), ("ops", "afl", "s3")])

    def test_usage(self):
        options = self.campaign.parse_command_line(["--jobs=2", "--interval", "1h", "2d", "out"], [0, 1])
        self.assertEqual((options.jobs, options.interval, options.duration, str(options.out)), (2, 3600, 172800, "out"))
        options = self.campaign.parse_command_line(["--forever", "out"], [0])
        self.assertEqual((options.duration_text, options.interval, str(options.out)), ("forever", 3600, "out"))
        self.assertEqual(self.campaign.parse_command_line(["7200"], [0]).interval, 3600)
        self.assertEqual(self.campaign.parse_command_line(["90"], [0]).interval, 90)
        for args, message in ((["--jobs"], "--jobs needs a value"), (["-x"], "unknown option '-x'"),
                              (["1", "2", "3"], "too many arguments: 1 2 3")):
            with self.assertRaisesRegex(self.campaign.UsageError, message):
                self.campaign.parse_command_line(args, [0])


if __name__ == "__main__":
    unittest.main()
