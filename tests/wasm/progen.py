"""A seeded generator of small structured WebAssembly programs (WAT), for fuel tests.

Programs mix straight-line arithmetic, nested blocks with br/br_if/br_table to random
depths, counted loops, if with and without else, early returns, dead code after
br/return/unreachable, direct and indirect calls, memory loads/stores, bulk memory and
memory.grow. Every loop is bounded by its own counter, so every program terminates;
`f(x)` returns a mix of all locals so results can be compared too.
"""

from __future__ import annotations

import random


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
            return f"(call $g {self.expr(sub)})"
        if choice == 8:
            return f"(select {self.expr(sub)} {self.expr(sub)} {self.expr(sub)})"
        if choice == 9:
            return (
                f"(if (result i32) {self.expr(sub)} (then {self.expr(sub)}) "
                f"(else {self.expr(sub)}))"
            )
        if choice == 10:
            return (
                f"(call_indirect (type $t) {self.expr(sub)} "
                f"(i32.and {self.expr(sub)} (i32.const 1)))"
            )
        return f"(i32.eqz {self.expr(sub)})"

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
