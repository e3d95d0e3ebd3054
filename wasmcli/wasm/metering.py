"""The per-function pass of fuel metering: find basic blocks, inject the charges.

A function body is scanned once, instruction by instruction, without re-encoding any of
them: the output is the original bytes with charge sequences spliced in at recorded
positions, so immediates of every kind (SIMD constants, memargs, br_table vectors) are
copied as slices.

Where the count lives. As in wasmtime's own fuel, a function keeps its count in a local
(F, which the compiler keeps in a register) and the module's fuel global G only holds it
where another function, or the host, must see it: F is loaded from G on entry and after
every call, and stored to G before every call and wherever the function can return (its
final end, return, return_call*, and branches to the function's own label). Charging a
block is then a subtraction in a register, not a load and a store of the global.

Checks. F is checked exactly where wasmtime checks its count: on function entry (after
the entry's own charge) and at every loop header (before the loop body's block), plus
after each run-time-sized charge (not after a constant operand up to 128, which wasmtime
consumes as it goes); a run traps as out of fuel when F <= 0 there. Between
checks a run may overdraw, as on wasmtime, so a run completes, runs out of fuel, or
traps on its own at the same point on both engines. The trap stores FUEL_EXHAUSTED in G
first: that value, and nothing else, tells the host the run ran out of fuel (an overdraw
saved before a call is negative too, but never that low).

Block boundaries. A block is charged right after the instruction that starts it, for
the cost of everything up to the next boundary:
- function entry (plus 1: wasmtime charges every function entry; checked before the
  first block's cost);
- after loop, if, else, end (branch targets and joins);
- after call, call_indirect and call_ref: the callee's entry check sees what the caller
  ran up to and including the call, and no more (wasmtime flushes its count there);
- after br, br_if, br_table, br_on_null, br_on_non_null, return, return_call*,
  unreachable; code after an unconditional one is dead until the enclosing else/end, and
  is neither charged nor instrumented, as in wasmtime.
`block` does not start a new block (entering it is unconditional).

Run-time-sized costs (wasmtime 50 charges them by default, on top of the 1 for the
instruction): memory.copy/fill/init and table.copy/fill/init charge their length n;
memory.grow and table.grow charge the delta when the growth succeeds (and wasmtime
checks only then: a growth that failed is neither charged nor checked). They are charged
right after the instruction, from the operand saved by a `local.tee` before it, so an
out-of-bounds copy ends as a plugin trap having charged nothing, not as out of fuel:
wasmtime checks bounds before fuel too. An operand that is an `i32.const`/`i64.const`
right before the instruction is known statically and charged with its block instead: a
length up to 4096, and a grow delta up to 128, which wasmtime charges even when the
growth fails (measured: a constant delta d is charged whenever d <= max(maximum -
minimum, 128) pages or elements; a failed growth by a run-time delta is not charged).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import opcodes as o
from .errors import WasmFormatError
from .leb128 import LebError, decode_u, encode_s, encode_u
from .reader import Reader

_I32 = b"\x7f"
_I64 = b"\x7e"

# Pseudo-events spliced in around dynamic-cost instructions.
_TEE = 0  # before: save the length/delta operand
_CHARGE_N = 1  # after: charge the saved length
_CHARGE_GROW = 2  # after: charge the saved delta unless the result is -1
_SAVE = 3  # before a call or an exit: F to G

# What is spliced in at one position, in this order (the second field of an Insert).
_LOAD = 0  # G to F: on entry and after a call
_ENTRY = 1  # the entry's own charge, before its check
_AFTER = 2  # _CHARGE_N, _CHARGE_GROW (and their check) after the instruction
_CHECK = 3  # out of fuel when F <= 0: on entry, at loop headers, after bulk operations
_CHARGE = 4  # the cost of the block that starts here
_EVENT = 5  # _TEE, _SAVE: before an instruction

# What G holds after the out-of-fuel trap: an overdraw is never this low.
FUEL_EXHAUSTED = -(2**63)

# The constant delta wasmtime charges even for a growth that fails (see module doc).
_CONST_GROW_ALWAYS_CHARGED = 128
# A constant bulk length up to this is charged with its block. Larger ones are charged
# after the instruction like run-time lengths, so that a huge constant (a plugin bug)
# still ends as an out-of-bounds trap, as on wasmtime, not as out of fuel.
_CONST_LENGTH_FOLDED = 4096
# A constant operand up to this is consumed by wasmtime like an operator's cost, with no
# fuel check after the instruction; above it, and for run-time operands, wasmtime checks
# right after the instruction (measured on every bulk operation and grow, wasmtime 50).
_CONST_UNCHECKED = 128
# wasmtime's (and wasmparser's) limit on the locals of one function.
_MAX_LOCALS = 50_000


@dataclass(frozen=True)
class MeterContext:
    """Module-wide facts the per-function pass needs."""

    fuel_global: int
    memory64: tuple[bool, ...]
    table64: tuple[bool, ...]


def _index_width(flags: tuple[bool, ...], index: int, what: str, where: str) -> bool:
    if index >= len(flags):
        raise WasmFormatError(f"{what} index {index} out of range in {where}")
    return flags[index]


def meter_function(
    wasm: bytes,
    start: int,
    end: int,
    num_params: int,
    ctx: MeterContext,
    func_index: int,
    entry_cost: int = 1,
) -> bytes:
    """The function body at wasm[start:end] (locals and code), with fuel charges injected;
    `entry_cost` is charged on entry on top of the first block (1: wasmtime's charge for
    entering a function)."""
    where = f"function {func_index}"
    reader = Reader(wasm, start, end, f"the body of {where}")
    groups = reader.u32()
    groups_start = reader.pos - start
    num_locals = num_params
    for _ in range(groups):
        num_locals += reader.u32()
        code = reader.u8()
        if code == 0x63 or code == 0x64:
            reader.skip_leb()
    locals_end = reader.pos - start
    body = wasm[start:end]

    try:
        inserts, need_i32, need_r64 = _scan(body, locals_end, ctx, where, start, entry_cost)
    except IndexError:
        raise WasmFormatError(
            f"truncated module: the body of {where} (bytes {start:#x}-{end:#x}) ends inside "
            "an instruction"
        ) from None
    except LebError as exc:
        raise WasmFormatError(
            f"malformed LEB128 integer in {where} at byte {start + exc.pos:#x}"
        ) from None

    # Extra locals: F and T (i64) always (the count, a 64-bit operand); X32/R32 (i32) for
    # 32-bit dynamic costs; R64 (i64) for the result of a 64-bit grow.
    new_groups = [b"\x02" + _I64]
    added = 2
    if need_i32:
        new_groups.append(b"\x02" + _I32)
        added += 2
    if need_r64:
        new_groups.append(b"\x01" + _I64)
        added += 1
    if num_locals + added > _MAX_LOCALS:
        raise WasmFormatError(f"{where} has too many locals to add the fuel counter's")
    emit = _Emitter(ctx.fuel_global, num_locals, need_i32)

    parts = [encode_u(groups + len(new_groups)), body[groups_start:locals_end], *new_groups]
    last = locals_end
    inserts.sort()
    charge_prefix, charge_suffix = emit.charge_prefix, emit.charge_suffix
    for pos, order, _seq, value, is64 in inserts:
        parts.append(body[last:pos])
        if order == _CHARGE or order == _ENTRY:
            parts += (charge_prefix, encode_s(value), charge_suffix)
        elif order == _LOAD:
            parts.append(emit.load)
        elif order == _CHECK:
            parts.append(emit.check)
        else:  # _AFTER, _EVENT
            parts.append(emit.event(value, is64))
        last = pos
    parts.append(body[last:])
    return b"".join(parts)


class _Emitter:
    """The byte sequences spliced into one function: F is its count (see the module doc),
    G the module's fuel global, the others temps of the run-time-sized charges."""

    def __init__(self, fuel_global: int, first_local: int, has_i32_temps: bool) -> None:
        g = encode_u(fuel_global)
        f = encode_u(first_local)
        self.g = g
        self.f = f
        self.t = encode_u(first_local + 1)
        self.x32 = encode_u(first_local + 2)
        self.r32 = encode_u(first_local + 3)
        self.r64 = encode_u(first_local + (4 if has_i32_temps else 2))
        # i64.const FUEL_EXHAUSTED; global.set G; unreachable
        exhausted = b"\x42" + encode_s(FUEL_EXHAUSTED) + b"\x24" + g + b"\x00"
        # i64.const 1; i64.lt_s; if <exhausted> end  (with F on the stack)
        self.trap_if_empty = b"\x42\x01\x53\x04\x40" + exhausted + b"\x0b"
        # local.get F; <trap if F <= 0>
        self.check = b"\x20" + f + self.trap_if_empty
        # local.get F; i64.const <cost>; i64.sub; local.set F
        self.charge_prefix = b"\x20" + f + b"\x42"
        self.charge_suffix = b"\x7d\x21" + f
        self.load = b"\x23" + g + b"\x21" + f  # global.get G; local.set F
        self.save = b"\x20" + f + b"\x24" + g  # local.get F; global.set G

    def event(self, event: int, is64: bool) -> bytes:
        if event == _SAVE:
            return self.save
        if event == _TEE:  # keeps the operand on the stack, and a copy in a temp
            return b"\x22" + (self.t if is64 else self.x32)
        # local.get N (as i64)
        load_n = b"\x20" + self.t if is64 else b"\x20" + self.x32 + b"\xad"  # i64.extend_i32_u
        # ...; i64.sub; local.tee F; <trap if F <= 0>
        charged = b"\x7d\x22" + self.f + self.trap_if_empty
        if event == _CHARGE_N:  # local.get F; N; i64.sub; ...
            return b"\x20" + self.f + load_n + charged
        # After a grow: local.tee R; if R != -1 then local.get F; N; i64.sub; ... end (a
        # growth that failed is neither charged nor checked, as on wasmtime)
        if is64:
            keep, ne = b"\x22" + self.r64, b"\x20" + self.r64 + b"\x42\x7f\x52"
        else:
            keep, ne = b"\x22" + self.r32, b"\x20" + self.r32 + b"\x41\x7f\x47"
        return keep + ne + b"\x04\x40\x20" + self.f + load_n + charged + b"\x0b"


# (position, what: _LOAD.._EVENT, seq, cost or event, 64-bit operand)
Insert = tuple[int, int, int, int, bool]


# Run-time-sized operations: which index space their immediates name, and how many of
# them decide the operand's width.
_OPERAND_SPACE: dict[str, tuple[str | None, int]] = {
    "memory.grow": ("memory", 1),
    "memory.fill": ("memory", 1),
    "memory.copy": ("memory", 2),
    "memory.init": (None, 0),
    "table.grow": ("table", 1),
    "table.fill": ("table", 1),
    "table.copy": ("table", 2),
    "table.init": (None, 0),
}


class _Dynamic:
    """The run-time-sized charges of one function (bulk operations and grows)."""

    def __init__(
        self, ctx: MeterContext, where: str, file_offset: int, inserts: list[Insert]
    ) -> None:
        self.ctx = ctx
        self.where = where
        self.file_offset = file_offset
        self.inserts = inserts
        self.seq = 0
        self.need_i32 = False  # 32-bit operands saved in temps
        self.need_r64 = False  # a 64-bit grow's result saved in a temp

    def width(self, operation: str, immediates: list[int]) -> bool:
        """Whether the length or delta operand of `operation` is an i64: it is when the
        memories or tables it names are 64-bit (all of them, for a copy)."""
        space, count = _OPERAND_SPACE[operation]
        if space is None:  # memory.init, table.init: the length is always an i32
            return False
        flags = self.ctx.memory64 if space == "memory" else self.ctx.table64
        return all(_index_width(flags, i, space, self.where) for i in immediates[:count])

    def charge(
        self,
        operation: str,
        immediates: list[int],
        body: bytes,
        start: int,
        after: int,
        const_start: int,
        const_end: int,
    ) -> int:
        """Charge the operand of the instruction at body[start:after]; returns the part
        known now (a constant operand right before it), to add to the block's cost."""
        is64 = self.width(operation, immediates)
        event = _CHARGE_GROW if operation.endswith(".grow") else _CHARGE_N
        if const_end == start and _const_charge_ok(body, const_start, is64, event):
            # Known now: charged with the block. wasmtime checks right after the
            # instruction only above _CONST_UNCHECKED (measured: a smaller constant is
            # consumed as it goes, like any operator's cost).
            delta = _const_delta(body, const_start, is64)
            if delta > _CONST_UNCHECKED:
                self.inserts.append((after, _CHECK, 0, 0, False))
            return delta
        self.need_i32 |= not is64
        self.need_r64 |= is64 and event == _CHARGE_GROW
        self.inserts.append((start, _EVENT, self.seq, _TEE, is64))
        self.inserts.append((after, _AFTER, self.seq + 1, event, is64))
        self.seq += 2
        return 0


def _skip_leb(body: bytes, p: int) -> int:
    while body[p] & 0x80:
        p += 1
    return p + 1


def _skip_block_type(body: bytes, p: int) -> int:
    """A block type that `_scan` does not step over itself (it does the empty type and
    the one-byte value types): a reference type, which carries a heap type, or a type
    index (s33)."""
    b = body[p]
    return _skip_leb(body, p + 1) if b == 0x63 or b == 0x64 else _skip_leb(body, p)


def _scan(
    body: bytes, p: int, ctx: MeterContext, where: str, file_offset: int, entry_cost: int
) -> tuple[list[Insert], bool, bool]:
    """Find the basic blocks of a function body and what each costs (see the module doc).

    Returns the charges to splice in, sorted later by position, and which temp locals the
    run-time-sized charges need.
    """
    kind = o.KIND
    PLAIN, FREE, LEB, CONST, MEMARG = o.PLAIN, o.FREE, o.LEB, o.CONST, o.MEMARG
    END, BLOCK, LOOP, IF, ELSE = o.END, o.BLOCK, o.LOOP, o.IF, o.ELSE
    BR, BR_IF, BR_TABLE = o.BR, o.BR_IF, o.BR_TABLE
    # Entry: F from G, the entry's own charge, the check, then the first block's charge.
    inserts: list[Insert] = [(p, _LOAD, 0, 0, False), (p, _CHECK, 0, 0, False)]
    if entry_cost:
        inserts.append((p, _ENTRY, 0, entry_cost, False))
    dynamic = _Dynamic(ctx, where, file_offset, inserts)
    frames: list[bool] = []  # was the code reachable where each open frame started
    reachable = True
    cost = 0
    ins = p  # where the current block's charge goes
    const_start = const_end = -1

    while True:
        op = body[p]
        k = kind[op]
        # The common cases first, inline, without touching the control state.
        if k == LEB:
            call_at = p
            p += 1
            while body[p] & 0x80:
                p += 1
            p += 1
            cost += 1
            if op != 0x10 and op != 0x14:  # not call, call_ref
                continue
            # A call ends the block (see the module doc): F to G before, back after.
            if reachable:
                if cost:
                    inserts.append((ins, _CHARGE, 0, cost, False))
                inserts.append((call_at, _EVENT, 0, _SAVE, False))
                inserts.append((p, _LOAD, 0, 0, False))
            cost = 0
            ins = p
            continue
        if k == PLAIN:
            p += 1
            cost += 1
            continue
        if k == MEMARG:
            p += 1
            flags = body[p]
            if flags < 0x40:
                p += 1
            else:
                value, p = decode_u(body, p)
                if value & 0x40:  # multi-memory: a memory index follows
                    p = _skip_leb(body, p)
            while body[p] & 0x80:
                p += 1
            p += 1
            cost += 1
            continue
        if k == CONST:
            const_start = p
            p += 1
            while body[p] & 0x80:
                p += 1
            p += 1
            const_end = p
            cost += 1
            continue
        if k == FREE:
            p += 1
            continue

        start = p
        # Instructions that end a basic block say how the code after them starts
        # (reachable or dead, and where its charge goes), then share one closing step.
        if k == END:
            p += 1
            if not frames:  # the function's own end: it returns, F to G
                if reachable and cost:
                    inserts.append((ins, _CHARGE, 0, cost, False))
                if reachable:
                    inserts.append((start, _EVENT, 0, _SAVE, False))
                if p != len(body):
                    raise WasmFormatError(
                        f"malformed {where}: code continues after its final end "
                        f"at byte {file_offset + p:#x}"
                    )
                return inserts, dynamic.need_i32, dynamic.need_r64
            next_reachable = frames.pop()
            next_ins = p
        elif k == BLOCK or k == LOOP or k == IF:
            b = body[p + 1]
            if 0x40 <= b < 0x80 and b != 0x63 and b != 0x64:  # empty or a value type
                p += 2
            else:
                p = _skip_block_type(body, p + 1)
            frames.append(reachable)
            if k == BLOCK:  # entering a block is unconditional: no new basic block
                continue
            cost += k == IF
            next_reachable = reachable
            next_ins = p
            if k == LOOP and reachable:  # wasmtime checks at every loop header
                inserts.append((p, _CHECK, 0, 0, False))
        elif k == ELSE:
            p += 1
            if not frames:
                at = file_offset + start
                raise WasmFormatError(f"malformed {where}: else without if at byte {at:#x}")
            next_reachable = frames[-1]
            next_ins = p
        elif k == BR_IF or k == BR:
            depth, p = decode_u(body, p + 1)
            if depth == len(frames) and reachable:  # to the function's label: a return
                inserts.append((start, _EVENT, 0, _SAVE, False))
            cost += 1
            next_reachable = reachable and k == BR_IF
            next_ins = p
        elif k == BR_TABLE:
            count, p = decode_u(body, p + 1)
            returns = False
            for _ in range(count + 1):
                depth, p = decode_u(body, p)
                returns |= depth == len(frames)
            if returns and reachable:
                inserts.append((start, _EVENT, 0, _SAVE, False))
            cost += 1
            next_reachable = False
            next_ins = p
        elif k == o.RETURN or k == o.UNREACHABLE:
            p += 1
            if k == o.RETURN and reachable:
                inserts.append((start, _EVENT, 0, _SAVE, False))
            next_reachable = False
            next_ins = p
        elif k == o.RETURN_CALL or k == o.RETURN_CALL_INDIRECT:
            p = _skip_leb(body, p + 1)
            if k == o.RETURN_CALL_INDIRECT:
                p = _skip_leb(body, p)
            cost += 1
            if reachable:  # the callee reads G
                inserts.append((start, _EVENT, 0, _SAVE, False))
            next_reachable = False
            next_ins = p
        elif k == o.CALL_INDIRECT:
            p = _skip_leb(body, _skip_leb(body, p + 1))
            cost += 1
            if reachable:  # a call ends the block: F to G before, back after
                inserts.append((start, _EVENT, 0, _SAVE, False))
                inserts.append((p, _LOAD, 0, 0, False))
            next_reachable = reachable
            next_ins = p
        else:
            p, cost, checked = _other(
                body, start, k, cost, reachable, dynamic, const_start, const_end
            )
            if not checked:
                continue
            # A run-time-sized charge is checked right after its instruction: the block
            # ends there, so that the check sees no cost of what follows.
            next_reachable = reachable
            next_ins = p

        # The one closing step: the block that ends here is charged where it began (dead
        # code is not charged).
        if reachable and cost:
            inserts.append((ins, _CHARGE, 0, cost, False))
        cost = 0
        reachable = next_reachable
        ins = next_ins


def _other(
    body: bytes,
    start: int,
    k: int,
    cost: int,
    reachable: bool,
    dynamic: _Dynamic,
    const_start: int,
    const_end: int,
) -> tuple[int, int, bool]:
    """The less common instructions that do not branch; returns the position after the
    instruction, the block's cost so far, and whether fuel is checked right after it
    (a run-time-sized charge: the block then ends there)."""
    where, file_offset = dynamic.where, dynamic.file_offset
    p = start
    if k == o.F32:
        return p + 5, cost + 1, False
    if k == o.F64:
        return p + 9, cost + 1, False
    if k == o.SELECT_T:
        count, p = decode_u(body, p + 1)
        for _ in range(count):
            b = body[p]
            p = _skip_leb(body, p + 1) if b == 0x63 or b == 0x64 else p + 1
        return p, cost + 1, False
    if k == o.MEMORY_GROW:
        memory, p = decode_u(body, p + 1)
        cost += 1
        if reachable:
            cost += dynamic.charge("memory.grow", [memory], body, start, p, const_start, const_end)
        return p, cost, reachable
    if k == o.PREFIX_FC:
        sub, p = decode_u(body, p + 1)
        spec = o.FC_OPS.get(sub)
        if spec is None:
            raise _unknown(body, start, where, file_offset)
        immediates: list[int] = []
        for _ in range(spec[0]):
            value, p = decode_u(body, p)
            immediates.append(value)
        cost += 1
        if spec[1] and reachable:
            cost += dynamic.charge(spec[1], immediates, body, start, p, const_start, const_end)
            return p, cost, True
        return p, cost, False
    if k == o.PREFIX_FD or k == o.PREFIX_FE:
        return _skip_prefixed(body, start, where, file_offset), cost + 1, False
    if k == o.UNSUPPORTED:
        name, proposal = o.UNSUPPORTED_OPS[body[start]]
        raise _unsupported(name, proposal, where, file_offset + start)
    raise _unknown(body, start, where, file_offset)


def _skip_prefixed(body: bytes, start: int, where: str, file_offset: int) -> int:
    """Step over a SIMD (0xFD) or threads (0xFE) instruction."""
    sub, p = decode_u(body, start + 1)
    if body[start] == 0xFD:
        shape = o.FD_OPS.get(sub)
        if shape is None:
            raise _unknown(body, start, where, file_offset)
        if shape == o.SIMD_MEMARG or shape == o.SIMD_MEMARG_LANE:
            p = _skip_memarg(body, p)
            return p + 1 if shape == o.SIMD_MEMARG_LANE else p
        if shape == o.SIMD_BYTES16:
            return p + 16
        return p + 1 if shape == o.SIMD_LANE else p
    if sub == o.FE_FENCE:
        return p + 1
    if sub in o.FE_MEMARG_OPS:
        return _skip_memarg(body, p)
    raise _unknown(body, start, where, file_offset)


def _skip_memarg(body: bytes, p: int) -> int:
    flags, p = decode_u(body, p)
    if flags & 0x40:
        _, p = decode_u(body, p)
    _, p = decode_u(body, p)
    return p


def _const_delta(body: bytes, const_start: int, is64: bool) -> int:
    return o.const_value(body, const_start) & (0xFFFFFFFFFFFFFFFF if is64 else 0xFFFFFFFF)


def _const_charge_ok(body: bytes, const_start: int, is64: bool, event: int) -> bool:
    # The const must be of the operand's type (i32.const for a 32-bit memory).
    if body[const_start] != (0x42 if is64 else 0x41):
        return False
    limit = _CONST_GROW_ALWAYS_CHARGED if event == _CHARGE_GROW else _CONST_LENGTH_FOLDED
    return _const_delta(body, const_start, is64) <= limit


def _unknown(body: bytes, start: int, where: str, file_offset: int) -> WasmFormatError:
    prefix = body[start]
    refused = o.UNSUPPORTED_PREFIXED.get(prefix)
    if refused is not None and decode_u(body, start + 1)[0] in refused[0]:
        return _unsupported(refused[1], refused[2], where, file_offset + start)
    return WasmFormatError(
        f"unknown opcode {o.opcode_text(body, start)} in {where} at byte {file_offset + start:#x}"
    )


def _unsupported(name: str, proposal: str, where: str, at: int) -> WasmFormatError:
    return WasmFormatError(
        f"unsupported instruction {name} ({proposal} proposal) in {where} at byte {at:#x}: "
        "fuel metering does not support it"
    )
