"""The instruction tables agree with wasmtime's decoder on which opcodes exist."""

from __future__ import annotations

import pytest
import wasmtime

from wasmcli.wasm import WasmFormatError, instrument_fuel
from wasmcli.wasm import opcodes as o
from wasmcli.wasm.leb128 import encode_u

from .harness import engine, module_with_code

# Opcodes wasmtime decodes that the fuel pass refuses on purpose, by proposal.
# (Single-byte ones, such as exception handling and stack switching, are marked UNSUPPORTED
# in the table itself.)
REFUSED = {
    0xFC: {0x12},  # memory.discard (memory control)
    0xFE: set(range(0x4F, 0x60)),  # shared-everything threads
}


def _wasmtime_knows(code: bytes) -> bool:
    try:
        wasmtime.Module.validate(engine(False), module_with_code([b"\x00" + code + b"\x0b"]))
    except wasmtime.WasmtimeError as exc:
        message = str(exc)
        return not ("illegal opcode" in message or "unknown 0x" in message)
    return True


def _we_decode(prefix: int, sub: int | None = None) -> bool:
    if sub is None:
        return o.KIND[prefix] not in (o.UNKNOWN, o.UNSUPPORTED)
    if prefix == 0xFC:
        return sub in o.FC_OPS
    if prefix == 0xFD:
        return sub in o.FD_OPS
    return sub == o.FE_FENCE or sub in o.FE_MEMARG_OPS


@pytest.mark.parametrize("op", [op for op in range(256) if op not in (0xFB, 0xFC, 0xFD, 0xFE)])
def test_single_byte_opcodes(op: int) -> None:
    refused = o.KIND[op] == o.UNSUPPORTED
    if refused:
        assert op in o.UNSUPPORTED_OPS
    assert _we_decode(op) or refused or not _wasmtime_knows(bytes([op]))
    if _we_decode(op):
        assert _wasmtime_knows(bytes([op]))


@pytest.mark.parametrize(("prefix", "limit"), [(0xFC, 0x40), (0xFD, 0x140), (0xFE, 0x60)], ids=hex)
def test_prefixed_opcodes(prefix: int, limit: int) -> None:
    disagreements = []
    for sub in range(limit):
        ours = _we_decode(prefix, sub)
        theirs = _wasmtime_knows(bytes([prefix]) + encode_u(sub))
        if ours != theirs and not (theirs and sub in REFUSED.get(prefix, set())):
            disagreements.append(hex(sub))
    assert disagreements == []


def test_refused_prefixed_opcodes_name_their_proposal() -> None:
    for prefix, subs in ((0xFC, REFUSED[0xFC]), (0xFE, REFUSED[0xFE])):
        for sub in sorted(subs)[:2]:
            wasm = module_with_code([b"\x00" + bytes([prefix]) + encode_u(sub) + b"\x00\x0b"])
            with pytest.raises(WasmFormatError, match="proposal"):
                instrument_fuel(wasm)
