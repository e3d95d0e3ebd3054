"""Replay a converted spec script on the original modules and on every pass's outputs.

All sides walk the script in lockstep, each in its own store (`World`): the reference
runs the suite's modules with wasmtime's native fuel and is itself checked against the
script's expectations; every pass side runs that pass's output of the same modules. For
each instantiation and call the sides must agree on the values (bit for bit), on trapping
(and the trap code), and, where the call completed, on the fuel charged. Calls that trap
are counted apart: there wasmtime's fuel is not exact (it drops charges it had not yet
written back), so it is not compared.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime

from wasmcli.wasm import ModuleInfo, WasmFormatError, proposals_used, read_module_info

from .convert import convert
from .passes import REFUSALS, Pass, refusal_reason
from .values import CALLABLE, Value, describe, matches, parse_arg
from .world import Outcome, World, make_engine

_EXAMPLES = 20
_CALLS = ("assert_return", "assert_trap", "action", "assert_exhaustion", "assert_exception")
_FAILED_INSTANTIATIONS = ("assert_uninstantiable", "assert_unlinkable")
_BAD_BINARIES = ("assert_invalid", "assert_malformed")


@dataclass
class PassTally:
    name: str
    modules: int = 0  # instantiated from this pass's output
    commands: int = 0  # calls and instantiations compared with the reference
    result_mismatches: int = 0
    fuel_mismatches: int = 0
    trapping_calls: int = 0  # fuel not compared
    trapping_fuel_differs: int = 0
    # Calls of a function left in a table by a failed instantiation: instrumented, it
    # charges a counter no host can set, which starts at 0, so it traps (see TESTING.md).
    orphan_calls: int = 0
    invalid_outputs: int = 0  # outputs wasmtime refuses to compile
    crashes: int = 0  # exceptions other than a refusal, on any input
    refused: Counter[str] = field(default_factory=Counter)
    # The first few of each kind of failure (results first: they matter most).
    examples: dict[str, list[str]] = field(default_factory=dict)

    def note(self, kind: str, where: str, what: str) -> None:
        found = self.examples.setdefault(kind, [])
        if len(found) < _EXAMPLES:
            found.append(f"{where}: {what}")

    @property
    def failures(self) -> int:
        return self.result_mismatches + self.fuel_mismatches + self.invalid_outputs + self.crashes


@dataclass
class Tally:
    files: int = 0
    modules: int = 0  # instantiated by the reference
    commands: int = 0  # calls and expected failures replayed on the reference
    bad_binaries: int = 0  # malformed/invalid binaries fed to the reader and the passes
    skipped: Counter[str] = field(default_factory=Counter)  # commands, by reason
    reference_errors: list[str] = field(default_factory=list)  # runner or reader bugs
    passes: dict[str, PassTally] = field(default_factory=dict)

    def for_pass(self, name: str) -> PassTally:
        return self.passes.setdefault(name, PassTally(name))

    @property
    def result_mismatches(self) -> int:
        return sum(p.result_mismatches for p in self.passes.values())

    @property
    def fuel_mismatches(self) -> int:
        return sum(p.fuel_mismatches for p in self.passes.values())

    @property
    def failed(self) -> bool:
        return bool(self.reference_errors) or any(p.failures for p in self.passes.values())


@dataclass
class _Side:
    """One pass's world, and what it knows about the script so far."""

    pass_: Pass
    world: World
    tally: PassTally
    # A module this side refused was registered: later link failures are then expected.
    missing_registrations: bool = False


class _Engines:
    """Compiling is the slow part: one engine per fuel mode, shared by every script."""

    def __init__(self) -> None:
        self.native = make_engine(consume_fuel=True)
        self.plain = make_engine(consume_fuel=False)

    def for_side(self, metered: bool) -> wasmtime.Engine:
        return self.plain if metered else self.native


_ENGINES: _Engines | None = None


def _engines() -> _Engines:
    global _ENGINES
    if _ENGINES is None:
        _ENGINES = _Engines()
    return _ENGINES


def _unsupported_types(signature: Any) -> str | None:
    types = (*signature.params, *signature.results)
    odd = [t for t in types if t not in CALLABLE]
    if not odd:
        return None
    return "exnref signature" if all("exn" in t for t in odd) else "GC-typed signature"


class ScriptReplay:
    """Replays one converted script; adds what it saw to a Tally."""

    def __init__(self, json_path: Path, passes: tuple[Pass, ...], tally: Tally) -> None:
        self.path = json_path
        self.dir = json_path.parent
        self.name = json_path.stem
        self.tally = tally
        engines = _engines()
        self.ref = World(metered=False, engine=engines.native)
        self.sides = [
            _Side(p, World(p.metered, engines.for_side(p.metered)), tally.for_pass(p.name))
            for p in passes
        ]
        self.infos: dict[str | None, ModuleInfo | None] = {}
        self.definitions: dict[str | None, bytes] = {}

    def run(self) -> None:
        script = json.loads(self.path.read_text())
        self.tally.files += 1
        for command in script["commands"]:
            self.line = command.get("line", 0)
            self.dispatch(command)

    # -- helpers -----------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return f"{self.name}.wast:{self.line}"

    def _reference_error(self, what: str) -> None:
        self.tally.reference_errors.append(f"{self.where}: {what}")

    def _module_bytes(self, command: dict[str, Any]) -> bytes | None:
        name = command.get("binary_filename") or command["filename"]
        if not name.endswith(".wasm"):
            return None
        return (self.dir / name).read_bytes()

    def _bind(self, name: str | None, info: ModuleInfo | None) -> None:
        self.infos[None] = info
        if name is not None:
            self.infos[name] = info

    def _transform(self, side: _Side, wasm: bytes) -> wasmtime.Module | None:
        """The pass's output of `wasm`, compiled; None when refused, crashed or invalid."""
        try:
            output = side.pass_.transform(wasm)
        except REFUSALS as exc:
            side.tally.refused[refusal_reason(exc)] += 1
            return None
        except Exception as exc:  # a pass must refuse with one line, never crash
            side.tally.crashes += 1
            side.tally.note("crash", self.where, f"{exc!r}")
            return None
        try:
            return side.world.compile(output)
        except wasmtime.WasmtimeError as exc:
            side.tally.invalid_outputs += 1
            side.tally.note("invalid output", self.where, f" {str(exc).splitlines()[0]}")
            return None

    def _compare(self, side: _Side, ref: Outcome, got: Outcome, what: str) -> None:
        tally = side.tally
        tally.commands += 1
        if (
            side.world.orphans
            and ref.completed
            and (
                side.pass_.metered
                and got.trap == "unreachable"
                or side.pass_.refunds
                and got.completed
                and ref.values == got.values
                and ref.fuel != got.fuel
            )
        ):
            tally.orphan_calls += 1
            return
        if (
            ref.completed != got.completed
            or ref.trap != got.trap
            and not (
                ref.trap
                and got.trap
                and ref.trap.startswith("link")
                and got.trap.startswith("link")
            )
        ):
            tally.result_mismatches += 1
            tally.note(
                "result",
                self.where,
                f"{what}: reference {ref.trap or 'ok'}, pass {got.trap or 'ok'}",
            )
            return
        if ref.completed and ref.values != got.values:
            tally.result_mismatches += 1
            tally.note(
                "result",
                self.where,
                f"{what}: reference {describe(ref.values)}, pass {describe(got.values)}",
            )
            return
        if not ref.completed:
            if ref.fuel is not None:
                tally.trapping_calls += 1
                tally.trapping_fuel_differs += ref.fuel != got.fuel
            return
        if ref.fuel != got.fuel:
            tally.fuel_mismatches += 1
            tally.note(
                "fuel", self.where, f"{what}: {ref.fuel} on wasmtime, {got.fuel} with the pass"
            )

    # -- commands ----------------------------------------------------------------------------

    def dispatch(self, command: dict[str, Any]) -> None:
        kind = command["type"]
        if kind == "module":
            self.module(command, command.get("name"))
        elif kind == "module_definition":
            wasm = self._module_bytes(command)
            if wasm is not None:
                self.definitions[command.get("name")] = wasm
        elif kind == "module_instance":
            wasm = self.definitions.get(command["module"])
            if wasm is not None:
                self.instantiate(wasm, command["instance"])
        elif kind == "register":
            self.register(command["as"], command.get("name"))
        elif kind in _CALLS:
            self.call(command)
        elif kind in _FAILED_INSTANTIATIONS:
            self.failed_instantiation(command)
        elif kind in _BAD_BINARIES:
            self.bad_binary(command)
        else:
            self.tally.skipped[f"command {kind}"] += 1

    def module(self, command: dict[str, Any], name: str | None) -> None:
        wasm = self._module_bytes(command)
        if wasm is None:
            self.tally.skipped["text module"] += 1
            return
        self.instantiate(wasm, name)

    def instantiate(self, wasm: bytes, name: str | None) -> None:
        try:
            module = self.ref.compile(wasm)
        except wasmtime.WasmtimeError:
            self.tally.skipped["module wasmtime cannot compile"] += 1
            self._bind(name, None)
            self.ref.bind(None, name)
            for side in self.sides:
                side.world.bind(None, name)
            return
        try:
            info: ModuleInfo | None = read_module_info(wasm)
            proposals_used(wasm)
        except WasmFormatError as exc:
            self._reference_error(f"the reader refuses a valid module: {exc}")
            info = None
        ref_outcome, instance = self.ref.instantiate(module)
        if instance is None:
            self._reference_error(f"the reference cannot instantiate it: {ref_outcome.trap}")
        else:
            self.tally.modules += 1
        self._bind(name, info)
        self.ref.bind(instance, name)
        for side in self.sides:
            compiled = self._transform(side, wasm) if instance is not None else None
            pass_instance = None
            if compiled is not None:
                got, pass_instance = side.world.instantiate(compiled)
                if (
                    side.missing_registrations
                    and got.trap is not None
                    and got.trap.startswith("link")
                ):
                    side.tally.refused["imports from a refused module"] += 1
                else:
                    self._compare(side, ref_outcome, got, "instantiation")
                    side.tally.modules += pass_instance is not None
            side.world.bind(pass_instance, name)

    def register(self, as_name: str, name: str | None) -> None:
        self.ref.register(as_name, name)
        for side in self.sides:
            if not side.world.register(as_name, name):
                side.missing_registrations = True

    def call(self, command: dict[str, Any]) -> None:
        action = command["action"]
        name = action.get("module")
        instance = self.ref.instance(name)
        info = self.infos.get(name)
        if instance is None or info is None:
            self.tally.skipped["module not instantiated"] += 1
            return
        field_name = action["field"]
        if action["type"] == "get":
            ref = self.ref.get(instance, field_name)
            self.tally.commands += 1
            self._check_expected(command, ref)
            for side in self.sides:
                pass_instance = side.world.instance(name)
                if pass_instance is not None:
                    self._compare(side, ref, side.world.get(pass_instance, field_name), "get")
            return
        export = info.export(field_name)
        if export is None or export.signature is None:
            self._reference_error(f"no function export {field_name!r}")
            return
        reason = _unsupported_types(export.signature)
        if reason is not None:
            self.tally.skipped[reason] += 1
            return
        try:
            args: list[Value] = [parse_arg(arg) for arg in action["args"]]
        except ValueError as exc:
            self.tally.skipped[str(exc)] += 1
            return
        num_results = len(export.signature.results)
        ref = self.ref.invoke(instance, field_name, args, num_results)
        self.tally.commands += 1
        self._check_expected(command, ref)
        for side in self.sides:
            pass_instance = side.world.instance(name)
            if pass_instance is not None:
                got = side.world.invoke(pass_instance, field_name, args, num_results)
                self._compare(side, ref, got, f"{field_name}({describe(args)})")

    def _check_expected(self, command: dict[str, Any], ref: Outcome) -> None:
        """The reference must do what the script says: this checks the runner itself."""
        kind = command["type"]
        if kind == "assert_return":
            expected = command["expected"]
            ok = (
                ref.values is not None
                and len(ref.values) == len(expected)
                and all(matches(e, v) for e, v in zip(expected, ref.values, strict=True))
            )
            if not ok:
                self._reference_error(
                    f"expected {expected}, wasmtime gave {ref.trap or describe(ref.values)}"
                )
        elif kind in ("assert_trap", "assert_exhaustion", "assert_exception") and ref.completed:
            self._reference_error(f"expected a trap ({command.get('text')}), wasmtime completed")

    def failed_instantiation(self, command: dict[str, Any]) -> None:
        wasm = self._module_bytes(command)
        if wasm is None:
            self.tally.skipped["text module"] += 1
            return
        try:
            module = self.ref.compile(wasm)
        except wasmtime.WasmtimeError:
            self.tally.skipped["module wasmtime cannot compile"] += 1
            return
        ref, instance = self.ref.instantiate(module)
        self.tally.commands += 1
        if instance is not None:
            self._reference_error(f"expected {command['type']}, the module instantiated")
            return
        for side in self.sides:
            compiled = self._transform(side, wasm)
            if compiled is not None:
                got, _ = side.world.instantiate(compiled)
                self._compare(side, ref, got, command["type"])

    def bad_binary(self, command: dict[str, Any]) -> None:
        """A malformed or invalid binary: the reader and every pass refuse it or pass it
        through, but never crash."""
        wasm = self._module_bytes(command)
        if wasm is None:
            return
        self.tally.bad_binaries += 1
        for reader in (read_module_info, proposals_used):
            try:
                reader(wasm)
            except REFUSALS:
                pass
            except Exception as exc:
                self._reference_error(f"{reader.__name__} crashed on a bad binary: {exc!r}")
        for side in self.sides:
            try:
                side.pass_.transform(wasm)
            except REFUSALS:
                pass
            except Exception as exc:
                side.tally.crashes += 1
                side.tally.note("crash", self.where, f"on a bad binary: {exc!r}")


def replay(json_path: Path, passes: tuple[Pass, ...], tally: Tally) -> None:
    ScriptReplay(json_path, passes, tally).run()


def replay_scripts(wasts: list[Path], cache: Path, passes: tuple[Pass, ...]) -> Tally:
    """Convert (or take from the cache) and replay each `.wast` script."""
    tally = Tally()
    for wast in wasts:
        replay(convert(wast, cache), passes, tally)
    return tally
