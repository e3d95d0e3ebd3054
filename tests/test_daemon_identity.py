"""The same command gives the same result through the daemon and in-process: stdout bytes,
exit code, stderr (apart from timings) and the stored trace (apart from ids and times),
for every sample and faulty plugin and every command, with relative paths read from the
client's folder, and rendering that follows the client's terminal, not the daemon's."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from .conftest import SAMPLES
from .daemon_tools import Daemon, kill_daemons, mask
from .test_sample_plugins import FAULTY_RUNS, SAMPLE_RUNS

# The daemon starts with an environment unlike any client's: nothing of it may show.
DAEMON_ENV: dict[str, str | None] = {
    "NO_COLOR": None,
    "COLUMNS": "200",
    "TZ": "Asia/Tokyo",
    "TERM": "dumb",
    "WASMCLI_TIMEOUT_MS": "1",
    "WASMCLI_MAX_TRACES": "1",
    "WASMCLI_TRACE": "0",
    "WASMCLI_MAX_OUTPUT": "1",
    "LANG": "C.UTF-8",
}


def scenario() -> list[tuple[list[str], bytes | None]]:
    """Commands that change the home, in order: (argv, stdin). Paths are relative to the
    client's folder (a copy of sample_plugins/ under tmp)."""
    calls: list[tuple[list[str], bytes | None]] = []
    for name in ("hello", "counter", "uppercase", "json_fields", "word_freq"):
        calls.append((["register", f"plugins/{name}.wasm", "--name", name], None))
    calls += [
        (["register", "plugins/hello.wasm", "--name", "greeter"], None),
        (["register", "plugins/faulty/no_process.wasm"], None),
        (["list"], None),
        (["list", "--json"], None),
        (["inspect", "hello"], None),
        (["inspect", "counter", "--json"], None),
        (["inspect", "plugins/faulty/no_process.wasm"], None),
        (["codes"], None),
        (["codes", "--json"], None),
    ]
    for plugin, args, _, _ in SAMPLE_RUNS:
        seeded = [*args, "--seed", "7", "--timestamp", "1000"] if "--seed" not in args else args
        calls.append((["run", plugin, *seeded], None))
        calls.append((["run", plugin, *seeded, "--json"], None))
    for plugin, args, _, _, _ in FAULTY_RUNS:
        path = f"plugins/faulty/{plugin}.wasm"
        calls.append((["run", path, *args, "--seed", "7", "--timestamp", "1000"], None))
    calls += [
        (["run", "hello", "--seed", "1", "--timestamp", "2"], b"from stdin"),
        (["run", "hello", "--input-file", "input.txt", "--seed", "1", "--timestamp", "2"], None),
        (["run", "hello", "--trace", "--seed", "1", "--timestamp", "2", "-i", "x"], None),
        (["run", "hello", "--batch", "batch.jsonl"], None),
        (["run", "counter", "--batch", "-", "--batch-lines"], b"one\ntwo words\n\n"),
        (["run", "nope", "-i", "x", "--seed", "1", "--timestamp", "2"], None),
        (["run", "hello", "--bogus"], None),
        (["run", "hello", "--timeout-ms", "0"], None),
        (["bogus"], None),
        ([], None),
        (["--help"], None),
        (["run", "--help"], None),
        (["traces", "--help"], None),
        (["traces", "list"], None),
        (["traces", "list", "--json", "--limit", "5"], None),
        (["traces", "show", "--last"], None),
        (["traces", "show", "--last", "--json"], None),
        (["traces", "export", "--limit", "3", "--format", "jsonl"], None),
        (["traces", "export", "--limit", "2", "--output", "out/export.json"], None),
        (["traces", "stats"], None),
        (["traces", "diff", "last~1", "last"], None),
        (["remove", "greeter"], None),
        (["list"], None),
        # Last: its workers store their traces in the order they finish.
        (["run", "uppercase", "--batch", "batch.jsonl", "--jobs", "2"], None),
    ]
    return calls


_EVENT = re.compile(r"\b(?:Execution|Load|Fuel|Memory|Function|HostFunction)[A-Z]\w*")


def difference(where: str, stream: str, expected: object, got: object) -> str:
    """The lines that differ, for a failure's message."""
    import difflib

    def lines(text: object) -> list[str]:
        return str(text).replace("},{", "},\n{").splitlines()

    diff = difflib.unified_diff(lines(expected), lines(got), "in-process", "daemon", lineterm="")
    return f"{where}: {stream} differs\n" + "\n".join(list(diff)[:60])


def drawn_to_scale(args: list[str]) -> bool:
    return "--trace" in args or (args[:2] == ["traces", "show"] and "--json" not in args)


def client_folder(tmp: Path) -> Path:
    """A folder with the plugins, inputs and batch files the scenario names relatively."""
    folder = tmp / "work"
    shutil.copytree(SAMPLES, folder / "plugins")
    (folder / "input.txt").write_text("from a file")
    lines = [
        json.dumps({"id": f"n{i}", "input": f"in {i}", "seed": i, "timestamp": i}) for i in range(6)
    ]
    (folder / "batch.jsonl").write_text("\n".join(lines) + "\nnot json\n")
    (folder / "out").mkdir()
    return folder


def normalized_traces(daemon: Daemon) -> list[dict[str, object]]:
    """The home's traces without what differs between two runs of the same command."""
    done = daemon.run_in_process("traces", "export", "--limit", "0")
    assert done.returncode == 0, done.stderr
    traces = json.loads(done.stdout)
    for trace in traces:
        for key in ("trace_id", "started_at", "duration_ms", "duration_us", "batch_id"):
            trace.pop(key)
        for event in trace["events"]:
            event.pop("timestamp")
            event["metadata"].pop("duration_ms", None)
            # The env JSON of a run without --seed/--timestamp is random by design.
            metadata = event["metadata"]
            for key in ("random_seed", "timestamp", "env_length", "env_len"):
                metadata.pop(key, None)
            if metadata.get("operation") == "write_env":
                metadata.pop("bytes")
    return traces


def same(a: bytes, b: bytes, home_a: Path, home_b: Path) -> tuple[str, str]:
    text_a = mask(a.decode("utf-8", "replace").replace(str(home_a), "<home>"))
    text_b = mask(b.decode("utf-8", "replace").replace(str(home_b), "<home>"))
    return text_a, text_b


def test_every_command_gives_the_same_result_through_the_daemon(
    engine: str, tmp_path: Path
) -> None:
    """Two homes, the same commands: one in-process, one through a daemon whose own
    environment is as different as can be. Every stdout, stderr and exit code matches
    (ids, times and durations masked), then every stored trace."""
    work = client_folder(tmp_path)
    plain = Daemon(tmp_path / "plain")
    served = Daemon(tmp_path / "served")
    served.start(env=DAEMON_ENV)
    try:
        for args, stdin in scenario():
            expected = plain.run_in_process(*args, input=stdin, cwd=work)
            got = served.run(*args, input=stdin, cwd=work)
            where = f"wasmcli {' '.join(args)}"
            assert got.returncode == expected.returncode, (where, got.stderr, expected.stderr)
            out_b, out_a = same(got.stdout, expected.stdout, served.home, plain.home)
            err_b, err_a = same(got.stderr, expected.stderr, served.home, plain.home)
            if drawn_to_scale(args):
                # A timeline is drawn to the scale of its times (a warm engine imports in
                # no time): the same events, in the same order, is what must match.
                out_b, out_a = _EVENT.findall(out_b), _EVENT.findall(out_a)
                err_b, err_a = _EVENT.findall(err_b), _EVENT.findall(err_a)
            assert out_b == out_a, difference(where, "stdout", out_a, out_b)
            assert err_b == err_a, difference(where, "stderr", err_a, err_b)
        status = served.status()
        assert status["served"] == len(scenario()), status
        assert sorted(map(json.dumps, normalized_traces(served))) == sorted(
            map(json.dumps, normalized_traces(plain))
        )
    finally:
        served.stop()
        kill_daemons(served.home)


@pytest.mark.parametrize("columns", [80, 120])
def test_rendering_follows_the_clients_terminal(daemon_home: Daemon, columns: int) -> None:
    """In a terminal (colors, the window's width), the daemon draws what the in-process
    command draws, byte for byte, though the daemon itself started with NO_COLOR, a
    200-column COLUMNS and TERM=dumb."""
    from .terminal import run_in_terminal

    daemon_home.run_in_process("register", str(SAMPLES / "hello.wasm"), "--name", "hello")
    for text in ("a", "b" * 300):
        daemon_home.run_in_process("run", "hello", "-i", text)
    daemon_home.start(env={"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"})
    commands = [
        ["traces", "list"],
        ["traces", "show", "--last"],
        ["list"],
        ["inspect", "hello"],
        ["codes"],
        ["--help"],
        ["run", "--bogus"],
    ]
    for args in commands:
        plain = run_in_terminal(
            *args, columns=columns, env={"WASMCLI_DAEMON": "0", "NO_COLOR": None}
        )
        served = run_in_terminal(
            *args, columns=columns, env={"WASMCLI_DAEMON": "auto", "NO_COLOR": None}
        )
        assert served.exit_code == plain.exit_code, args
        assert served.screen == plain.screen, difference(
            " ".join(args), "screen", plain.screen, served.screen
        )
    assert "\x1b[" in served_screen(daemon_home, columns)  # colors: the terminal's choice
    assert daemon_home.status()["served"] == len(commands) + 1


def served_screen(daemon: Daemon, columns: int) -> str:
    from .terminal import run_in_terminal

    return run_in_terminal("traces", "list", columns=columns, env={"NO_COLOR": None}).screen
