"""Mutation points of the device under test, found in the syntax tree.

libclang (python3-clang-14) parses every file of the device under test; each
operator below is one kind of node in that tree, never a regular expression
over the text. A point is a source range, the sub-ranges ("holes") whose text
it keeps, and its variants: the mutants. schemata.py turns the points of a
file into one source that holds all of them, each switched on at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

import clang.cindex as ci

import project
import semantic
from schemata import Point

# Debian's bindings (python3-clang-14) load their own libclang-14.so from the
# library path: no path to name here.
K = ci.CursorKind

RELATIONAL_FLIP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
RELATIONAL_HELPER = {"<": "less", "<=": "less_equal", ">": "greater", ">=": "greater_equal",
                     "==": "equal", "!=": "not_equal"}
ARITHMETIC = {"+", "-", "*", "/", "%", "<<", ">>"}
# decision.hpp's word functions: its unsigned '<' and '<='.
WORD_RELATIONAL_FLIP = {"ult": "ule", "ule": "ult"}
# Enumerations whose values are swapped for one another.
SWAPPED_ENUMS = {"ResponseType", "BlockState"}
# Backend and KVM calls whose dropping is its own operator.
BACKEND_CALLS = {"map", "unmap", "discard", "populate", "apply", "set_user_memory_region",
                 "set_memory_region", "map_slot", "unmap_slot"}
# Calls whose arguments are only text for people: their mutants change a
# message, which no check compares.
MESSAGE_CALLS = {"format", "fail", "enter_error_state", "Error", "format_size"}
INTEGER_TYPES = {ci.TypeKind.INT, ci.TypeKind.UINT, ci.TypeKind.LONG, ci.TypeKind.ULONG,
                 ci.TypeKind.LONGLONG, ci.TypeKind.ULONGLONG, ci.TypeKind.SHORT,
                 ci.TypeKind.USHORT, ci.TypeKind.UCHAR, ci.TypeKind.CHAR_S, ci.TypeKind.SCHAR,
                 ci.TypeKind.CHAR_U, ci.TypeKind.UINT128, ci.TypeKind.INT128}
FUNCTIONS = {K.FUNCTION_DECL, K.CXX_METHOD, K.CONSTRUCTOR, K.DESTRUCTOR, K.FUNCTION_TEMPLATE,
             K.LAMBDA_EXPR, K.CONVERSION_FUNCTION}

# Nesting of points with the same range: the outer one first. Another
# variable keeps no text of its range (no hole): it goes innermost.
RANK = {"statement removed": 0, "call dropped": 0, "early return removed": 0,
        "condition negated": 1, "off by one": 2, "relational flip": 3, "response/state swapped": 4,
        semantic.STATEMENTS_SWAPPED: 5, semantic.OPERANDS_SWAPPED: 5, semantic.CONDITION_DROPPED: 5,
        semantic.NARROW_ARITHMETIC: 5, semantic.BOUND_REPLACED: 5, semantic.ANOTHER_VARIABLE: 9}
# The two families the report keeps apart.
TOKEN_OPERATORS = tuple(o for o in RANK if o not in semantic.OPERATORS)


def parsed_through(root: Path, header: str, sources) -> str:
    """The first source of `sources` that includes `header` by name: a header
    is parsed in the translation unit of a file that uses it."""
    line = f'#include "{Path(header).name}"'
    for source in sources:
        if source.endswith(".cpp") and line in (root / source).read_text().splitlines():
            return source
    raise SystemExit(f"mutate: no file of the device under test includes {header}: cannot parse it")


class Finder:
    def __init__(self, root: Path, project_info: project.Project | None = None):
        self.root = root
        self.project = project_info or project.Project()
        self.index = ci.Index.create()
        self.points: dict = {}
        self.macros: set = set()  # (file, start, end) of every macro expansion
        self.semantic = semantic.SemanticFinder(self._text, self._add, MESSAGE_CALLS)

    def find(self, files) -> list:
        wanted = set(files)
        sources = self.project.dut_files
        for source in sorted({parsed_through(self.root, f, sources) if f.endswith(".hpp") else f for f in wanted}):
            tu = self.index.parse(str(self.root / source), args=["-x", "c++"] + self.project.parse_flags(self.root / source),
                                  options=ci.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD)
            errors = [d for d in tu.diagnostics if d.severity >= ci.Diagnostic.Error]
            if errors:
                raise SystemExit(f"mutate: {source} does not parse: {errors[0]}")
            self.texts = {}
            self._note_macros(tu, wanted)
            self._walk(tu.cursor, wanted, function=("", None), in_message=False)
        # A macro's expansion (assert) is not the text written: no point in it.
        self.points = {k: p for k, p in self.points.items()
                       if not any(f == p.file and s < p.end and p.start < e for f, s, e in self.macros)}
        dropped_statements = [p for p in self.points.values()
                              if p.operator == "call dropped" and p.variants == ["(removed)"]]
        points = [p for p in self.points.values() if not (
            p.operator == "call dropped" and p.variants != ["(removed)"] and
            any(s.file == p.file and s.start <= p.start and p.end <= s.end for s in dropped_statements))]
        return sorted(points, key=lambda p: (p.file, p.start, -p.end, RANK[p.operator]))

    def _note_macros(self, tu, wanted):
        for child in tu.cursor.get_children():
            if child.kind == K.MACRO_INSTANTIATION and self._rel(child) in wanted:
                self.macros.add((self._rel(child), child.extent.start.offset, child.extent.end.offset))

    # --- the walk ------------------------------------------------------------
    def _rel(self, cursor):
        f = cursor.location.file
        if f is None:
            return None
        path = os.path.relpath(os.path.realpath(f.name), os.path.realpath(self.root))
        return path

    def _text(self, rel, start, end) -> str:
        if rel not in self.texts:
            self.texts[rel] = (self.root / rel).read_bytes()
        return self.texts[rel][start:end].decode()

    def _walk(self, cursor, wanted, function, in_message):
        for position, child in enumerate(cursor.get_children()):
            # A case label, or the condition of an `if constexpr`, is a constant
            # expression: the schemata cannot switch it at run time.
            if position == 0 and (cursor.kind == K.CASE_STMT or
                                  cursor.kind == K.IF_STMT and self._is_if_constexpr(cursor)):
                continue
            rel = self._rel(child)
            if rel is not None and rel not in wanted:
                continue
            try:
                kind = child.kind
            except ValueError:  # a node kind newer than these bindings: not an operator
                continue
            child_function = function
            if kind in FUNCTIONS:
                bodies = [ch for ch in child.get_children() if ch.kind == K.COMPOUND_STMT]
                name = f"{function[0]}::lambda" if kind == K.LAMBDA_EXPR else child.spelling
                child_function = (name, bodies[-1] if bodies else None)
                if bodies and rel is not None and not in_message:
                    self.semantic.function(child, bodies[-1], rel, name)
            child_message = in_message or (child.kind == K.CALL_EXPR and child.spelling in MESSAGE_CALLS)
            if rel is not None and not in_message:
                self._visit(child, rel, child_function)
            self._walk(child, wanted, child_function, child_message)

    def _is_if_constexpr(self, stmt) -> bool:
        tokens = [t.spelling for t in stmt.get_tokens()][:2]
        return tokens == ["if", "constexpr"]

    def _visit(self, c, rel, function_and_body):
        function, body = function_and_body
        kind = c.kind
        if kind == K.BINARY_OPERATOR:
            self._binary(c, rel, function)
        elif kind == K.CALL_EXPR:
            self._call(c, rel, function)
        elif kind == K.DECL_REF_EXPR:
            self._enum(c, rel, function)
        elif kind == K.UNARY_OPERATOR:
            self._not(c, rel, function)
        elif kind == K.ARRAY_SUBSCRIPT_EXPR:
            children = list(c.get_children())
            if len(children) == 2:
                self._off_by_one(children[1], rel, function)
        elif kind in (K.IF_STMT, K.WHILE_STMT, K.FOR_STMT, K.CONDITIONAL_OPERATOR):
            self._condition(c, rel, function)
        elif kind == K.COMPOUND_STMT:
            for statement in c.get_children():
                self._statement(statement, body, rel, function)
        if kind in (K.IF_STMT, K.WHILE_STMT, K.FOR_STMT) :
            # A single statement as a body: `if (x) return y;`.
            for single in self._bodies(c):
                if single.kind != K.COMPOUND_STMT:
                    self._statement(single, body, rel, function)

    # --- operators -----------------------------------------------------------
    def _add(self, point: Point):
        # One point per range and operator: `if (!x)` negated as a condition
        # is the same mutant as its '!' dropped.
        identity = (point.file, point.start, point.end, point.operator)
        self.points.setdefault(identity, point)

    def _binary(self, c, rel, function):
        children = list(c.get_children())
        if len(children) != 2:
            return
        lhs, rhs = children
        op = self._operator_between(c, lhs, rhs)
        if op in RELATIONAL_FLIP:
            flipped = RELATIONAL_FLIP[op]
            original = self._text(rel, c.extent.start.offset, c.extent.end.offset)
            self._add(Point(rel, c.extent.start.offset, c.extent.end.offset, c.extent.start.line,
                            c.extent.end.line, "relational flip", function, original,
                            [self._text(rel, lhs.extent.start.offset, lhs.extent.end.offset) + f" {flipped} " +
                             self._text(rel, rhs.extent.start.offset, rhs.extent.end.offset)],
                            [(lhs.extent.start.offset, lhs.extent.end.offset),
                             (rhs.extent.start.offset, rhs.extent.end.offset)],
                            f"vmemcheck_mutant::{RELATIONAL_HELPER[op]}({{id}}, {{h0}}, {{h1}})"))
        elif op in ARITHMETIC and self._integer_or_dependent(c):
            self._off_by_one(c, rel, function)

    def _not(self, c, rel, function):
        """`!x` becomes `x`: a condition negated where it is written as one."""
        tokens = list(c.get_tokens())
        children = list(c.get_children())
        if not tokens or tokens[0].spelling != "!" or len(children) != 1:
            return
        operand = children[0]
        start, end = c.extent.start.offset, c.extent.end.offset
        inner = (operand.extent.start.offset, operand.extent.end.offset)
        text = self._text(rel, start, end)
        # A pointer or an optional as the operand: the same test, as a bool.
        keep = "({h0})" if c.type.spelling == "<dependent type>" else "static_cast<bool>({h0})"
        self._add(Point(rel, start, end, c.extent.start.line, c.extent.end.line, "condition negated", function,
                        text, [self._text(rel, *inner)], [inner],
                        "(vmemcheck_mutant::on({id}) ? " + keep + " : !({h0}))"))

    def _operator_between(self, c, lhs, rhs) -> str:
        for token in c.get_tokens():
            if lhs.extent.end.offset <= token.extent.start.offset < rhs.extent.start.offset:
                if token.kind == ci.TokenKind.PUNCTUATION:
                    return token.spelling
        return ""

    def _integer_or_dependent(self, c) -> bool:
        canonical = c.type.get_canonical()
        return canonical.kind in INTEGER_TYPES or c.type.spelling == "<dependent type>"

    def _off_by_one(self, c, rel, function):
        if not self._integer_or_dependent(c):
            return
        start, end = c.extent.start.offset, c.extent.end.offset
        text = self._text(rel, start, end)
        self._add(Point(rel, start, end, c.extent.start.line, c.extent.end.line, "off by one", function,
                        text, [f"({text}) + 1", f"({text}) - 1"], [(start, end)],
                        "vmemcheck_mutant::off_by_one({id}, {h0})"))

    def _call(self, c, rel, function):
        children = list(c.get_children())
        callee = self._callee_name(c)
        if callee in WORD_RELATIONAL_FLIP and len(children) == 3:
            args = children[1:]
            flipped = WORD_RELATIONAL_FLIP[callee]
            original = self._text(rel, c.extent.start.offset, c.extent.end.offset)
            self._add(Point(rel, c.extent.start.offset, c.extent.end.offset, c.extent.start.line,
                            c.extent.end.line, "relational flip", function, original,
                            [flipped + original[len(callee):]],
                            [(a.extent.start.offset, a.extent.end.offset) for a in args],
                            f"(vmemcheck_mutant::on({{id}}) ? {flipped}({{h0}}, {{h1}}) : {callee}({{h0}}, {{h1}}))"))
        elif callee == "select" and len(children) == 4:
            condition = children[1]
            text = self._text(rel, condition.extent.start.offset, condition.extent.end.offset)
            self._add(Point(rel, condition.extent.start.offset, condition.extent.end.offset,
                            condition.extent.start.line, condition.extent.end.line, "condition negated",
                            function, text, [f"!({text})"],
                            [(condition.extent.start.offset, condition.extent.end.offset)],
                            "vmemcheck_mutant::negated({id}, {h0})"))
        elif callee in BACKEND_CALLS and c.type.spelling in ("Status", "vmemcheck::Status", "Result<Ok>"):
            text = self._text(rel, c.extent.start.offset, c.extent.end.offset)
            self._add(Point(rel, c.extent.start.offset, c.extent.end.offset, c.extent.start.line,
                            c.extent.end.line, "call dropped", function, text, ["ok_status()"],
                            [(c.extent.start.offset, c.extent.end.offset)],
                            "(vmemcheck_mutant::on({id}) ? ::vmemcheck::ok_status() : ({h0}))"))

    def _callee_name(self, c) -> str:
        if c.spelling:
            return c.spelling
        for token in c.get_tokens():  # a dependent call: `ult(...)` in a template
            return token.spelling
        return ""

    def _enum(self, c, rel, function):
        referenced = c.referenced
        if referenced is None or referenced.kind != K.ENUM_CONSTANT_DECL:
            return
        enum = referenced.semantic_parent
        if enum is None or enum.spelling not in SWAPPED_ENUMS:
            return
        text = self._text(rel, c.extent.start.offset, c.extent.end.offset)
        qualifier = text[: len(text) - len(referenced.spelling)]
        others = [e.spelling for e in enum.get_children()
                  if e.kind == K.ENUM_CONSTANT_DECL and e.spelling != referenced.spelling]
        self._add(Point(rel, c.extent.start.offset, c.extent.end.offset, c.extent.start.line,
                        c.extent.end.line, "response/state swapped", function, text,
                        [qualifier + o for o in others], [],
                        "vmemcheck_mutant::one_of({id}, " + ", ".join([text] + [qualifier + o for o in others]) + ")"))

    def _bodies(self, c):
        children = list(c.get_children())
        if c.kind == K.IF_STMT:
            return [ch for ch in children[1:] if ch.kind.is_statement() or ch.kind.is_expression()][-2:] \
                if len(children) >= 3 else children[1:]
        return children[-1:]

    def _condition(self, c, rel, function):
        if c.kind == K.IF_STMT and self._is_if_constexpr(c):
            return
        condition = self._condition_of(c)
        if condition is None:
            return
        text = self._text(rel, condition.extent.start.offset, condition.extent.end.offset)
        self._add(Point(rel, condition.extent.start.offset, condition.extent.end.offset,
                        condition.extent.start.line, condition.extent.end.line, "condition negated", function,
                        text, [f"!({text})"], [(condition.extent.start.offset, condition.extent.end.offset)],
                        "(vmemcheck_mutant::on({id}) != static_cast<bool>({h0}))"))

    def _condition_of(self, c):
        """The condition expression in the parentheses, or None (a declaration
        as the condition, or a dependent one in a template)."""
        children = list(c.get_children())
        if c.kind == K.CONDITIONAL_OPERATOR:
            condition = children[0] if children else None
        else:
            close = self._closing_parenthesis(c)
            inside = [ch for ch in children if ch.extent.end.offset <= close]
            if c.kind == K.FOR_STMT:
                # for (init; condition; step): the expression between the two semicolons.
                semicolons = [t.extent.start.offset for t in c.get_tokens()
                              if t.spelling == ";" and t.extent.start.offset < close][:2]
                inside = [ch for ch in inside if len(semicolons) == 2 and
                          semicolons[0] < ch.extent.start.offset and ch.extent.end.offset <= semicolons[1]]
            condition = inside[-1] if inside else None
        if condition is None or not condition.kind.is_expression():
            return None
        if condition.type.spelling == "<dependent type>":
            return None
        return condition

    def _closing_parenthesis(self, c) -> int:
        depth = 0
        for token in c.get_tokens():
            if token.spelling == "(":
                depth += 1
            elif token.spelling == ")":
                depth -= 1
                if depth == 0:
                    return token.extent.start.offset
        return c.extent.end.offset

    def _statement(self, statement, function_body, rel, function):
        if statement.kind == K.RETURN_STMT:
            if not self._return_removable(statement, function_body):
                return
            operator = "early return removed"
        elif statement.kind.is_expression():
            operator = "statement removed"
            call = self._called(statement)
            if call in BACKEND_CALLS:
                operator = "call dropped"
        else:
            return
        end = self._semicolon_after(statement)
        if end is None:
            return
        start = statement.extent.start.offset
        text = self._text(rel, start, end)
        self._add(Point(rel, start, end, statement.extent.start.line, statement.extent.end.line, operator,
                        function, text, ["(removed)"], [(start, end)],
                        "{{ if (!vmemcheck_mutant::on({id})) {{ {h0} }} }}"))

    def _called(self, expression) -> str:
        node = expression
        while node is not None:
            if node.kind == K.CALL_EXPR:
                return node.spelling
            children = list(node.get_children())
            # Through the implicit conversions and a `(void)` cast to the call.
            node = children[0] if len(children) == 1 or node.kind in (K.UNEXPOSED_EXPR, K.CSTYLE_CAST_EXPR) and children else None
        return ""

    def _semicolon_after(self, statement):
        tokens = list(statement.translation_unit.get_tokens(extent=ci.SourceRange.from_locations(
            statement.extent.end, ci.SourceLocation.from_offset(
                statement.translation_unit, statement.extent.end.file,
                min(statement.extent.end.offset + 8, os.path.getsize(statement.extent.end.file.name))))))
        for token in tokens:
            if token.extent.start.offset >= statement.extent.end.offset:
                return token.extent.end.offset if token.spelling == ";" else None
        return None

    def _return_removable(self, statement, function_body) -> bool:
        """A return may go only where the function goes on after it: not in
        the function body's last statement (control would fall off its end)."""
        statements = list(function_body.get_children()) if function_body is not None else []
        if not statements:
            return False
        last = statements[-1]
        return not last.extent.start.offset <= statement.extent.start.offset < last.extent.end.offset
