"""The smallest wasmtime host for a wasmcli plugin: the floor `wasmcli run` is compared with.

    python benchmarks/minimal_host.py PLUGIN.wasm INPUT [--cli-imports]

Import wasmtime, compile the module, instantiate it with `host.log`, write the input into
a fresh page, call `process`, print what it logged. No limits, no trace, no registry, no
cache. `--cli-imports` first imports what any typer + rich command line pays for
(`import typer, rich.console`), so the pair measures what wasmcli adds on top of that.
"""

import sys

if "--cli-imports" in sys.argv:
    import rich.console  # noqa: F401
    import typer  # noqa: F401

import wasmtime

PAGE = 65536


def host_linker(engine: wasmtime.Engine, lines: list[bytes]) -> wasmtime.Linker:
    """A linker whose `host.log` appends each line the plugin logs to `lines`."""

    def log(caller: wasmtime.Caller, ptr: int, length: int) -> None:
        memory = caller["memory"]
        assert isinstance(memory, wasmtime.Memory)
        lines.append(bytes(memory.read(caller, ptr, ptr + length)))

    linker = wasmtime.Linker(engine)
    log_type = wasmtime.FuncType([wasmtime.ValType.i32(), wasmtime.ValType.i32()], [])
    linker.define_func("host", "log", log_type, log, access_caller=True)
    return linker


def main(path: str, text: str) -> None:
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    module = wasmtime.Module.from_file(engine, path)
    lines: list[bytes] = []
    linker = host_linker(engine, lines)
    instance = linker.instantiate(store, module)
    exports = instance.exports(store)
    memory = exports["memory"]
    process = exports["process"]
    assert isinstance(memory, wasmtime.Memory) and isinstance(process, wasmtime.Func)
    data = text.encode()
    at = memory.grow(store, 1) * PAGE
    memory.write(store, data, at)
    process(store, at, len(data), 0, 0)
    sys.stdout.write(b"\n".join(lines).decode() + "\n")


if __name__ == "__main__":
    arguments = [arg for arg in sys.argv[1:] if arg != "--cli-imports"]
    main(arguments[0], arguments[1])
