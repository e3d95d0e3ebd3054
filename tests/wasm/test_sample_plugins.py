"""Every sample plugin: parsed, instrumented to a valid module, and metered exactly.

Parametrized over a glob, so plugins added to sample_plugins/ are picked up.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime

from wasmcli.wasm import (
    FUEL_EXPORT,
    START_EXPORT,
    FuncType,
    WasmFormatError,
    instrument_fuel,
    read_module_info,
)

from .harness import run_plugin, validates

OUT_OF_FUEL = wasmtime.TrapCode.OUT_OF_FUEL

SAMPLES = Path(__file__).resolve().parents[2] / "sample_plugins"
PLUGINS = sorted(SAMPLES.rglob("*.wasm"))


def _id(path: Path) -> str:
    return str(path.relative_to(SAMPLES))


def test_there_are_sample_plugins() -> None:
    assert PLUGINS, f"no .wasm under {SAMPLES}"


@pytest.mark.parametrize("path", PLUGINS, ids=_id)
def test_sample_parses(path: Path) -> None:
    wasm = path.read_bytes()
    info = read_module_info(wasm)
    names = {e.name for e in info.exports}
    assert info.num_functions == info.num_imported_functions + info.num_defined_functions
    # The module's own word for what it exports, cross-checked with wasmtime.
    module = wasmtime.Module(wasmtime.Engine(), wasm)
    assert names == {e.name for e in module.exports}
    imported = [(i.module, i.name) for i in module.imports]
    assert [(i.module, i.name) for i in info.imports] == imported
    for export in info.exports:
        if export.kind == "func":
            ty = next(e.type for e in module.exports if e.name == export.name)
            assert isinstance(ty, wasmtime.FuncType)
            assert export.signature is not None
            assert export.signature.params == tuple(str(t) for t in ty.params)
            assert export.signature.results == tuple(str(t) for t in ty.results)


@pytest.mark.parametrize("path", PLUGINS, ids=_id)
def test_sample_instruments_to_a_valid_module(path: Path) -> None:
    wasm = path.read_bytes()
    try:
        instrumented = instrument_fuel(wasm)
    except WasmFormatError as exc:  # pragma: no cover - a plugin using a refused proposal
        pytest.fail(f"{path.name}: {exc}")
    assert validates(instrumented)
    info = read_module_info(instrumented)
    assert info.export(FUEL_EXPORT) is not None
    assert info.start is None
    original = read_module_info(wasm)
    assert (info.export(START_EXPORT) is not None) == (original.start is not None)
    # Nothing else moved: same imports, exports (plus ours), names, custom sections.
    assert info.imports == original.imports
    assert info.exports[: len(original.exports)] == original.exports
    assert info.function_names == original.function_names
    assert info.custom_sections == original.custom_sections


def _is_plugin(path: Path) -> bool:
    """Exports memory and process(i32, i32, i32, i32) -> i32, as the ABI wants."""
    info = read_module_info(path.read_bytes())
    process = info.export("process")
    return (
        info.export("memory") is not None
        and process is not None
        and process.signature == FuncType(("i32",) * 4, ("i32",))
    )


PLUGIN_LIKE = [p for p in PLUGINS if _is_plugin(p)]


# Enough for every sample that finishes; infinite_loop runs out of it in well under a second.
PLUGIN_FUEL = 50_000_000


@pytest.mark.parametrize("path", PLUGIN_LIKE, ids=_id)
def test_sample_same_fuel_as_wasmtime(path: Path) -> None:
    wasm = path.read_bytes()
    imports = {(i.module, i.name) for i in read_module_info(wasm).imports}
    if imports - {("host", "log")}:
        pytest.skip("imports more than host.log (fails at instantiation by design)")
    try:
        native = run_plugin(wasm, metered=False, fuel=PLUGIN_FUEL)
    except wasmtime.Trap:
        # A start function that traps fails instantiation: the metered module must fail
        # in __wasmcli_start the same way.
        with pytest.raises(wasmtime.Trap):
            run_plugin(instrument_fuel(wasm), metered=True, fuel=PLUGIN_FUEL)
        return
    metered = run_plugin(instrument_fuel(wasm), metered=True, fuel=PLUGIN_FUEL)
    assert metered.start_fuel == native.start_fuel
    if native.outcome.trap is not None and native.outcome.trap.trap_code == OUT_OF_FUEL:
        assert metered.outcome.trap is not None
        assert metered.outcome.remaining < 0  # how the host tells out of fuel
        return
    if native.outcome.trap is not None:
        # Trapped runs: wasmtime's count stops at its last flush; only the verdict must
        # agree (a trap of the plugin's own, not out of fuel).
        assert metered.outcome.trap is not None
        assert metered.outcome.remaining >= 0
        assert metered.logs == native.logs
        return
    assert metered.outcome.trap is None, metered.outcome.trap
    assert metered.outcome.result == native.outcome.result
    assert metered.logs == native.logs
    assert metered.outcome.fuel == native.outcome.fuel
