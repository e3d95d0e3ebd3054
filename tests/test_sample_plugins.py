"""Every sample plugin runs from the CLI with its documented output and exit code, and every
faulty plugin fails with its documented exit code and error kind (sample_plugins/README.md,
sample_plugins/faulty/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import SAMPLES

# plugin, args, exit code, exact output
SAMPLE_RUNS = [
    ("hello", ["--input", "world"], 0, "Hello, world!"),
    (
        "counter",
        ["--input", "hello world"],
        0,
        "Characters: 11\nLetters: 10\nDigits: 0\nSpaces: 1\n"
        'Result = {"chars":11,"letters":10,"digits":0,"spaces":1}',
    ),
    (
        "counter",
        ["--input", "héllo wörld 123"],
        0,
        "Characters: 15\nLetters: 10\nDigits: 3\nSpaces: 2\n"
        'Result = {"chars":15,"letters":10,"digits":3,"spaces":2}',
    ),
    ("uppercase", ["--input", "héllo, world"], 0, "HéLLO, WORLD"),
    ("uppercase", ["--input", "a" * 70000], 1, "error: input is longer than the 65536-byte buffer"),
    (
        "json_fields",
        [
            "--seed",
            "42",
            "--env",
            "name=x",
            "--input",
            '{"user":"ada","age":36,"admin":true,"team":null}',
        ],
        0,
        "user=ada\nage=36\nadmin=true\nteam=null\nenv.random_seed=42\nenv.name=x",
    ),
    (
        "json_fields",
        ["--input", '{"user":"ada",}'],
        1,
        "error: invalid JSON at byte 14: expected a key in double quotes",
    ),
    (
        "json_fields",
        ["--input", '{"user":{"name":"ada"}}'],
        1,
        "error: unsupported JSON at byte 8: nested objects and arrays are not supported",
    ),
    (
        "word_freq",
        ["--input", "the cat and The dog and THE end"],
        0,
        "the 3\nand 2\ncat 1\ndog 1\nend 1",
    ),
]


@pytest.mark.parametrize(("plugin", "args", "exit_code", "output"), SAMPLE_RUNS)
def test_sample_plugin(plugin: str, args: list[str], exit_code: int, output: str, cli) -> None:
    result = cli("run", str(SAMPLES / f"{plugin}.wasm"), *args, "--json")
    assert result.exit_code == exit_code, result
    data = result.json()
    assert data["output"] == output
    if exit_code == 1:
        assert data["error"]["kind"] == "plugin_error"


def test_word_freq_on_a_large_input(cli, tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("the quick brown fox jumps over the lazy dog " * 50000)
    result = cli("run", str(SAMPLES / "word_freq.wasm"), "--input-file", str(words), "--json")
    lines = result.json()["output"].split("\n")
    assert lines[0] == "the 100000"
    assert lines[1:] == [
        f"{w} 50000" for w in ("brown", "dog", "fox", "jumps", "lazy", "over", "quick")
    ]


FAULTY = SAMPLES / "faulty"
# plugin, extra args, exit code, error kind (None: success or plugin error), text to find
FAULTY_RUNS = [
    (
        "infinite_loop",
        ["--timeout-ms", "200", "--fuel", "1000000000000"],
        5,
        "timeout",
        "Execution timeout",
    ),
    ("infinite_loop", ["--fuel", "1000000"], 6, "out_of_fuel", "Out of fuel"),
    ("panic", [], 8, "trap", "unreachable"),
    ("out_of_bounds", [], 8, "trap", "out-of-bounds memory access"),
    ("memory_bomb", [], 1, "plugin_error", "ERROR_MEMORY_ALLOCATION"),
    ("log_flood", [], 9, "io", "Output exceeds the limit of 1 MiB"),
    ("invalid_utf8_output", [], 9, "io", "not valid UTF-8"),
    ("stack_overflow", [], 8, "trap", "Plugin trapped: call depth limit 1000 exceeded"),
    ("bad_log_range", [], 8, "trap", "host.log range"),
    ("start_trap", [], 4, "abi", "the start function trapped"),
    (
        "imports_get_state",
        [],
        4,
        "abi",
        "Failed to instantiate module: import `host::get_state` not found",
    ),
    ("no_process", [], 4, "abi", "does not export `process`"),
    ("wrong_signature", [], 4, "abi", "`process` has the wrong signature"),
    ("big_memory", [], 7, "memory_limit", "Memory limit exceeded: 128 MB > 64 MB"),
    ("tiny_memory", ["--input", "x" * 70000], 7, "memory_limit", "cannot grow"),
    ("divide_by_zero", [], 8, "trap", "integer divide by zero"),
    ("unreachable", [], 8, "trap", "unreachable"),
]


@pytest.mark.parametrize(
    ("plugin", "args", "exit_code", "kind", "text"),
    FAULTY_RUNS,
    ids=[f"{r[0]}-{r[2]}" for r in FAULTY_RUNS],
)
def test_faulty_plugin(
    plugin: str, args: list[str], exit_code: int, kind: str, text: str, cli
) -> None:
    result = cli("run", str(FAULTY / f"{plugin}.wasm"), *args, "--json")
    assert result.exit_code == exit_code, result
    data = result.json()
    assert data["error"]["kind"] == kind
    assert text in data["error"]["message"] or text in data["output"] or text in result.stderr
    trace = cli("traces", "show", "--last", "--json").json()
    assert trace["error_kind"] == kind


def test_faulty_plugins_that_succeed(cli) -> None:
    grow = cli("run", str(FAULTY / "grow_loop.wasm"), "--memory-limit-mb", "16", "--json").json()
    # 16 MB is 256 pages, but the cap also covers the plugin's table (4 elements, 32
    # bytes): the memory can grow to 255 pages.
    assert grow["output"] == "final memory size: 255 pages" and grow["success"]
    bomb = cli("run", str(FAULTY / "memory_bomb.wasm"), "--memory-limit-mb", "16", "--json").json()
    assert bomb["output"] == "got 14 MB before memory.grow failed (memory is 242 pages)"
    assert bomb["return_code_name"] == "ERROR_MEMORY_ALLOCATION"
    tiny = cli("run", str(FAULTY / "tiny_memory.wasm"), "--input", "hi", "--json").json()
    assert tiny["output"] == "hi" and tiny["success"]


def test_panic_names_the_functions_in_its_backtrace(cli) -> None:
    data = cli("run", str(FAULTY / "panic.wasm"), "--json").json()
    assert data["output"].startswith("panic at faulty/panic.rs:")
    assert any("process" in frame for frame in data["error"]["backtrace"])


SAMPLES_THAT_FOLLOW_THE_ABI = sorted(
    p
    for p in SAMPLES.rglob("*.wasm")
    if p.stem
    not in {"start_trap", "imports_get_state", "no_process", "wrong_signature", "big_memory"}
)


@pytest.mark.parametrize("path", SAMPLES_THAT_FOLLOW_THE_ABI, ids=lambda p: p.stem)
def test_committed_wasm_passes_the_abi_check(path: Path, cli) -> None:
    result = cli("inspect", str(path), "--json")
    assert result.exit_code == 0, result
    assert result.json()["abi"]["ok"] is True


@pytest.mark.parametrize(
    "plugin", ["imports_get_state", "no_process", "wrong_signature", "big_memory"]
)
def test_abi_breaking_samples_fail_the_check(plugin: str, cli) -> None:
    assert cli("inspect", str(FAULTY / f"{plugin}.wasm")).exit_code in (4, 7)


def test_every_wasm_has_its_source_next_to_it() -> None:
    for wasm in SAMPLES.rglob("*.wasm"):
        sources = [wasm.with_suffix(s) for s in (".wat", ".rs", ".c")]
        assert any(s.exists() for s in sources), wasm


def test_rust_frames_are_demangled(cli) -> None:
    backtrace = cli("run", str(FAULTY / "panic.wasm"), "--json").json()["error"]["backtrace"]
    names = [frame.split(" @ ")[0] for frame in backtrace]
    assert "panic::fail" in names and "core::panicking::panic_fmt" in names
    assert not any(name.startswith("_ZN") for name in names)


def test_stack_overflow_backtrace_folds_repeated_frames(cli) -> None:
    backtrace = cli("run", str(FAULTY / "stack_overflow.wasm"), "--json").json()["error"][
        "backtrace"
    ]
    assert len(backtrace) <= 3
    assert any(frame.startswith("recurse @ ") and "(× " in frame for frame in backtrace)
