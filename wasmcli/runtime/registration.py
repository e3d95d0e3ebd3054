"""Registering a plugin: validate what is stored, then store it.

`register_module` is what `wasmcli register` and library users call. It checks the
module fully with an engine that is available here (the one `engine` selects, auto by
default) and, unless told not to, against the plugin ABI; only then does the registry
store it. The registry itself (store/) imports no engine, so it cannot validate.
"""

from __future__ import annotations

from pathlib import Path

from wasmcli.engines import load_engine
from wasmcli.errors import WasmcliError
from wasmcli.runtime.abi import abi_problems, read_info
from wasmcli.safe_text import fs_text
from wasmcli.store.module_files import read_module_file
from wasmcli.store.registry import RegisterOutcome, Registry, derive_name


def register_module(
    registry: Registry,
    module: Path | bytes,
    *,
    name: str | None = None,
    force: bool = False,
    check_abi: bool = True,
    engine: str = "auto",
) -> RegisterOutcome:
    """Validate a module (a file path or its bytes) and register it.

    With no `name`, a file is named after its stem, made valid when it is not
    ('my boom plugin.wasm' -> 'my-boom-plugin'); bytes get no name. A name held by
    another binary moves only with `force`. Invalid modules are WasmcliError(LOAD),
    modules that break the ABI WasmcliError(ABI) unless `check_abi` is False.
    """
    if isinstance(module, Path):
        wasm = read_module_file(module)
        label = source_path = fs_text(str(module))
        if name is None:
            name = derive_name(module.stem)
    else:
        wasm, label, source_path = bytes(module), "the module", None
    load_engine(engine).validate(wasm)
    if check_abi:
        problems = abi_problems(read_info(wasm))
        if problems:
            raise WasmcliError(
                problems[0].kind,
                f"{label} does not follow the plugin ABI: {problems[0].message} "
                "(use --no-check to register it anyway)",
            )
    return registry.register(wasm, name=name, source_path=source_path, force=force)
