"""scripts/mutate's own checks: the points it finds in a device in miniature,
that the schemata switch exactly one mutant on, that a named mutant compiled
in behaves as switched on, and what it reads from the build (ctest mutate.*)."""

import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "mutate"))

import compile_check  # noqa: E402
import named  # noqa: E402
import points  # noqa: E402
import project  # noqa: E402
import schemata  # noqa: E402
import semantic  # noqa: E402


class PointsInADevice(unittest.TestCase):
    # A device in miniature (device_fixture.cpp), not core/device: the tool's
    # own test must not fail when a mutant only changes the device's text.
    @classmethod
    def setUpClass(cls):
        cls.found = points.Finder(ROOT).find(["tests/mutate/device_fixture.cpp"])

    def find(self, operator, original, function):
        return [p for p in self.found if p.operator == operator and p.original == original and p.function == function]

    def test_the_plug_limit_is_flipped(self):
        [flip] = self.find("relational flip", "plugged_size() + size > requested_", "plug")
        self.assertEqual(flip.variants, ["plugged_size() + size >= requested_"])

    def test_a_discard_whose_result_is_used_is_dropped(self):
        [drop] = self.find("call dropped", "backend_.discard(offset, size)", "unplug")
        self.assertEqual(drop.variants, ["ok_status()"])

    def test_a_response_is_swapped_for_each_other_one(self):
        swaps = self.find("response/state swapped", "ResponseType::Nack", "plug")
        self.assertEqual(len(swaps), 1)
        self.assertEqual(swaps[0].variants, ["ResponseType::Ack", "ResponseType::Busy", "ResponseType::Error"])

    def test_nothing_in_a_macro(self):
        # assert() is a macro: its expansion is not the text written.
        self.assertFalse([p for p in self.found if "size != 0" in p.original])

    def test_a_return_at_the_end_of_a_function_stays(self):
        returns = [p for p in self.found if p.operator == "early return removed" and p.function == "plug"]
        self.assertEqual([p.original for p in returns], ["return ResponseType::Nack;"])


class Schemata(unittest.TestCase):
    def test_each_mutant_and_only_it_is_switched_on(self):
        fixture = "tests/mutate/fixture.cpp"
        # The token operators' fixture: the semantic ones have their own (SemanticOperators).
        found = [p for p in points.Finder(ROOT).find([fixture]) if semantic.family(p.operator) == "token"]
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

    def test_a_named_mutant_fixed_in_behaves_as_switched_on(self):
        # A planted-bug build compiles the mutant in (schemata.fixed); scripts/mutate
        # switches the same point at run time: both must run the same code.
        fixture = "tests/mutate/fixture.cpp"
        with tempfile.TemporaryDirectory() as scratch:
            spec = Path(scratch) / "clamp-inclusive.mutant"
            spec.write_text(f"# the limit itself is clamped\nfile: {fixture}\nin: int clamp_blocks(int blocks, int limit) {{\n"
                            "replace: blocks > limit\nwith: blocks >= limit\n")
            point = named.point(ROOT, named.read(spec))
            found = points.Finder(ROOT).find([fixture])
            everything = sorted(found + [point], key=lambda p: (p.start, -p.end, p is not point))
            schemata.assign_ids(everything)
            self.assertEqual(schemata.unnestable(everything), [])
            text = (ROOT / fixture).read_bytes()
            switched = Path(scratch) / "switched.cpp"
            switched.write_text(schemata.rewrite(text, everything))
            fixed = Path(scratch) / "fixed.cpp"
            fixed.write_text(schemata.fixed(text, point))
            original = self.compile_and_run(ROOT / fixture, scratch, "original")
            planted = self.compile_and_run(fixed, scratch, "fixed")
            binary = self.compile(switched, scratch, "switched")
            self.assertNotEqual(planted, original)
            self.assertEqual(self.run_with(binary, point.first_id), planted)
            self.assertEqual(self.run_with(binary, 0), original)
            # The syntax-tree mutants inside its range still switch on, one at a time.
            [flip] = [p for p in found if p.operator == "relational flip" and p.original == "blocks > limit"]
            self.assertNotEqual(self.run_with(binary, flip.first_id), original)

    def compile(self, source, scratch, name):
        binary = Path(scratch) / name
        subprocess.run(["g++", "-std=c++20", "-w", "-o", str(binary), str(source)], check=True)
        return binary

    def compile_and_run(self, source, scratch, name):
        return self.run_with(self.compile(source, scratch, name), 0)

    def run_with(self, binary, mutant):
        env = dict(os.environ, VMEMCHECK_MUTANT=str(mutant))
        return subprocess.run([str(binary)], env=env, capture_output=True, text=True, timeout=10).stdout


class SemanticOperators(unittest.TestCase):
    # semantic_fixture.cpp holds one place for each semantic operator; every
    # semantic mutant of it changes what it prints.
    fixture = "tests/mutate/semantic_fixture.cpp"

    @classmethod
    def setUpClass(cls):
        cls.found = points.Finder(ROOT).find([cls.fixture])

    def find(self, operator, function):
        return [p for p in self.found if p.operator == operator and p.function == function]

    def variants(self, operator, function):
        return [(p.original, p.variants) for p in self.find(operator, function)]

    def test_another_variable_of_the_same_type_in_scope(self):
        self.assertEqual(self.variants(semantic.ANOTHER_VARIABLE, "block_address"),
                         [("block", ["offset"]), ("offset", ["block"])])

    def test_a_bound_becomes_the_other_bound_of_the_function(self):
        self.assertEqual(self.variants(semantic.BOUND_REPLACED, "in_bounds"),
                         [("q.size", ["q.table_length"]), ("q.table_length", ["q.size"])])

    def test_a_condition_on_one_of_two_related_fields_is_dropped(self):
        self.assertEqual(self.variants(semantic.CONDITION_DROPPED, "fits"),
                         [("at < r.usable && at < r.size", ["at < r.usable", "at < r.size"])])

    def test_two_arguments_of_the_same_type_are_swapped(self):
        self.assertEqual(self.variants(semantic.OPERANDS_SWAPPED, "main")[0],
                         ("block_address(2, 5)", ["block_address(5, 2)"]))
        # The Queue argument has no partner of its type: only the two indices swap.
        self.assertIn(("in_bounds(q, 2, 8)", ["in_bounds(q, 8, 2)"]), self.variants(semantic.OPERANDS_SWAPPED, "main"))

    def test_adjacent_statements_are_swapped_not_declarations(self):
        self.assertEqual(self.variants(semantic.STATEMENTS_SWAPPED, "scaled_total"),
                         [("if (total == 0) return uint64_t{9};\n  total += 3;\n  total *= 5;\n  return total;",
                           ["total += 3; if (total == 0) return uint64_t{9};", "total *= 5; total += 3;",
                            "return total; total *= 5;"])])
        self.assertEqual(self.find(semantic.STATEMENTS_SWAPPED, "pending_entries"), [])

    def test_the_u16_wrap_is_lost_through_auto_or_added_where_kept_wide(self):
        self.assertEqual(self.variants(semantic.NARROW_ARITHMETIC, "pending_entries"),
                         [("static_cast<uint16_t>(avail_idx - last_avail)", ["avail_idx - last_avail"])])
        self.assertEqual(self.variants(semantic.NARROW_ARITHMETIC, "entries_between"),
                         [("used_idx - avail_idx", ["static_cast<uint16_t>(used_idx - avail_idx)"])])

    def test_every_semantic_mutant_compiles_and_changes_behaviour(self):
        count = schemata.assign_ids(self.found)
        self.assertEqual(schemata.unnestable(self.found), [])
        with tempfile.TemporaryDirectory() as scratch:
            source = Path(scratch) / "semantic.cpp"
            source.write_text(schemata.rewrite((ROOT / self.fixture).read_bytes(), self.found))
            original = Schemata().compile_and_run(ROOT / self.fixture, scratch, "original")
            binary = Schemata().compile(source, scratch, "schemata")
            self.assertEqual(Schemata().run_with(binary, 0), original)
            ids = [p.first_id + k for p in self.found if semantic.family(p.operator) == "semantic"
                   for k in range(len(p.variants))]
            self.assertGreaterEqual(len(ids), 20)
            unchanged = [m for m in ids if Schemata().run_with(binary, m) == original]
        self.assertEqual(unchanged, [], f"semantic mutants that changed nothing: {unchanged}")
        self.assertLessEqual(max(ids), count)

    def test_a_point_the_compiler_refuses_is_dropped_alone(self):
        good = [p for p in self.found if semantic.family(p.operator) == "semantic"][:3]
        [flip] = [p for p in self.found if p.operator == "relational flip" and p.original == "start < end"]
        refused = schemata.Point(flip.file, flip.start, flip.end, flip.line, flip.end_line, semantic.BOUND_REPLACED,
                                 flip.function, flip.original, ["x"], [], "no_such_name({id})")
        everything = [p for p in self.found if p is not flip] + [refused]
        schemata.assign_ids(everything)
        dropped = compile_check.refused(ROOT, project.Project(), self.fixture, everything, good + [refused])
        self.assertEqual(dropped, [refused])


class NamedMutants(unittest.TestCase):
    def test_a_spec_the_code_moved_away_from_is_refused_by_name(self):
        with tempfile.TemporaryDirectory() as scratch:
            spec = Path(scratch) / "gone.mutant"
            spec.write_text("# gone\nfile: core/device/device.cpp\nin: Response VirtioMemDevice::plug(\n"
                            "replace: no such text\nwith: x\n")
            with self.assertRaisesRegex(named.SpecError, "gone.mutant: 'no such text' does not follow"):
                named.point(ROOT, named.read(spec))
            spec.write_text("file: core/device/device.cpp\n")
            with self.assertRaisesRegex(named.SpecError, "missing in, replace, with"):
                named.read(spec)


class WhatTheBuildSays(unittest.TestCase):
    def test_the_unit_tests_are_those_of_the_device_under_test_folders(self):
        tests = project.Project().unit_tests()
        self.assertIn("device_test", tests)
        self.assertIn("decision_test", tests)
        self.assertIn("shadow_kvm_test", tests)
        self.assertNotIn("scenario_test", tests)  # core/scenario is not the device under test
        self.assertNotIn("invariant_monitor_test", tests)

    def test_a_device_file_is_parsed_with_its_compile_command(self):
        flags = project.Project().parse_flags(ROOT / "core/device/device.cpp")
        self.assertIn(f"-I{ROOT / 'core/decision'}", flags)
        self.assertTrue([f for f in flags if f.startswith("-std=")])
        self.assertFalse([f for f in flags if f.startswith(("-W", "-O", "-o"))])


if __name__ == "__main__":
    unittest.main()
