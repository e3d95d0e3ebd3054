"""Registry semantics from the CLI: names never silently point somewhere else, and the
registry says exactly what it did."""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.store.blobs import sha256_hex
from wasmcli.store.ids import MIN_ID_PREFIX
from wasmcli.store.registry import Registry, binary_id_for, derive_name

from .conftest import SAMPLES
from .home_tools import error_lines

HELLO = str(SAMPLES / "hello.wasm")
COUNTER = str(SAMPLES / "counter.wasm")
WORD_FREQ = str(SAMPLES / "word_freq.wasm")


def register(cli, *args: str) -> str:
    result = cli("register", *args)
    assert result.exit_code == 0, result
    return result.stdout.strip()


def names(cli) -> dict[str, list[str]]:
    return {b["id"]: b["names"] for b in cli("list", "--json").json()}


# -- remove -------------------------------------------------------------------------


def test_remove_an_alias_removes_only_that_name(cli) -> None:
    hello_id = register(cli, HELLO)
    register(cli, HELLO, "--name", "greeter")
    removed = cli("remove", "greeter")
    assert removed.exit_code == 0
    assert removed.stderr == f"Removed the name greeter; binary {hello_id[:8]} keeps hello\n"
    assert names(cli) == {hello_id: ["hello"]}
    assert cli("run", "hello", "--input", "x").stdout == "Hello, x!\n"
    assert cli("run", "greeter").exit_code == 3


def test_the_binary_goes_with_its_last_name_and_its_traces_stay(cli, wasmcli_home: Path) -> None:
    hello_id = register(cli, HELLO)
    cli("run", "hello", "--input", "x")
    removed = cli("remove", "hello")
    assert removed.stderr == (
        f"Removed binary {hello_id} and its name hello; its traces are kept\n"
    )
    assert names(cli) == {}
    assert not list((wasmcli_home / "binaries").glob("*.wasm"))
    traces = cli("traces", "list", "--json").json()
    assert [(t["binary_id"], t["binary_name"]) for t in traces] == [(hello_id, "hello")]
    assert cli("traces", "show", traces[0]["trace_id"]).exit_code == 0


def test_remove_by_id_or_with_all_names_removes_the_binary(cli) -> None:
    hello_id = register(cli, HELLO)
    register(cli, HELLO, "--name", "greeter")
    removed = cli("remove", hello_id[:8])
    assert removed.stderr == (
        f"Removed binary {hello_id} and its names hello, greeter; its traces are kept\n"
    )
    assert names(cli) == {}
    register(cli, HELLO)
    register(cli, HELLO, "--name", "greeter")
    assert cli("remove", "greeter", "--all-names").exit_code == 0
    assert names(cli) == {}


def test_remove_of_an_unknown_name_is_exit_3(cli) -> None:
    result = cli("remove", "nothing-here")
    assert result.exit_code == 3
    assert error_lines(result.stderr) == [
        "error: Failed to get binary: Binary not found: nothing-here"
    ]


def test_a_binary_whose_file_is_already_gone_can_be_removed(
    any_engine_cli, wasmcli_home: Path
) -> None:
    # Someone cleaned binaries/ by hand: the name that points at nothing must still go.
    hello_id = register(any_engine_cli, HELLO)
    for blob in (wasmcli_home / "binaries").glob("*.wasm"):
        blob.unlink()
    removed = any_engine_cli("remove", "hello")
    assert removed.exit_code == 0, removed
    assert removed.stderr == f"Removed binary {hello_id} and its name hello; its traces are kept\n"
    assert names(any_engine_cli) == {}


def test_a_file_that_cannot_be_removed_keeps_the_name_and_says_why(
    any_engine_cli, wasmcli_home: Path
) -> None:
    # The file goes inside the transaction that forgets the binary: when it cannot go,
    # the registry keeps the name (never a row without its file, nor the reverse).
    hello_id = register(any_engine_cli, HELLO)
    blob = wasmcli_home / "binaries" / f"{sha256_hex(Path(HELLO).read_bytes())}.wasm"
    blob.unlink()
    blob.mkdir()  # unlink() of a folder fails whoever runs the test (root included)
    (blob / "keep").write_text("x")
    result = any_engine_cli("remove", "hello")
    assert result.exit_code == 9
    assert error_lines(result.stderr) == [
        f"error: Cannot remove the module from the wasmcli home {wasmcli_home}: Is a directory"
    ]
    assert names(any_engine_cli) == {hello_id: ["hello"]}


def test_list_json_gives_every_field_of_each_binary(any_engine_cli) -> None:
    # What scripts read from `wasmcli list --json`: one object per binary, these keys.
    hello_id = register(any_engine_cli, HELLO)
    data = Path(HELLO).read_bytes()
    [entry] = any_engine_cli("list", "--json").json()
    registered_at = entry.pop("registered_at")
    assert entry == {
        "id": hello_id,
        "name": "hello",
        "names": ["hello"],
        "sha256": sha256_hex(data),
        "size_bytes": len(data),
        "source_path": str(Path(HELLO).resolve()),
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", registered_at)


# -- names held by another binary ----------------------------------------------------


def test_a_name_of_another_binary_needs_force(cli) -> None:
    counter_id = register(cli, COUNTER)
    refused = cli("register", WORD_FREQ, "--name", "counter")
    assert refused.exit_code == 2
    assert error_lines(refused.stderr) == [
        f"error: the name 'counter' belongs to binary {counter_id[:8]} (counter): use --force "
        "to move it to this one, or --name to choose another"
    ]
    assert names(cli) == {counter_id: ["counter"]}  # nothing stored
    moved = cli("register", WORD_FREQ, "--name", "counter", "--force")
    word_freq_id = moved.stdout.strip()
    assert moved.exit_code == 0
    [line] = moved.stderr.splitlines()
    assert line.startswith("Registered counter (")
    assert line.endswith(
        f" as {word_freq_id}; moved the name counter from {counter_id[:8]} to {word_freq_id[:8]}"
    )
    assert names(cli) == {counter_id: [], word_freq_id: ["counter"]}
    assert cli("run", "counter", "--input", "a a b").stdout == "a 2\nb 1\n"  # word_freq ran


def test_the_file_name_of_another_binary_needs_force_too(cli, tmp_path: Path) -> None:
    # A rebuilt plugin under the same file name: its default name is taken.
    old_id = register(cli, HELLO)
    rebuilt = tmp_path / "hello.wasm"
    shutil.copyfile(COUNTER, rebuilt)
    refused = cli("register", str(rebuilt))
    assert refused.exit_code == 2 and f"belongs to binary {old_id[:8]}" in refused.stderr
    assert cli("register", str(rebuilt), "--force").exit_code == 0
    assert cli("run", "hello", "--input", "x").stdout.startswith("Characters: 1")


def test_already_registered_says_when_a_name_was_added(cli) -> None:
    hello_id = register(cli, HELLO)
    again = cli("register", HELLO)
    assert again.stderr == f"Already registered hello (157 B) as {hello_id}\n"
    added = cli("register", HELLO, "--name", "greeter", "--json")
    assert added.stderr == f"Already registered as {hello_id}; added the name greeter\n"
    data = added.json()
    assert (data["created"], data["name_added"], data["names"]) == (
        False,
        True,
        ["hello", "greeter"],
    )


def test_a_file_name_that_is_not_a_valid_name_gets_a_derived_one(cli, tmp_path: Path) -> None:
    spaced = tmp_path / "my boom plugin.wasm"
    shutil.copyfile(HELLO, spaced)
    binary_id = register(cli, str(spaced))
    assert names(cli) == {binary_id: ["my-boom-plugin"]}
    assert cli("register", str(spaced)).exit_code == 0  # the same name, the same binary
    assert cli("run", "my-boom-plugin", "--input", "x").stdout == "Hello, x!\n"


def test_a_file_name_with_nothing_to_derive_registers_without_a_name_and_warns(
    cli, tmp_path: Path
) -> None:
    odd = tmp_path / "___.wasm"
    shutil.copyfile(HELLO, odd)
    result = cli("register", str(odd))
    assert result.exit_code == 0
    assert result.stderr.splitlines()[1] == (
        "warning: no name: '___' cannot be made a valid name; run it by id, or register it "
        "again with --name NAME"
    )
    assert names(cli) == {result.stdout.strip(): []}


@pytest.mark.parametrize(
    ("stem", "name"),
    [
        ("my boom plugin", "my-boom-plugin"),
        ("-lead", "lead"),
        ("ünïcode", "n-code"),
        ("a" * 80, "a" * 64),
        ("v1.2_beta", "v1.2_beta"),
        ("MyPlugin", "MyPlugin"),  # capitals are kept
        ("my plugin-", "my-plugin"),  # no dash left dangling at the end
        ("MAX", "MAX"),
        ("...", None),
    ],
)
def test_derived_names(stem: str, name: str | None) -> None:
    assert derive_name(stem) == name


# -- id prefixes: one rule for binaries and traces -----------------------------------


def _modules_sharing_an_id_prefix() -> tuple[bytes, bytes, str]:
    # Ids derive from content: search for two small valid modules whose ids share
    # MIN_ID_PREFIX characters.
    def module(n: int) -> bytes:
        name = f"m{n}".encode()
        payload = bytes([len(name)]) + name
        return b"\0asm\x01\0\0\0" + b"\x00" + bytes([len(payload)]) + payload

    seen: dict[str, int] = {}
    for n in range(20000):
        prefix = binary_id_for(sha256_hex(module(n)))[:MIN_ID_PREFIX]
        if prefix in seen:
            return module(seen[prefix]), module(n), prefix
        seen[prefix] = n
    raise AssertionError("no shared prefix found")


def test_an_ambiguous_binary_prefix_is_exit_2_listing_the_candidates(cli, tmp_path: Path) -> None:
    # Each candidate by its id's first 8 characters and all its names (or "no name").
    first, second, prefix = _modules_sharing_an_id_prefix()
    ids = []
    for stem, data in (("first", first), ("___", second)):
        path = tmp_path / f"{stem}.wasm"
        path.write_bytes(data)
        ids.append(register(cli, str(path), "--no-check"))
    register(cli, str(tmp_path / "first.wasm"), "--no-check", "--name", "one")
    assert cli("run", prefix).exit_code == 2
    result = cli("inspect", prefix)
    assert result.exit_code == 2
    labels = ("first, one", "no name")
    listed = sorted(f"{i[:8]} ({label})" for i, label in zip(ids, labels, strict=True))
    assert error_lines(result.stderr) == [
        f"error: Ambiguous binary id prefix '{prefix}': matches {', '.join(listed)}; "
        "type more of the id"
    ]
    assert cli("inspect", ids[0][: MIN_ID_PREFIX + 4]).exit_code in (0, 4)  # longer: found


def test_a_prefix_shorter_than_the_minimum_is_never_tried(cli) -> None:
    hello_id = register(cli, HELLO)
    short = hello_id[: MIN_ID_PREFIX - 1]
    assert cli("run", short).exit_code == 3
    result = cli("inspect", short)
    assert result.exit_code == 3
    assert error_lines(result.stderr) == [
        f"error: Failed to get binary: Binary not found: {short} (an id prefix needs at "
        f"least {MIN_ID_PREFIX} characters)"
    ]
    assert cli("run", hello_id[:MIN_ID_PREFIX], "--input", "x").stdout == "Hello, x!\n"
    cli("run", "hello", "--input", "x")
    trace_id = cli("traces", "list", "--json").json()[0]["trace_id"]
    short_trace = cli("traces", "show", trace_id[: MIN_ID_PREFIX - 1])
    assert short_trace.exit_code == 2
    assert error_lines(short_trace.stderr) == [
        f"error: No trace matches '{trace_id[: MIN_ID_PREFIX - 1]}' (an id prefix needs at "
        f"least {MIN_ID_PREFIX} characters)"
    ]
    assert cli("traces", "show", trace_id[:MIN_ID_PREFIX]).exit_code == 0


# -- register and remove racing over the same bytes ----------------------------------


ROUNDS = 200


def _race_worker(home: str, role: str, barrier: Any, errors: Any) -> None:
    try:
        registry = Registry(home)
        hello = Path(HELLO).read_bytes()
        for _ in range(ROUNDS):
            barrier.wait()
            if role == "register":
                registry.register(hello, name="h")
            else:
                try:
                    registry.remove("h")
                except WasmcliError as exc:
                    if exc.kind is not ErrorKind.LOAD:  # "not found": the register came later
                        raise
            barrier.wait()
    except threading.BrokenBarrierError:
        pass  # the other side failed: it reports why
    except BaseException as exc:
        errors.put(f"{role}: {type(exc).__name__}: {exc}")
        barrier.abort()


def test_remove_racing_register_never_leaves_a_name_without_its_file(
    wasmcli_home: Path,
) -> None:
    # Two processes on one home, round after round: one registers hello's bytes under a
    # name while the other removes that name. Whatever the interleaving, once both are
    # done a name that exists must have its file.
    hello = Path(HELLO).read_bytes()
    registry = Registry()
    registry.register(hello, name="h")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3, timeout=300)  # generous: spawning is slow on a busy machine
    errors = ctx.Queue()
    workers = [
        ctx.Process(target=_race_worker, args=(str(wasmcli_home), role, barrier, errors))
        for role in ("register", "remove")
    ]
    for worker in workers:
        worker.start()
    broken = []
    try:
        for round_number in range(ROUNDS):
            barrier.wait()  # go
            barrier.wait()  # both done
            try:
                record = registry.find("h")
            except WasmcliError:
                continue  # removed last: nothing points anywhere
            if registry.blobs.get(record.sha256) != hello:
                broken.append(round_number)
    except threading.BrokenBarrierError:
        pytest.fail(f"a worker failed: {errors.get(timeout=10)}")
    finally:
        for worker in workers:
            worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    assert broken == []


# -- file names that are not UTF-8 ----------------------------------------------------


def test_a_file_whose_name_is_not_utf8_registers_and_runs_with_its_trace(
    any_engine_cli, tmp_path: Path
) -> None:
    # Linux file names are bytes: one that is not UTF-8 still opens, and is stored and
    # shown with U+FFFD in place of its bad bytes (it was exit 10, and a lost trace).
    path = tmp_path / os.fsdecode(b"h\xffllo.wasm")
    shutil.copy(HELLO, path)
    hello_id = register(any_engine_cli, str(path))
    [entry] = any_engine_cli("list", "--json").json()
    assert (entry["id"], entry["name"]) == (hello_id, "h-llo")
    assert entry["source_path"] == str(tmp_path / "h\ufffdllo.wasm")
    any_engine_cli("remove", "h-llo")
    ran = any_engine_cli("run", str(path), "--input", "x")
    assert (ran.exit_code, ran.stdout) == (0, "Hello, x!\n")
    assert "could not be saved" not in ran.stderr
    missing = any_engine_cli("run", str(tmp_path / os.fsdecode(b"gone\xff.wasm")))
    assert missing.exit_code == 3
    traces = any_engine_cli("traces", "list", "--json").json()
    assert [t["binary_name"] for t in traces] == [None, "h\ufffdllo"]
    assert [t["success"] for t in traces] == [False, True]
