"""WebAssembly text (.wat) to binary, with the wasmtime package's parser (installed on
every Python; a text format, so it sits with the binary toolkit, and no engine is made)."""

from __future__ import annotations


def wat_to_wasm(text: str) -> bytes:
    """The binary for a WAT module; ValueError with the parser's first line on bad syntax."""
    import wasmtime

    try:
        return bytes(wasmtime.wat2wasm(text))
    except wasmtime.WasmtimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        # wasmtime puts the message first and the location ("--> <anon>:3:5") second.
        location = next((line[4:] for line in lines if line.startswith("--> ")), "")
        location = location.replace("<anon>:", "line ").replace(":", ", column ", 1)
        summary = lines[0] if lines else "syntax error"
        raise ValueError(f"{summary} ({location})" if location else summary) from None
