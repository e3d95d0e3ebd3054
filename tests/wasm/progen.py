"""Seeded generators of small structured WebAssembly programs (WAT).

`generate(seed)`, for the fuel tests: a function `f(x)` mixing straight-line arithmetic,
nested blocks with br/br_if/br_table to random depths, counted loops, if with and without
else, early returns, dead code after br/return/unreachable, direct and indirect calls,
memory loads/stores, bulk memory and memory.grow. Every loop is bounded by its own
counter, so every program terminates; `f(x)` returns a mix of all locals so results can
be compared too.

`generate_plugin(seed)`, for the parity corpus (parity.py): a whole plugin following
wasmcli's ABI, built from the same statements and more (`PluginGenerator`), with the
input and limits of its run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


class ProgramGenerator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.loop_counters = 0
        self.labels: list[tuple[str, str]] = []  # (label, "block" | "loop"), innermost last
        self.label_count = 0

    def _label(self) -> str:
        self.label_count += 1
        return f"$L{self.label_count}"

    def expr(self, depth: int) -> str:
        r = self.rng
        choice = r.randrange(12 if depth > 0 else 3)
        if choice == 0:
            return f"(i32.const {r.randrange(-50, 200)})"
        if choice == 1:
            return f"(local.get ${r.choice('a b c x'.split())})"
        if choice == 2:
            return "(global.get $g)"
        sub = depth - 1
        if choice in (3, 4, 5):
            op = r.choice(["add", "sub", "mul", "xor", "and", "or", "shl", "shr_u", "rotl"])
            return f"(i32.{op} {self.expr(sub)} {self.expr(sub)})"
        if choice == 6:
            return f"(i32.load (i32.and {self.expr(sub)} (i32.const 0xffc)))"
        if choice == 7:
            return self.call_expr(sub)
        if choice == 8:
            return f"(select {self.expr(sub)} {self.expr(sub)} {self.expr(sub)})"
        if choice == 9:
            return (
                f"(if (result i32) {self.expr(sub)} (then {self.expr(sub)}) "
                f"(else {self.expr(sub)}))"
            )
        if choice == 10:
            return self.indirect_expr(sub)
        return f"(i32.eqz {self.expr(sub)})"

    def call_expr(self, depth: int) -> str:
        return f"(call $g {self.expr(depth)})"

    def indirect_expr(self, depth: int) -> str:
        return (
            f"(call_indirect (type $t) {self.expr(depth)} "
            f"(i32.and {self.expr(depth)} (i32.const 1)))"
        )

    def stmts(self, depth: int, count: int) -> str:
        return " ".join(self.stmt(depth) for _ in range(count))

    def _branch_target(self, kinds: tuple[str, ...] = ("block",)) -> str | None:
        targets = [label for label, kind in self.labels if kind in kinds]
        return self.rng.choice(targets) if targets else None

    def stmt(self, depth: int) -> str:
        r = self.rng
        choice = r.randrange(16 if depth > 0 else 5)
        e = self.expr
        if choice == 0:
            return f"(local.set ${r.choice('abc')} {e(2)})"
        if choice == 1:
            return f"(global.set $g {e(2)})"
        if choice == 2:
            return f"(i32.store (i32.and {e(1)} (i32.const 0xffc)) {e(2)})"
        if choice == 3:
            return "nop"
        if choice == 4:
            return f"(drop {e(2)})"
        sub = depth - 1
        if choice == 5:
            label = self._label()
            self.labels.append((label, "block"))
            body = self.stmts(sub, r.randrange(1, 5))
            self.labels.pop()
            return f"(block {label} {body})"
        if choice == 6:
            # A counted loop: the counter is decremented and tested at the bottom.
            self.loop_counters += 1
            counter = f"$n{self.loop_counters}"
            label = self._label()
            self.labels.append((label, "loop"))
            body = self.stmts(sub, r.randrange(1, 3))
            self.labels.pop()
            return (
                f"(local.set {counter} (i32.const {r.randrange(1, 6)})) "
                f"(loop {label} {body} "
                f"(local.set {counter} (i32.sub (local.get {counter}) (i32.const 1))) "
                f"(br_if {label} (i32.gt_s (local.get {counter}) (i32.const 0))))"
            )
        if choice == 7:
            then = self.stmts(sub, r.randrange(1, 3))
            if r.random() < 0.5:
                return f"(if {e(2)} (then {then}))"
            return f"(if {e(2)} (then {then}) (else {self.stmts(sub, r.randrange(1, 3))}))"
        if choice == 8:
            target = self._branch_target()
            if target is None:
                return "nop"
            dead = self.stmts(0, r.randrange(0, 3))
            return f"(br_if {target} {e(2)}) {dead}"
        if choice == 9:
            target = self._branch_target()
            if target is None:
                return "nop"
            # Dead code after an unconditional br, up to the end of the enclosing block.
            return f"(br {target}) {self.stmts(0, r.randrange(0, 3))}"
        if choice == 10:
            targets = [label for label, kind in self.labels if kind == "block"]
            if not targets:
                return "nop"
            picks = " ".join(r.choice(targets) for _ in range(r.randrange(1, 5)))
            return f"(br_table {picks} {r.choice(targets)} {e(2)}) {self.stmts(0, 1)}"
        if choice == 11:
            return f"(if {e(1)} (then (return {self._result()}) {self.stmts(0, 2)}))"
        if choice == 12:
            return (
                f"(memory.fill (i32.and {e(1)} (i32.const 0xff)) {e(1)} "
                f"(i32.and {e(1)} (i32.const 0x3f)))"
            )
        if choice == 13:
            return (
                f"(memory.copy (i32.and {e(1)} (i32.const 0xff)) "
                f"(i32.and {e(1)} (i32.const 0xff)) (i32.and {e(1)} (i32.const 0x7f)))"
            )
        if choice == 14:
            return f"(local.set $a (memory.grow (i32.and {e(1)} (i32.const 1))))"
        # A trap on a path that is never taken: the code after it is dead.
        return f"(if (i32.const 0) (then unreachable {self.stmts(0, 1)}))"

    def _result(self) -> str:
        return (
            "(i32.add (i32.add (local.get $a) (local.get $b)) "
            "(i32.add (local.get $c) (global.get $g)))"
        )

    def module(self) -> str:
        body = self.stmts(4, self.rng.randrange(5, 12))
        counters = " ".join(f"(local $n{i} i32)" for i in range(1, self.loop_counters + 1))
        return f"""
(module
  (type $t (func (param i32) (result i32)))
  (memory 1 4)
  (global $g (mut i32) (i32.const 7))
  (table 2 funcref)
  (elem (i32.const 0) $g $h)
  (func $g (type $t) (i32.add (local.get 0) (i32.const 3)))
  (func $h (type $t) (local.get 0) (i32.const 1) (i32.shl))
  (func (export "f") (param $x i32) (result i32)
    (local $a i32) (local $b i32) (local $c i32) {counters}
    {body}
    {self._result()}))
"""


def generate(seed: int) -> str:
    return ProgramGenerator(seed).module()


# -- plugins ------------------------------------------------------------------------------

# Text for data segments and log lines: no quote or backslash, so it needs no escaping.
_WORDS = "alpha beta gamma delta fuel trap log table memory grow call depth héllo wörld".split()
# Return codes a plugin may end with besides SUCCESS (0): the SDK's errors and others.
_RETURN_CODES = (-1, -2, -3, -4, -5, 1, 42)
# Limits a run may get: mostly generous, sometimes tight enough to be reached.
_FUEL = (10**7, 10**6, 200_000, 50_000, 5_000, 500, 60)
_DEPTHS = (None, None, 1, 2, 3, 5, 8, 40)  # None: the default (1000)
_MEMORY_MB = (64, 64, 1, 2)
_MAX_OUTPUT = (None, None, 1, 16, 200)  # None: the default (1 MiB)


class PluginGenerator(ProgramGenerator):
    """A plugin that follows wasmcli's ABI (docs/design.md section 1), built from the
    statements of `ProgramGenerator` and more: helper functions that call each other (to
    lower indices only, so direct calls end) and themselves (guarded by a parameter that
    may be huge, so some recursions reach the call-depth limit), `call_indirect` through a
    table that has functions of two types and null slots (so some calls trap), memory.grow
    by random deltas, memory.fill/copy/init and data.drop, br_table, loads and divisions
    that may trap, `host.log` of random ranges (text, the input, the env, random memory
    that may be out of bounds or not UTF-8), an optional start function, and random return
    codes. Every loop is counted; a run ends by itself, by a limit, or by a trap.
    """

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        r = self.rng
        self.helpers = r.randrange(1, 5)
        self.table_size = self.helpers + r.randrange(0, 3)  # null slots past the helpers
        self.mismatched = r.random() < 0.3  # a function of another type in the table
        self.text = self._text(r.randrange(8, 60))
        self.passive = self._text(r.randrange(4, 30))
        self.current = 0  # the helper being generated
        self.calls_any = False  # in process or the start function: may call every helper
        self.in_process = False

    def _text(self, length: int) -> str:
        words: list[str] = []
        while len(" ".join(words).encode()) < length:
            words.append(self.rng.choice(_WORDS))
        return " ".join(words)

    # -- expressions and statements -------------------------------------------------------

    def expr(self, depth: int) -> str:
        r = self.rng
        if depth <= 0 or r.random() < 0.8:
            return super().expr(depth)
        sub = depth - 1
        choice = r.randrange(4)
        if choice == 0:
            return "(memory.size)"
        if choice == 1:  # may be past the end of memory: a trap
            offset = r.randrange(0, 70000)
            return f"(i32.load offset={offset} (i32.and {self.expr(sub)} (i32.const 0xfff)))"
        if choice == 2:  # may divide by zero, or overflow: a trap
            op = r.choice(["div_s", "div_u", "rem_s", "rem_u"])
            return f"(i32.{op} {self.expr(sub)} {self.expr(sub)})"
        return f"(i32.const {r.choice([0, -1, 0x7FFFFFFF, -0x80000000])})"

    def call_expr(self, depth: int) -> str:
        r = self.rng
        arg = self.expr(depth)
        if self.calls_any or (self.current > 0 and r.random() < 0.6):
            callee = r.randrange(self.helpers if self.calls_any else self.current)
            return f"(call $h{callee} {arg})"
        # Recursion, guarded by $x: with a huge $x only the depth limit or fuel ends it.
        step = r.randrange(1, 4)
        return (
            f"(if (result i32) (i32.gt_s (local.get $x) (i32.const 0)) "
            f"(then (call $h{self.current} (i32.sub (local.get $x) (i32.const {step})))) "
            f"(else {arg}))"
        )

    def indirect_expr(self, depth: int) -> str:
        # Any slot, one past the table too: helpers (cycles: unbounded recursion), the
        # function of another type, null slots, out of bounds.
        slots = self.table_size + (1 if self.mismatched else 0) + 1
        return (
            f"(call_indirect (type $t) {self.expr(depth)} "
            f"(i32.rem_u {self.expr(depth)} (i32.const {slots})))"
        )

    def stmt(self, depth: int) -> str:
        r = self.rng
        if r.random() < 0.65:
            return super().stmt(depth)
        e = self.expr
        choice = r.randrange(7)
        if choice <= 2:
            return self.log_stmt()
        if choice == 3:
            delta = r.choice(
                [
                    "(i32.const 0)",
                    "(i32.const 1)",
                    "(i32.const 16)",
                    f"(i32.and {e(1)} (i32.const 7))",
                ]
            )
            return f"(local.set $b (memory.grow {delta}))"
        if choice == 4:
            length = r.choice(
                [
                    f"(i32.and {e(1)} (i32.const 0x1f))",
                    "(i32.const 0)",
                    f"(i32.const {len(self.passive.encode()) + 1})",
                ]
            )
            return f"(memory.init $p (i32.and {e(1)} (i32.const 0xffff)) (i32.const 0) {length})"
        if choice == 5:
            return "(data.drop $p)" if r.random() < 0.3 else self.log_stmt()
        if self.in_process and r.random() < 0.5:
            return f"(if {e(1)} (then (return (i32.const {r.choice(_RETURN_CODES)}))))"
        return f"(if (i32.eq {e(1)} (i32.const {r.randrange(0, 4)})) (then unreachable))"

    def log_stmt(self) -> str:
        r = self.rng
        e = self.expr
        text = len(self.text.encode())
        choice = r.randrange(8 if self.in_process else 6)
        if choice <= 2:  # text of the data segment
            start = r.randrange(text)
            return f"(call $log (i32.const {start}) (i32.const {r.randrange(text - start + 1)}))"
        if choice == 3:  # anywhere in the first two pages: may be outside memory, or not UTF-8
            start, size = (
                f"(i32.and {e(1)} (i32.const 0x1ffff))",
                f"(i32.and {e(1)} (i32.const 0x3f))",
            )
            return f"(call $log {start} {size})"
        if choice == 4:  # a random range: outside memory, mostly
            return f"(call $log {e(1)} {e(1)})"
        if choice == 5:
            return f"(call $log (i32.const 0) (i32.const {r.choice([0, 65536, 0x7FFFFFFF])}))"
        if choice == 6:
            return "(call $log (local.get $in) (local.get $in_len))"
        return "(call $log (local.get $env) (local.get $env_len))"

    # -- the module -------------------------------------------------------------------------

    def _function(self, header: str, body: str, result: str) -> str:
        counters = " ".join(f"(local $n{i} i32)" for i in range(1, self.loop_counters + 1))
        self.loop_counters = 0
        locals_ = f"(local $a i32) (local $b i32) (local $c i32) {counters}"
        return f"(func {header} {locals_}\n    {body}\n    {result})"

    def module(self) -> str:
        r = self.rng
        functions = []
        for index in range(self.helpers):
            self.current = index
            body = self.stmts(3, r.randrange(1, 6))
            functions.append(
                self._function(
                    f"$h{index} (type $t) (param $x i32) (result i32)", body, self._result()
                )
            )
        start = ""
        self.calls_any = True
        if r.random() < 0.2:
            body = self.stmts(2, r.randrange(1, 4))
            functions.append(self._function("$init (local $x i32)", body, ""))
            start = "(start $init)"
        self.in_process = True
        body = self.stmts(4, r.randrange(4, 12))
        code = r.choice(_RETURN_CODES)
        functions.append(
            self._function(
                '(export "process") (param $in i32) (param $in_len i32) (param $env i32) '
                "(param $env_len i32) (result i32) (local $x i32)",
                f"(local.set $x (local.get $in_len)) {body}",
                f"(i32.mul (i32.const {code}) (i32.eqz (i32.and {self._result()} (i32.const 7))))",
            )
        )
        initial = r.randrange(1, 3)
        maximum = r.choice(["", str(initial), str(initial + r.randrange(1, 8))])
        elements = " ".join(f"$h{i}" for i in range(self.helpers))
        mismatched = ""
        if self.mismatched:
            mismatched = (
                f"(elem (i32.const {self.table_size}) $other)\n"
                "  (func $other (type $u) (i32.add (local.get 0) (local.get 1)))"
            )
        table_size = self.table_size + (1 if self.mismatched else 0)
        newline = "\n  "
        return f"""
(module
  (import "host" "log" (func $log (param i32 i32)))
  (type $t (func (param i32) (result i32)))
  (type $u (func (param i32 i32) (result i32)))
  (memory (export "memory") {initial} {maximum})
  (global $g (mut i32) (i32.const 7))
  (table {table_size} funcref)
  (elem (i32.const 0) func {elements})
  {mismatched}
  (data (i32.const 0) "{self.text}")
  (data $p "{self.passive}")
  {start}
  {newline.join(functions)})
"""


@dataclass(frozen=True)
class GeneratedPlugin:
    """A generated plugin and how to run it: limits and input drawn from the same seed."""

    seed: int
    wat: str
    input: str
    fuel: int
    max_call_depth: int | None  # None: the default
    memory_limit_mb: int
    max_output: int | None  # None: the default

    def run_args(self) -> list[str]:
        """`wasmcli run` options for this run (besides the binary and --engine)."""
        args = [
            "--input",
            self.input,
            "--fuel",
            str(self.fuel),
            "--memory-limit-mb",
            str(self.memory_limit_mb),
        ]
        if self.max_call_depth is not None:
            args += ["--max-call-depth", str(self.max_call_depth)]
        if self.max_output is not None:
            args += ["--max-output", str(self.max_output)]
        return args


def generate_plugin(seed: int) -> GeneratedPlugin:
    wat = PluginGenerator(seed).module()
    r = random.Random(f"limits {seed}")
    return GeneratedPlugin(
        seed=seed,
        wat=wat,
        input=" ".join(r.choice(_WORDS) for _ in range(r.randrange(0, 12))),
        fuel=r.choice(_FUEL),
        max_call_depth=r.choice(_DEPTHS),
        memory_limit_mb=r.choice(_MEMORY_MB),
        max_output=r.choice(_MAX_OUTPUT),
    )
