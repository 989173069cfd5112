"""scripts/mutate's own checks: the points it finds in the device, and that
the schemata switch exactly one mutant on (ctest mutate.*)."""

import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "mutate"))

import points  # noqa: E402
import schemata  # noqa: E402


class PointsInTheDevice(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.found = points.Finder(ROOT).find(["core/device/device.cpp", "core/device/block_bitmap.cpp"])

    def find(self, operator, original, function):
        return [p for p in self.found if p.operator == operator and p.original == original and p.function == function]

    def test_the_plug_limit_is_flipped(self):
        [flip] = self.find("relational flip", "plugged_size() + size > requested_", "plug")
        self.assertEqual(flip.variants, ["plugged_size() + size >= requested_"])

    def test_a_discard_whose_result_is_used_is_dropped(self):
        [drop] = self.find("call dropped", "backend_.discard(handle_, offset, size)", "unplug")
        self.assertEqual(drop.variants, ["ok_status()"])

    def test_a_response_is_swapped_for_each_other_one(self):
        swaps = self.find("response/state swapped", "ResponseType::Nack", "plug")
        self.assertEqual(len(swaps), 1)
        self.assertEqual(swaps[0].variants, ["ResponseType::Ack", "ResponseType::Busy", "ResponseType::Error"])

    def test_nothing_in_a_planted_bug_or_a_macro(self):
        # `if constexpr (kPlantedBug == ...)` branches are compiled away; assert() is a macro.
        self.assertFalse([p for p in self.found if "kPlantedBug" in p.original or "assert" in p.original])
        self.assertFalse(self.find("relational flip", "plugged_size() + size >= requested_", "plug"))

    def test_a_return_at_the_end_of_a_function_stays(self):
        returns = [p for p in self.found if p.operator == "early return removed" and p.function == "plug"]
        self.assertTrue(returns)
        self.assertNotIn("return {ResponseType::Ack};", [p.original for p in returns])


class Schemata(unittest.TestCase):
    def test_each_mutant_and_only_it_is_switched_on(self):
        fixture = "tests/mutate/fixture.cpp"
        found = points.Finder(ROOT).find([fixture])
        count = schemata.assign_ids(found)
        self.assertGreaterEqual(count, 15)
        self.assertEqual(schemata.unnestable(found), [])
        with tempfile.TemporaryDirectory() as scratch:
            source = Path(scratch) / "fixture.cpp"
            source.write_text(schemata.rewrite((ROOT / fixture).read_bytes(), found))
            original = self.compile_and_run(ROOT / fixture, scratch, "original")
            binary = self.compile(source, scratch, "schemata")
            self.assertEqual(self.run_with(binary, 0), original)
            outputs = {mutant: self.run_with(binary, mutant) for mutant in range(1, count + 1)}
        unchanged = [m for m, out in outputs.items() if out == original]
        self.assertEqual(unchanged, [], f"mutants that changed nothing: {unchanged}")

    def compile(self, source, scratch, name):
        binary = Path(scratch) / name
        subprocess.run(["g++", "-std=c++20", "-w", "-o", str(binary), str(source)], check=True)
        return binary

    def compile_and_run(self, source, scratch, name):
        return self.run_with(self.compile(source, scratch, name), 0)

    def run_with(self, binary, mutant):
        env = dict(os.environ, VMEMCHECK_MUTANT=str(mutant))
        return subprocess.run([str(binary)], env=env, capture_output=True, text=True, timeout=10).stdout


if __name__ == "__main__":
    unittest.main()
