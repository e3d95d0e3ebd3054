"""Looking into one function body, for checks that need more than the declarations.

`read_module_info` never decodes the code section; `function_body` finds one body in it,
and `always_traps` says whether a body traps before doing anything else.
"""

from __future__ import annotations

from . import module as m
from .reader import Reader
from .valtypes import skip_valtype

UNREACHABLE = 0x00
NOP = 0x01


def function_body(wasm: bytes, defined_index: int) -> bytes | None:
    """The instructions of the `defined_index`-th function defined in the module (after
    its locals), or None when the module has no such body."""
    for section in m.split_sections(wasm):
        if section.id != m.CODE:
            continue
        reader = section.reader(wasm)
        count = reader.u32()
        if not 0 <= defined_index < count:
            return None
        for _ in range(defined_index):
            reader.skip(reader.u32())
        size = reader.u32()
        body = Reader(wasm, reader.pos, reader.pos + size, "a function body")
        for _ in range(body.u32()):  # local declarations: (count, type)
            body.u32()
            skip_valtype(body)
        return wasm[body.pos : body.end]
    return None


def always_traps(body: bytes) -> bool:
    """True when the first instruction that runs (after any `nop`) is `unreachable`.

    A simple check, and an honest one: such a function traps every time it is called.
    It does not follow calls or branches.
    """
    for opcode in body:
        if opcode != NOP:
            return opcode == UNREACHABLE
    return False
