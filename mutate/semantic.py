"""Semantic mutation points: the mistakes a virtio-mem developer makes that
span more than a token (issue 26 item 6), found in the same syntax tree as
the token operators (points.py) and switched at run time by the same schemata.

- another variable: a use of a local, parameter or member replaced by another
  of the same type in scope (the nearest: the likeliest slip);
- statements swapped: two adjacent statements of one block;
- call operands swapped: two arguments of the same type;
- narrow arithmetic: a cast to a narrow type dropped, so the `auto` holding
  it keeps the wide value and the wrap is lost (the virtio ring's free-running
  u16 indices), or arithmetic on narrow operands wrapped to their type where
  the code keeps it wide;
- bound replaced: the right-hand side of a comparison replaced by the nearest
  other bound of the function (a variable or member compared elsewhere in it:
  queue size against table length, region size against usable size);
- condition dropped: `a && b` or `a || b` down to one side, where both sides
  look at values of a common type (related fields).

Every template compiles with the mutant off and on; main.py still checks
each rewritten file and drops a semantic point the compiler refuses.
"""

from __future__ import annotations

import clang.cindex as ci

from schemata import Point

K = ci.CursorKind

ANOTHER_VARIABLE = "another variable"
STATEMENTS_SWAPPED = "statements swapped"
OPERANDS_SWAPPED = "call operands swapped"
NARROW_ARITHMETIC = "narrow arithmetic"
BOUND_REPLACED = "bound replaced"
CONDITION_DROPPED = "condition dropped"
OPERATORS = (ANOTHER_VARIABLE, STATEMENTS_SWAPPED, OPERANDS_SWAPPED, NARROW_ARITHMETIC, BOUND_REPLACED,
             CONDITION_DROPPED)



def family(operator: str) -> str:
    """The report keeps the two families apart: a token operator changes one
    token, a semantic one a name, an order, a type or a whole condition."""
    return "semantic" if operator in OPERATORS else "token"


RELATIONAL = {"<", "<=", ">", ">=", "==", "!="}
ARITHMETIC = {"+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^"}
# Of those, what can leave the narrow operands' range: `&`, `%`, `>>` and the
# rest of narrow operands stay in it, so wrapping them changes nothing.
WIDENING = {"+", "-", "*", "<<"}
# Types narrower than int: their arithmetic happens in int, and only a cast
# back (or the variable that stores it) wraps it.
NARROW = {ci.TypeKind.USHORT: "uint16_t", ci.TypeKind.UCHAR: "uint8_t", ci.TypeKind.CHAR_U: "uint8_t"}
SCALARS = {ci.TypeKind.BOOL, ci.TypeKind.INT, ci.TypeKind.UINT, ci.TypeKind.LONG, ci.TypeKind.ULONG,
           ci.TypeKind.LONGLONG, ci.TypeKind.ULONGLONG, ci.TypeKind.SHORT, ci.TypeKind.USHORT, ci.TypeKind.UCHAR,
           ci.TypeKind.CHAR_S, ci.TypeKind.SCHAR, ci.TypeKind.CHAR_U, ci.TypeKind.ENUM}
UNSIGNED = {ci.TypeKind.UINT, ci.TypeKind.ULONG, ci.TypeKind.ULONGLONG, ci.TypeKind.USHORT, ci.TypeKind.UCHAR,
            ci.TypeKind.CHAR_U}
SIGNED = {ci.TypeKind.INT, ci.TypeKind.LONG, ci.TypeKind.LONGLONG, ci.TypeKind.SHORT, ci.TypeKind.CHAR_S,
          ci.TypeKind.SCHAR}
# Arguments in either order give the same value: swapping them is no mutant.
COMMUTATIVE_CALLS = {"min", "max", "gcd", "lcm", "swap"}
# select(c, a, b) with a and b swapped is the condition negated, a token
# operator already; ult/ule's arguments are the holes of their relational
# flip, whose point a second one over the same arguments would cross.
SWAP_COVERED_CALLS = {"select", "ult", "ule"}
JUMPS = {K.RETURN_STMT, K.BREAK_STMT, K.CONTINUE_STMT, K.GOTO_STMT}
# Alternatives offered per use, the nearest first: more would multiply the
# mutants, not the kinds of slip.
ALTERNATIVES_PER_USE = 1


class SemanticFinder:
    """Walks one function body at a time (points.Finder calls `function`)."""

    def __init__(self, text, add, message_calls):
        self.text = text  # text(rel, start, end)
        self.add = add    # add(Point)
        self.message_calls = message_calls  # their arguments are words for people: no points

    # --- one function -------------------------------------------------------
    def function(self, function_cursor, body, rel, name):
        self.rel, self.name = rel, name
        self.members = self._fields_of(function_cursor)
        self.declarations = []  # (cursor, scope start, scope end) of locals and parameters
        for parameter in function_cursor.get_children():
            if parameter.kind == K.PARM_DECL and parameter.spelling:
                self.declarations.append((parameter, body.extent.start.offset, body.extent.end.offset))
        self.bounds = []  # comparison sides that are names: (text, type, cursor)
        self._collect(body, [function_cursor])
        self._visit(body, [function_cursor])
        self._walk(body, [function_cursor])

    def _fields_of(self, function_cursor):
        owner = function_cursor.semantic_parent
        if function_cursor.kind == K.LAMBDA_EXPR or owner is None or owner.kind not in (
                K.CLASS_DECL, K.STRUCT_DECL, K.CLASS_TEMPLATE):
            return []
        return [f for f in owner.get_children() if f.kind == K.FIELD_DECL]

    def _collect(self, cursor, parents):
        """The locals (with their scopes) and the bounds of the function; not
        inside a lambda, whose names the function does not see."""
        for child in cursor.get_children():
            if child.kind == K.LAMBDA_EXPR:
                continue
            if child.kind == K.VAR_DECL and child.spelling:
                scope = cursor if cursor.kind != K.DECL_STMT else parents[-1]
                self.declarations.append((child, child.extent.end.offset, scope.extent.end.offset))
            if child.kind == K.BINARY_OPERATOR and self._operator(child) in RELATIONAL:
                bound = self._named_value(list(child.get_children())[1])  # what is compared against
                if bound is not None:
                    self.bounds.append(bound)
            self._collect(child, parents + [cursor])

    def _walk(self, cursor, parents):
        for child in cursor.get_children():
            if child.kind == K.LAMBDA_EXPR:
                continue  # points.Finder visits a lambda as a function of its own
            if child.kind == K.CALL_EXPR and child.spelling in self.message_calls:
                continue
            self._visit(child, parents + [cursor])
            self._walk(child, parents + [cursor])

    def _visit(self, c, parents):
        kind = c.kind
        if kind in (K.DECL_REF_EXPR, K.MEMBER_REF_EXPR):
            self._another_variable(c, parents)
        elif kind == K.BINARY_OPERATOR:
            op = self._operator(c)
            if op in RELATIONAL:
                self._bound(c)
            elif op in ("&&", "||"):
                self._condition_dropped(c, op)
            elif op in ARITHMETIC:
                self._wrap_added(c, parents)
        elif kind == K.CALL_EXPR:
            self._operands_swapped(c)
        elif kind in (K.CXX_STATIC_CAST_EXPR, K.CXX_FUNCTIONAL_CAST_EXPR):
            self._wrap_lost(c, parents)
        elif kind == K.COMPOUND_STMT:
            self._statements_swapped(c)

    # --- helpers over the tree ---------------------------------------------
    def _source(self, c):
        return self.text(self.rel, c.extent.start.offset, c.extent.end.offset)

    def _operator(self, c) -> str:
        children = list(c.get_children())
        if len(children) != 2:
            return ""
        for token in c.get_tokens():
            if children[0].extent.end.offset <= token.extent.start.offset < children[1].extent.start.offset:
                if token.kind == ci.TokenKind.PUNCTUATION:
                    return token.spelling
        return ""

    @staticmethod
    def _bare(c):
        """Through implicit conversions and parentheses to the expression written."""
        while c.kind in (K.UNEXPOSED_EXPR, K.PAREN_EXPR):
            children = list(c.get_children())
            if len(children) != 1:
                break
            c = children[0]
        return c

    @staticmethod
    def _type_kind(t):
        return t.get_canonical().kind

    def _named_value(self, side):
        """A comparison side that is a variable or a member chain (`size`,
        `layout_.size`, `d->len`): (text, canonical type, node)."""
        bare = self._bare(side)
        if bare.kind not in (K.DECL_REF_EXPR, K.MEMBER_REF_EXPR):
            return None
        if not self._names_only(bare) or self._type_kind(bare.type) not in SCALARS - {ci.TypeKind.BOOL}:
            return None
        if bare.referenced is None or bare.referenced.kind not in (K.VAR_DECL, K.PARM_DECL, K.FIELD_DECL):
            return None
        return self._source(bare), bare.type.get_canonical(), bare

    def _names_only(self, c) -> bool:
        """Names joined by `.`, `->` and a leading `*`: nothing evaluated twice would differ."""
        tokens = list(c.get_tokens())
        return bool(tokens) and all(t.kind == ci.TokenKind.IDENTIFIER or t.spelling in (".", "->", "*", "this")
                                    for t in tokens)

    def _in_scope(self, declaration, offset) -> bool:
        return any(d == declaration and start <= offset < end for d, start, end in self.declarations)

    def _names_in_scope(self, c, offset) -> bool:
        """Every local a copied expression names is visible at `offset`."""
        for node in c.walk_preorder():
            if node.kind == K.DECL_REF_EXPR and node.referenced is not None and \
                    node.referenced.kind in (K.VAR_DECL, K.PARM_DECL):
                if not self._in_scope(node.referenced, offset):
                    return False
        return True

    # --- another variable of the same type in scope --------------------------
    def _another_variable(self, c, parents):
        # Only where the value is read (under an implicit conversion: for a
        # scalar, lvalue to rvalue): an assignment's target stays.
        if parents[-1].kind != K.UNEXPOSED_EXPR or c.type.get_canonical().kind not in SCALARS:
            return
        referenced = c.referenced
        if referenced is None:
            return
        offset = c.extent.start.offset
        canonical = c.type.get_canonical().spelling.replace("const ", "")
        if referenced.kind in (K.VAR_DECL, K.PARM_DECL) and c.kind == K.DECL_REF_EXPR:
            if not self._in_scope(referenced, offset):
                return  # a global or a capture: not the function's own
            candidates = [d for d, start, end in self.declarations
                          if start <= offset < end and d.kind in (K.VAR_DECL, K.PARM_DECL)]
            # Nearest first: declared last before the use.
            candidates.sort(key=lambda d: -d.extent.start.offset)
        elif referenced.kind == K.FIELD_DECL and c.kind == K.MEMBER_REF_EXPR and self._source(c) == c.spelling:
            candidates = list(self.members)  # an implicit this->: the members of the class
            candidates.sort(key=lambda d: abs(d.extent.start.offset - referenced.extent.start.offset))
        else:
            return
        others = [d.spelling for d in candidates if d != referenced and d.spelling != referenced.spelling and
                  d.type.get_canonical().spelling.replace("const ", "") == canonical]
        others = list(dict.fromkeys(others))[:ALTERNATIVES_PER_USE]
        if not others:
            return
        text = self._source(c)
        self.add(Point(self.rel, c.extent.start.offset, c.extent.end.offset, c.extent.start.line, c.extent.end.line,
                       ANOTHER_VARIABLE, self.name, text, others, [],
                       "vmemcheck_mutant::one_of({id}, " + ", ".join([text] + others) + ")"))

    # --- a bound replaced by another bound in scope ---------------------------
    def _bound(self, c):
        children = list(c.get_children())
        if len(children) != 2:
            return
        value = self._named_value(children[1])  # the right-hand side: what is compared against
        if value is None:
            return
        text, canonical, bare = value
        if self._type_kind(canonical) == ci.TypeKind.ENUM:
            return
        signed = self._type_kind(canonical) in SIGNED
        offset = bare.extent.start.offset
        others = [(abs(node.extent.start.offset - offset), t) for t, other_type, node in self.bounds
                  if t != text and (self._type_kind(other_type) in SIGNED) == signed and
                  self._type_kind(other_type) != ci.TypeKind.ENUM and self._names_in_scope(node, offset)]
        others = list(dict.fromkeys(t for _, t in sorted(others)))[:ALTERNATIVES_PER_USE]
        if not others:
            return
        start, end = bare.extent.start.offset, bare.extent.end.offset
        # common_type: a bound of another width is compared at the wider one,
        # as the code written would (same signedness: no value changes).
        self.add(Point(self.rel, start, end, bare.extent.start.line, bare.extent.end.line, BOUND_REPLACED,
                       self.name, text, others, [(start, end)],
                       "vmemcheck_mutant::bound({id}, {h0}, " + ", ".join(others) + ")"))

    # --- a condition on one of two related fields dropped ---------------------
    def _condition_dropped(self, c, op):
        lhs, rhs = list(c.get_children())
        if not self._types_named(lhs) & self._types_named(rhs):
            return
        if c.type.spelling == "<dependent type>":
            return  # a decision template's Z3 words: the proofs' own mutants cover them
        left, right = "static_cast<bool>({h0})", "static_cast<bool>({h1})"
        lhs_text, rhs_text = self._source(lhs), self._source(rhs)
        self.add(Point(self.rel, c.extent.start.offset, c.extent.end.offset, c.extent.start.line, c.extent.end.line,
                       CONDITION_DROPPED, self.name, self._source(c), [lhs_text, rhs_text],
                       [(lhs.extent.start.offset, lhs.extent.end.offset),
                        (rhs.extent.start.offset, rhs.extent.end.offset)],
                       f"(vmemcheck_mutant::on({{id}}) ? {left} : vmemcheck_mutant::on({{id}} + 1) ? {right} : "
                       f"(({{h0}}) {op} ({{h1}})))"))

    def _types_named(self, c) -> set:
        """The types of the variables and fields an expression reads."""
        return {n.type.get_canonical().spelling.replace("const ", "") for n in c.walk_preorder()
                if n.kind in (K.DECL_REF_EXPR, K.MEMBER_REF_EXPR) and n.referenced is not None and
                n.referenced.kind in (K.VAR_DECL, K.PARM_DECL, K.FIELD_DECL)}

    # --- two arguments of a call swapped --------------------------------------
    def _operands_swapped(self, c):
        name = c.spelling
        if not name or name.startswith("operator") or name in COMMUTATIVE_CALLS | SWAP_COVERED_CALLS:
            return
        callee = c.referenced
        if callee is not None and callee.type.kind == ci.TypeKind.FUNCTIONPROTO and \
                callee.type.is_function_variadic():
            return  # printf's arguments follow its format, not a parameter list
        arguments = [a for a in c.get_arguments()]
        if len(arguments) < 2 or any(a.extent.start.offset < c.extent.start.offset or
                                     a.extent.end.offset > c.extent.end.offset for a in arguments):
            return  # default arguments, or an implicit construction: nothing written to swap
        prefix = self.text(self.rel, c.extent.start.offset, arguments[0].extent.start.offset)
        if not prefix.rstrip().endswith("(") or not all(ch.isalnum() or ch in "_:.->( \n<>" for ch in prefix):
            return  # a callee that is itself computed: its points would not nest
        pairs = [(i, j) for i in range(len(arguments)) for j in range(i + 1, len(arguments))
                 if self._same_type(arguments[i], arguments[j]) and
                 self._source(arguments[i]) != self._source(arguments[j])]
        if not pairs:
            return
        holes = [(a.extent.start.offset, a.extent.end.offset) for a in arguments]
        between = [self.text(self.rel, holes[k][1], holes[k + 1][0]) for k in range(len(holes) - 1)]
        suffix = self.text(self.rel, holes[-1][1], c.extent.end.offset)
        escape = lambda s: s.replace("{", "{{").replace("}", "}}")  # noqa: E731

        def call(order):
            parts = [escape(prefix)]
            for position, hole in enumerate(order):
                parts.append(f"{{h{hole}}}")
                if position < len(between):
                    parts.append(escape(between[position]))
            return "".join(parts) + escape(suffix)

        original = self._source(c)
        variants, branches = [], []
        for k, (i, j) in enumerate(pairs):
            order = list(range(len(arguments)))
            order[i], order[j] = j, i
            texts = [self._source(arguments[n]) for n in order]
            variants.append(prefix + ", ".join(texts) + suffix)
            branches.append(f"vmemcheck_mutant::on({{id}} + {k}) ? {call(order)} : ")
        self.add(Point(self.rel, c.extent.start.offset, c.extent.end.offset, c.extent.start.line, c.extent.end.line,
                       OPERANDS_SWAPPED, self.name, original, variants, holes,
                       "(" + "".join(branches) + call(range(len(arguments))) + ")"))

    def _same_type(self, a, b) -> bool:
        ta, tb = self._bare(a).type, self._bare(b).type
        if "<dependent type>" in (ta.spelling, tb.spelling):
            return False
        def plain(t):
            return t.get_canonical().spelling.replace("const ", "").replace("&", "").strip()
        return plain(ta) == plain(tb) and ta.get_canonical().kind in SCALARS | {ci.TypeKind.RECORD}

    # --- narrow arithmetic ----------------------------------------------------
    def _wrap_lost(self, c, parents):
        """`static_cast<uint16_t>(a - b)` stored in an `auto` or passed on as a
        wider value: the mutant keeps the int the arithmetic gave, unwrapped."""
        narrow = NARROW.get(self._type_kind(c.type))
        operand = self._bare(list(c.get_children())[-1]) if list(c.get_children()) else None
        if narrow is None or operand is None or operand.kind != K.BINARY_OPERATOR or \
                self._operator(operand) not in ARITHMETIC:
            return
        holder = parents[-1]
        widened_by_holder = holder.kind == K.UNEXPOSED_EXPR and \
            self._type_kind(holder.type) in SCALARS and holder.type.get_size() > c.type.get_size()
        stored_in_auto = holder.kind == K.VAR_DECL and "auto" in [t.spelling for t in holder.get_tokens()][:3]
        if not (widened_by_holder or stored_in_auto):
            return  # a narrow variable would wrap it again: no mutant
        start, end = c.extent.start.offset, c.extent.end.offset
        inner = (operand.extent.start.offset, operand.extent.end.offset)
        self.add(Point(self.rel, start, end, c.extent.start.line, c.extent.end.line, NARROW_ARITHMETIC, self.name,
                       self._source(c), [self._source(operand)], [inner],
                       f"vmemcheck_mutant::wrap_lost<{narrow}>({{id}}, {{h0}})"))

    def _wrap_added(self, c, parents):
        """Arithmetic on narrow operands kept wide by the code: the mutant
        wraps it to their type, as an `auto` of the operand's type would."""
        if self._operator(c) not in WIDENING:
            return
        operands = [self._bare(o) for o in c.get_children()]
        narrow = {NARROW.get(self._type_kind(o.type)) for o in operands}
        if len(operands) != 2 or None in narrow or self._type_kind(c.type) in NARROW:
            return
        if any(p.kind in (K.CXX_STATIC_CAST_EXPR, K.CXX_FUNCTIONAL_CAST_EXPR) for p in parents[-2:]):
            return  # already wrapped by a cast: wrap_lost's point
        width = "uint16_t" if "uint16_t" in narrow else "uint8_t"
        start, end = c.extent.start.offset, c.extent.end.offset
        text = self._source(c)
        self.add(Point(self.rel, start, end, c.extent.start.line, c.extent.end.line, NARROW_ARITHMETIC, self.name,
                       text, [f"static_cast<{width}>({text})"], [(start, end)],
                       f"vmemcheck_mutant::wrap_added<{width}>({{id}}, {{h0}})"))

    # --- two adjacent statements swapped --------------------------------------
    def _statements_swapped(self, block):
        """Runs of adjacent statements that are not declarations (a run-time
        switch needs a block of its own, which would end a declaration's
        scope); one point per run, one mutant per adjacent pair."""
        run = []
        for statement in list(block.get_children()) + [None]:
            if statement is not None and self._swappable(statement):
                run.append(statement)
                continue
            self._run_swapped(run)
            run = []

    def _swappable(self, statement) -> bool:
        if statement.kind in (K.DECL_STMT, K.CASE_STMT, K.DEFAULT_STMT, K.LABEL_STMT, K.NULL_STMT):
            return False
        return self._end_of(statement) is not None

    def _end_of(self, statement):
        """Where the statement ends: after its `;` (`if (x) return Error{...};`
        ends in a brace too), or after the block that closes it."""
        end = statement.extent.end.offset
        rest = self.text(self.rel, end, end + 8)
        stripped = rest.lstrip()
        if stripped.startswith(";"):
            return end + (len(rest) - len(stripped)) + 1
        if statement.kind in (K.COMPOUND_STMT, K.IF_STMT, K.FOR_STMT, K.WHILE_STMT, K.CXX_FOR_RANGE_STMT,
                              K.SWITCH_STMT) and self._source(statement).rstrip().endswith("}"):
            return end
        return None

    def _run_swapped(self, run):
        pairs = [k for k in range(len(run) - 1) if self._order_matters(run[k], run[k + 1])]
        if not pairs:
            return
        holes = [(s.extent.start.offset, self._end_of(s)) for s in run]
        on = lambda pair: f"vmemcheck_mutant::on({{id}} + {pairs.index(pair)})"  # noqa: E731
        # The statement at position i: the pair (i, i+1) swapped puts both
        # here, the pair (i-1, i) swapped already did, otherwise it stays.
        parts = []
        for i in range(len(run)):
            swapped_here = f"if ({on(i)}) {{{{ {{h{i + 1}}} {{h{i}}} }}}} else " if i in pairs else ""
            if i - 1 in pairs:
                parts.append(f"{swapped_here}if (!{on(i - 1)}) {{{{ {{h{i}}} }}}}")
            else:
                parts.append(f"{swapped_here}{{{{ {{h{i}}} }}}}" if swapped_here else f"{{h{i}}}")
        start, end = holes[0][0], holes[-1][1]
        variants, original = [], self.text(self.rel, start, end)
        for k in pairs:
            a, b = self.text(self.rel, *holes[k]), self.text(self.rel, *holes[k + 1])
            variants.append(f"{' '.join(b.split())} {' '.join(a.split())}")
        self.add(Point(self.rel, start, end, run[0].extent.start.line, run[-1].extent.end.line, STATEMENTS_SWAPPED,
                       self.name, original, variants, holes, "{{ " + " ".join(parts) + " }}"))

    def _order_matters(self, a, b) -> bool:
        """Skips pairs that touch nothing in common: swapping them is
        equivalent unless through calls' hidden state, which the jumps and the
        member calls below keep."""
        if a.kind in JUMPS or b.kind in JUMPS:
            return a.kind != b.kind
        return bool(self._touched(a) & self._touched(b)) or self._calls_own_member(a) or self._calls_own_member(b)

    def _touched(self, statement) -> set:
        touched = set()
        for node in statement.walk_preorder():
            if node.kind in (K.DECL_REF_EXPR, K.MEMBER_REF_EXPR) and node.referenced is not None:
                if node.referenced.kind in (K.VAR_DECL, K.PARM_DECL, K.FIELD_DECL):
                    touched.add(node.referenced.hash)
        return touched

    def _calls_own_member(self, statement) -> bool:
        for node in statement.walk_preorder():
            if node.kind == K.CALL_EXPR and node.referenced is not None and node.referenced.kind == K.CXX_METHOD:
                children = list(node.get_children())
                if children and children[0].kind == K.MEMBER_REF_EXPR and \
                        self.text(self.rel, children[0].extent.start.offset, children[0].extent.end.offset) == \
                        node.spelling:
                    return True
        return False
