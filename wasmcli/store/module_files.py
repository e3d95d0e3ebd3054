"""Reading a module from a file the user named: .wasm bytes, or .wat text compiled to them."""

from __future__ import annotations

from pathlib import Path

from wasmcli.errors import ErrorKind, WasmcliError

WASM_MAGIC = b"\0asm"
MODULE_SUFFIXES = (".wasm", ".wat", ".wast")


def looks_like_path(ref: str) -> bool:
    """Whether a reference names a file rather than a registered binary."""
    return "/" in ref or "\\" in ref or ref.lower().endswith(MODULE_SUFFIXES)


def read_module_file(path: Path) -> bytes:
    """The module's binary; every failure is a one-line WasmcliError(LOAD)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        hint = next(
            (
                f" (did you mean {path}{suffix}?)"
                for suffix in (".wasm", ".wat")
                if Path(f"{path}{suffix}").is_file()
            ),
            "",
        )
        raise WasmcliError(ErrorKind.LOAD, f"Failed to read {path}: file not found{hint}") from None
    except IsADirectoryError:
        raise WasmcliError(ErrorKind.LOAD, f"Failed to read {path}: it is a directory") from None
    except PermissionError:
        raise WasmcliError(ErrorKind.LOAD, f"Failed to read {path}: permission denied") from None
    except OSError as exc:
        raise WasmcliError(ErrorKind.LOAD, f"Failed to read {path}: {exc.strerror}") from None
    if not data:
        raise WasmcliError(ErrorKind.LOAD, f"Failed to load {path}: the file is empty")
    if data.startswith(WASM_MAGIC):
        return data
    if path.suffix.lower() in (".wat", ".wast") or data.lstrip()[:1] in (b"(", b";"):
        return wat_file_to_wasm(path, data)
    raise WasmcliError(
        ErrorKind.LOAD, f"Failed to load {path}: not a WebAssembly module (bad magic bytes)"
    )


def wat_file_to_wasm(path: Path, data: bytes) -> bytes:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise WasmcliError(
            ErrorKind.LOAD, f"Failed to parse {path}: not UTF-8 text (and not a .wasm binary)"
        ) from None
    from wasmcli.wasm.wat import wat_to_wasm

    try:
        return wat_to_wasm(text)
    except ValueError as exc:
        raise WasmcliError(ErrorKind.LOAD, f"Failed to parse {path}: {exc}") from None
