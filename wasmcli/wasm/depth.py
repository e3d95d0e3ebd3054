"""`CallDepth`: a deterministic call-depth limit, counted in the module itself.

An engine's native stack overflows at a depth that depends on the engine, its version
and the size of each frame, so the same recursion could succeed on one engine and trap
on the other. This pass makes the limit a number of frames, the same on every engine:

- a mutable i32 global, exported as `DEPTH_EXPORT`, holds the frames left; it starts at
  the limit (compiled in: part of the pass's cache key);
- on entry, every function of the module checks it: at 0, it stores `DEPTH_EXCEEDED`
  (-1) and executes `unreachable`, so after a trap the host tells the depth limit from the
  plugin's own traps by that value alone; otherwise it takes one frame;
- every exit gives the frame back: the body is wrapped in a block, so that falling off
  its end and every branch out of it pass the same one place, and a `return` (or a tail
  call, whose callee takes a frame of its own) gives it back just before.
A trap needs no exit: the instance is discarded. A frame counts 1 whatever its size.
Exceptions could unwind past the exits, so the exception-handling instructions (which
wasmcli refuses anyway) are refused here too, as are GC and stack switching.

Fuel. The code added to each call costs `CALL_COST` operators under wasmtime's cost model
(`ENTRY_COST` at entry, `EXIT_COST` at the exit taken). Whatever counts fuel charges them;
each entry refunds `CALL_COST` into the overhead global (pipeline.py), so a completed call
reports exactly the fuel of the plugin's own code.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import opcodes as o
from .errors import WasmFormatError
from .leb128 import LebError, decode_u, encode_s, encode_u
from .pipeline import EXPORT_GLOBAL, BodyEdit, FunctionSite, ModuleEditor, locals_end

DEPTH_EXPORT = "__wasmcli_depth"
_END = 0x0B
DEPTH_EXCEEDED = -1
# Bump when the code this pass emits changes (part of the compiled-module cache key).
VERSION = 1

# The normal path of the entry code: global.get, i32.eqz, if (3: the `if` body runs only
# to trap), global.get, i32.const, i32.sub, global.set (4), and the refund: global.get,
# i64.const, i64.add, global.set (4). The exit code: global.get, i32.const, i32.add,
# global.set (4). block, end and unreachable are free in wasmtime's model.
ENTRY_COST = 11
EXIT_COST = 4
CALL_COST = ENTRY_COST + EXIT_COST


@dataclass(frozen=True)
class CallDepth:
    """The pass: at most `max_depth` frames of the module's functions at once."""

    max_depth: int

    def __post_init__(self) -> None:
        if not 1 <= self.max_depth < 2**31:
            raise ValueError(f"max_depth must be 1 to 2^31-1 (got {self.max_depth})")

    def key(self) -> tuple[object, ...]:
        return ("call-depth", VERSION, self.max_depth)

    def apply(self, module: ModuleEditor) -> None:
        # (global (mut i32) (i32.const max_depth))
        depth = module.add_global(b"\x7f\x01\x41" + encode_s(self.max_depth) + b"\x0b")
        module.add_export(DEPTH_EXPORT, EXPORT_GLOBAL, depth)
        code = _Code(encode_u(depth), encode_u(module.overhead_global()))
        block_types: dict[int, bytes] = {}

        def block_type(site: FunctionSite) -> bytes:
            found = block_types.get(site.type_index)
            if found is None:
                found = _block_type(module, site)
                block_types[site.type_index] = found
            return found

        def rewrite(data: bytes, start: int, end: int, site: FunctionSite) -> BodyEdit:
            return _rewrite(data, start, end, site, code, block_type(site))

        module.rewrite_bodies(rewrite)


class _Code:
    """The byte sequences spliced into every function, for the module's two globals."""

    def __init__(self, depth: bytes, overhead: bytes) -> None:
        # global.get D; i32.eqz; if; i32.const -1; global.set D; unreachable; end;
        # global.get D; i32.const 1; i32.sub; global.set D;
        # global.get O; i64.const CALL_COST; i64.add; global.set O
        self.entry = (
            b"\x23" + depth + b"\x45\x04\x40\x41" + encode_s(DEPTH_EXCEEDED) + b"\x24" + depth
            + b"\x00\x0b"
            + b"\x23" + depth + b"\x41\x01\x6b\x24" + depth
            + b"\x23" + overhead + b"\x42" + encode_s(CALL_COST) + b"\x7c\x24" + overhead
        )  # fmt: skip
        # global.get D; i32.const 1; i32.add; global.set D
        self.exit = b"\x23" + depth + b"\x41\x01\x6a\x24" + depth


def _block_type(module: ModuleEditor, site: FunctionSite) -> bytes:
    """The block type of the wrapper: the function's results, with no parameters."""
    results = module.results_vector(site.type_index)
    count = len(site.type.results)
    if count == 0:
        return b"\x40"
    if count == 1:
        return results[1:]  # the one value type (one byte, or a reference type's bytes)
    return encode_s(module.function_type(b"\x00", results))


def _rewrite(
    data: bytes, start: int, end: int, site: FunctionSite, code: _Code, block_type: bytes
) -> BodyEdit:
    where = f"function {site.index}"
    code_start = locals_end(data, start, end, f"the body of {where}")
    try:
        exits = _exits(data, code_start, end, where, site.file_offset - start)
    except IndexError:
        raise WasmFormatError(
            f"truncated module: the body of {where} ends inside an instruction"
        ) from None
    except LebError as exc:
        raise WasmFormatError(f"malformed LEB128 integer in {where} at byte {exc.pos:#x}") from None
    if end <= code_start or data[end - 1] != _END:
        raise WasmFormatError(f"malformed {where}: its body does not end with `end`")
    head = code.entry + b"\x02" + block_type
    tail = b"\x0b" + code.exit
    parts = [data[start:code_start], head]
    splices = [(code_start - start, len(head))]
    last = code_start
    for at in exits:
        parts += (data[last:at], code.exit)
        splices.append((at - start, len(code.exit)))
        last = at
    final_end = end - 1
    parts += (data[last:final_end], tail, data[final_end:end])
    splices.append((final_end - start, len(tail)))
    return BodyEdit(b"".join(parts), tuple(splices))


def _skip(body: bytes, p: int) -> int:
    while body[p] & 0x80:
        p += 1
    return p + 1


def _exits(body: bytes, p: int, end: int, where: str, file_shift: int) -> list[int]:
    """The positions of the `return`s and tail calls in body[p:end] (dead code included:
    an exit spliced in there is never run, and still valid)."""
    kind = o.KIND
    PLAIN, FREE, LEB, CONST, MEMARG = o.PLAIN, o.FREE, o.LEB, o.CONST, o.MEMARG
    exits: list[int] = []
    while p < end:
        op = body[p]
        k = kind[op]
        if k == PLAIN or k == FREE:
            p += 1
        elif k == LEB or k == CONST or k == o.BR or k == o.BR_IF:
            p = _skip(body, p + 1)
        elif k == MEMARG:
            flags, p = decode_u(body, p + 1)
            if flags & 0x40:  # a memory index follows
                p = _skip(body, p)
            p = _skip(body, p)
        elif k == o.END or k == o.ELSE or k == o.UNREACHABLE:
            p += 1
        elif k == o.BLOCK or k == o.LOOP or k == o.IF:
            b = body[p + 1]
            if b == 0x63 or b == 0x64:
                p = _skip(body, p + 2)
            elif 0x40 <= b < 0x80:
                p += 2
            else:
                p = _skip(body, p + 1)
        elif k == o.RETURN:
            exits.append(p)
            p += 1
        elif k == o.RETURN_CALL:
            exits.append(p)
            p = _skip(body, p + 1)
        elif k == o.RETURN_CALL_INDIRECT:
            exits.append(p)
            p = _skip(body, _skip(body, p + 1))
        elif k == o.CALL_INDIRECT:
            p = _skip(body, _skip(body, p + 1))
        elif k == o.BR_TABLE:
            count, p = decode_u(body, p + 1)
            for _ in range(count + 1):
                p = _skip(body, p)
        elif k == o.F32:
            p += 5
        elif k == o.F64:
            p += 9
        elif k == o.SELECT_T:
            count, p = decode_u(body, p + 1)
            for _ in range(count):
                b = body[p]
                p = _skip(body, p + 1) if b == 0x63 or b == 0x64 else p + 1
        elif k == o.MEMORY_GROW:
            p = _skip(body, p + 1)
        elif k == o.PREFIX_FC:
            p = _skip_fc(body, p, where, file_shift)
        elif k == o.PREFIX_FD or k == o.PREFIX_FE:
            after = o.skip_prefixed(body, p)
            if after is None:
                raise WasmFormatError(
                    f"unknown opcode {o.opcode_text(body, p)} in {where} "
                    f"at byte {file_shift + p:#x}"
                )
            p = after
        elif k == o.UNSUPPORTED:
            name, proposal = o.UNSUPPORTED_OPS[op]
            raise _unsupported(name, proposal, where, file_shift + p)
        else:
            raise WasmFormatError(
                f"unknown opcode {o.opcode_text(body, p)} in {where} at byte {file_shift + p:#x}"
            )
    return exits


def _skip_fc(body: bytes, p: int, where: str, file_shift: int) -> int:
    sub, q = decode_u(body, p + 1)
    spec = o.FC_OPS.get(sub)
    if spec is None:
        refused = o.UNSUPPORTED_PREFIXED.get(0xFC)
        if refused is not None and sub in refused[0]:
            raise _unsupported(refused[1], refused[2], where, file_shift + p)
        raise WasmFormatError(
            f"unknown opcode {o.opcode_text(body, p)} in {where} at byte {file_shift + p:#x}"
        )
    for _ in range(spec[0]):
        q = _skip(body, q)
    return q


def _unsupported(name: str, proposal: str, where: str, at: int) -> WasmFormatError:
    return WasmFormatError(
        f"unsupported instruction {name} ({proposal} proposal) in {where} at byte {at:#x}: "
        "the call-depth limit does not support it"
    )
