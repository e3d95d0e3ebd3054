"""Bracketing every function: code run at its entry and at each of its exits.

Passes that follow calls (the call-depth count, depth.py; the profiler's events,
profile.py) splice the same shape into every function the module defines:

    <entry>  block (type: the function's results)  <body>  end  <exit>

so that falling off the body's end and every branch out of it (a `br` to the function's
outermost label now targets the wrapper block) pass one exit, and a `return`, or a tail
call (which leaves this frame for the callee's), gets `<exit>` spliced in just before it.
A trap needs no exit: the instance is discarded.

Exceptions could unwind past the exits, so the exception-handling instructions are
refused here, as are GC and stack switching (wasmcli refuses all three anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import opcodes as o
from .errors import WasmFormatError
from .leb128 import LebError, decode_u, encode_s
from .pipeline import BodyEdit, FunctionSite, ModuleEditor, locals_end

_END = 0x0B


@dataclass(frozen=True)
class Bracket:
    """What one function gets: `entry` before its body, `exit` at each exit. `feature`
    names the pass in refusals ("the call-depth limit does not support it")."""

    entry: bytes
    exit: bytes
    feature: str


def wrapper_block_type(module: ModuleEditor, site: FunctionSite) -> bytes:
    """The block type of the wrapper: the function's results, with no parameters."""
    results = module.results_vector(site.type_index)
    count = len(site.type.results)
    if count == 0:
        return b"\x40"
    if count == 1:
        return results[1:]  # the one value type (one byte, or a reference type's bytes)
    return encode_s(module.function_type(b"\x00", results))


def bracket_functions(module: ModuleEditor, bracket: Callable[[FunctionSite], Bracket]) -> None:
    """Bracket every function the module defines with `bracket(site)` (a body rewriter of
    the pass calling this)."""
    block_types: dict[int, bytes] = {}

    def rewrite(data: bytes, start: int, end: int, site: FunctionSite) -> BodyEdit:
        block_type = block_types.get(site.type_index)
        if block_type is None:
            block_type = block_types[site.type_index] = wrapper_block_type(module, site)
        return bracket_body(data, start, end, site, bracket(site), block_type)

    module.rewrite_bodies(rewrite)


def bracket_body(
    data: bytes, start: int, end: int, site: FunctionSite, bracket: Bracket, block_type: bytes
) -> BodyEdit:
    """The body data[start:end] bracketed, with its splices."""
    where = f"function {site.index}"
    code_start = locals_end(data, start, end, f"the body of {where}")
    try:
        exits = exit_positions(data, code_start, end, where, site.file_offset - start, bracket)
    except IndexError:
        raise WasmFormatError(
            f"truncated module: the body of {where} ends inside an instruction"
        ) from None
    except LebError as exc:
        raise WasmFormatError(f"malformed LEB128 integer in {where} at byte {exc.pos:#x}") from None
    if end <= code_start or data[end - 1] != _END:
        raise WasmFormatError(f"malformed {where}: its body does not end with `end`")
    head = bracket.entry + b"\x02" + block_type
    tail = b"\x0b" + bracket.exit
    parts = [data[start:code_start], head]
    splices = [(code_start - start, len(head))]
    last = code_start
    for at in exits:
        parts += (data[last:at], bracket.exit)
        splices.append((at - start, len(bracket.exit)))
        last = at
    final_end = end - 1
    parts += (data[last:final_end], tail, data[final_end:end])
    splices.append((final_end - start, len(tail)))
    return BodyEdit(b"".join(parts), tuple(splices))


def _skip(body: bytes, p: int) -> int:
    while body[p] & 0x80:
        p += 1
    return p + 1


def exit_positions(
    body: bytes, p: int, end: int, where: str, file_shift: int, bracket: Bracket
) -> list[int]:
    """The positions of the `return`s and tail calls in body[p:end] (dead code included:
    an exit spliced in there is never run, and still valid). `file_shift` turns a position
    into an offset in the plugin's file, for messages."""
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
            p = _skip_fc(body, p, where, file_shift, bracket)
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
            raise _unsupported(name, proposal, where, file_shift + p, bracket)
        else:
            raise WasmFormatError(
                f"unknown opcode {o.opcode_text(body, p)} in {where} at byte {file_shift + p:#x}"
            )
    return exits


def _skip_fc(body: bytes, p: int, where: str, file_shift: int, bracket: Bracket) -> int:
    sub, q = decode_u(body, p + 1)
    spec = o.FC_OPS.get(sub)
    if spec is None:
        refused = o.UNSUPPORTED_PREFIXED.get(0xFC)
        if refused is not None and sub in refused[0]:
            raise _unsupported(refused[1], refused[2], where, file_shift + p, bracket)
        raise WasmFormatError(
            f"unknown opcode {o.opcode_text(body, p)} in {where} at byte {file_shift + p:#x}"
        )
    for _ in range(spec[0]):
        q = _skip(body, q)
    return q


def _unsupported(
    name: str, proposal: str, where: str, at: int, bracket: Bracket
) -> WasmFormatError:
    return WasmFormatError(
        f"unsupported instruction {name} ({proposal} proposal) in {where} at byte {at:#x}: "
        f"{bracket.feature} does not support it"
    )
