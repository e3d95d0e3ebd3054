"""What makes the daemon warm: its main process imports and builds, each process it forks
exercises the paths a request takes before the request comes.

The main process, once:
- imports every module that wasmcli's code imports anywhere (found by reading its
  source, so a command added later is covered without a list to keep up);
- builds every command of the CLI (typer builds a command from its signature: done by
  the CLI's side, wasmcli/cli/daemon_host.py, which hands the daemon its root command);
- starts the engines and loads into memory the compiled modules of the registered
  binaries that the artifact cache holds (deserialized: nothing is compiled, because a
  compiler's threads would not exist in the forked processes that use them);
- writes a tiny plugin into `<home>/daemon/warmup/`, a home of its own.
None of this reads the environment in a way a request could see: requests set their
own environment, and the tests compare each command's bytes with and without a daemon
whose environment differs from the client's.

Each forked process, before it takes a request (`prewarm`): runs `wasmcli --help` and
the tiny plugin through the CLI in the warm-up home, output to /dev/null, and opens the
home's database for the request to take over. A forked process shares its memory with
the main process until it writes to it; these runs make the copies (a few thousand
pages) while nobody waits, instead of during the request.
"""

from __future__ import annotations

import ast
import gc
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import wasmcli
from wasmcli.daemon import paths

# Modules never imported ahead: entry points that run when imported, and the daemon's.
_NOT_AHEAD = ("wasmcli.__main__", "wasmcli.daemon.")
_PRELOADED_MODULES = 8  # as many as the engines keep in memory
WARMUP_PLUGIN = """
(module
  (import "host" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "process") (param i32 i32 i32 i32) (result i32)
    (call $log (local.get 0) (local.get 1))
    (i32.const 0)))
"""


def import_everything() -> list[str]:
    """Import every module wasmcli's source names; the ones that did not import."""
    failed = []
    for name in sorted(_imported_names()):
        if name.startswith(_NOT_AHEAD) or name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except ImportError:  # an engine this Python lacks, tomli on 3.11, ...
            failed.append(name)
    return failed


def _imported_names() -> set[str]:
    root = Path(wasmcli.__file__).parent
    names: set[str] = set()
    for path in root.rglob("*.py"):
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        names.add(module.removesuffix(".__init__"))
        tree = ast.parse(path.read_bytes(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
    return names


def start_engines() -> None:
    from wasmcli.engines import available_engines, load_engine

    for name in available_engines():
        load_engine(name).start()


def preload_modules(home: Path) -> int:
    """Load the registered binaries' compiled modules from the cache, for the default
    limits and engine; how many are in memory. The database is closed again: a forked
    process never shares an SQLite connection with its parent."""
    from wasmcli.config import RunConfig
    from wasmcli.engines import load_engine, resolve_engine_name
    from wasmcli.errors import WasmcliError
    from wasmcli.runtime.executor import engine_limits
    from wasmcli.store.registry import Registry

    registry = Registry(home)
    loaded = 0
    try:
        config = RunConfig.from_env()
        engine = load_engine(resolve_engine_name(config.engine))
        limits = engine_limits(config)
        cache = registry.artifact_cache(f"{engine.name}-{engine.version}")
        for record in registry.list()[:_PRELOADED_MODULES]:
            try:
                wasm = registry.read_wasm(record)
                loaded += engine.preload(wasm, limits, cache)
            except WasmcliError:
                continue
    except WasmcliError:
        pass  # an unusable home or setting: requests will say so themselves
    finally:
        registry.close()
    return loaded


def write_warmup_home(folder: Path) -> Path:
    """The warm-up home and its plugin; the plugin's path."""
    from wasmcli.store.files import make_private_dir, write_atomically
    from wasmcli.wasm.wat import wat_to_wasm

    home = folder / paths.WARMUP
    make_private_dir(home)
    plugin = home / "warmup.wasm"
    write_atomically(plugin, wat_to_wasm(WARMUP_PLUGIN))
    return plugin


def freeze() -> None:
    """Keep the garbage collector off everything made so far: collecting would write to
    every object, and so copy every page, in each forked process."""
    gc.collect()
    gc.freeze()


def prewarm(root: Any, warmup_plugin: Path, home: Path, awaited: Callable[[], bool]) -> None:
    """In a forked process, before it takes a request (see the module docstring). Each
    step is skipped once `awaited()` says a client waits: in a burst of requests, warming
    would only delay them."""
    from wasmcli.daemon.stdio import silence_streams
    from wasmcli.store.db import open_ahead

    try:
        open_ahead(home)
    except Exception:  # noqa: BLE001 - the request opens it itself, and says what is wrong
        pass
    silence_streams()
    saved = dict(os.environ)
    os.environ.pop("WASMCLI_DAEMON", None)
    os.environ.update(WASMCLI_HOME=str(warmup_plugin.parent), WASMCLI_MAX_TRACES="10")
    try:
        for args in (
            ["run", str(warmup_plugin), "--input", "warm"],
            ["--help"],
            ["traces", "list"],
        ):
            if awaited():
                return
            _invoke(root, args)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _invoke(root: Any, args: list[str]) -> None:
    try:
        root.main(args, prog_name="wasmcli")
    except SystemExit:
        pass
    except Exception:  # noqa: BLE001 - a warm-up that fails only warms less
        pass
