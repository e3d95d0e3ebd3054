"""Attacks on the limits, each run on every engine: the limit holds, and both engines
give the same verdict (where one engine cannot run the module at all, that is said)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from wasmcli.config import RunConfig
from wasmcli.errors import ErrorKind
from wasmcli.runtime.executor import Executor
from wasmcli.store.registry import Registry
from wasmcli.tracing.tracer import Tracer
from wasmcli.wasm.leb128 import encode_u

from .conftest import SAMPLES, plugin_wat

MIB = 1 << 20


def run_json(cli, path: Path, *args: str) -> dict:
    result = cli("run", str(path), *args, "--json")
    data = result.json()
    data["exit_code"] = result.exit_code
    data["stderr"] = result.stderr
    return data


# -- the memory cap covers every memory and table together (issue 8, item 1) -----------


def grow_all_memories(count: int) -> str:
    """A plugin with `count` memories (1 page each, no maximum) that grows every one of
    them page by page until refused, and returns the pages it holds in total."""
    memories = "\n".join(f"(memory $m{i} 1)" for i in range(1, count))
    grow = "\n".join(
        f"(block $done{i} (loop $more{i}"
        f"  (br_if $done{i} (i32.eq (memory.grow $m{i} (i32.const 1)) (i32.const -1)))"
        f"  (br $more{i})))"
        f"(local.set $total (i32.add (local.get $total) (memory.size $m{i})))"
        for i in range(count)
    )
    return f"""(module
      (memory $m0 (export "memory") 1)
      {memories}
      (func (export "process") (param i32 i32 i32 i32) (result i32) (local $total i32)
        {grow}
        (local.get $total)))"""


def test_several_memories_are_refused_on_every_engine(cli, engine, wat_file) -> None:
    # wasmer 1.1 does not run multiple memories, so wasmcli runs them on neither engine
    # (one feature set): the cap over all memories together is held by `limit_resources`,
    # which `make spec` checks on the spec suite's multi-memory modules.
    data = run_json(cli, wat_file(grow_all_memories(24)), "--memory-limit-mb", "16")
    assert data["exit_code"] == 3 and data["error"]["kind"] == "load"
    assert "it uses multiple memories, which wasmcli does not run" in data["error"]["message"]


OVER_THE_CAP = {
    "24 memories of 3 MB": "\n".join(['(memory (export "memory") 48)'] + ["(memory 48)"] * 23),
    "a table of 10,000,000 elements": '(memory (export "memory") 1) (table 10000000 funcref)',
    "60 MB of memory and 1,000,000 table elements": (
        '(memory (export "memory") 960) (table 1000000 funcref)'
    ),
}


@pytest.mark.parametrize("declared", OVER_THE_CAP.values(), ids=list(OVER_THE_CAP))
def test_declaring_more_than_the_cap_is_refused_on_every_engine(
    cli, engine, wat_file, declared: str
) -> None:
    path = wat_file(plugin_wat("(i32.const 0)", memory=declared))
    data = run_json(cli, path)
    assert data["exit_code"] == 7, data
    assert data["error"]["kind"] == "memory_limit"
    assert data["error"]["message"].startswith("Memory limit exceeded: ")
    assert data["error"]["message"].endswith(" > 64 MB")
    inspected = cli("inspect", str(path), "--json").json()
    assert inspected["abi"]["ok"] is False
    # (the module of several memories also uses a proposal wasmcli does not run)
    also = ["load"] if "(memory 48)" in declared else []
    assert [p["kind"] for p in inspected["abi"]["problems"]] == ["memory_limit", *also]
    assert "ABI check: ok" not in cli("inspect", str(path)).stdout


def table_plugin(memory_max_pages: int | None, grow_table_by: int) -> str:
    """A plugin with a table of no declared maximum; returns what table.grow returned."""
    limits = "1" if memory_max_pages is None else f"1 {memory_max_pages}"
    return plugin_wat(
        f"(table.grow $t (ref.null func) (i32.const {grow_table_by}))",
        memory=f'(memory (export "memory") {limits})',
        extra="(table $t 0 funcref)",
    )


def test_table_growth_past_the_cap_returns_minus_one(cli, engine, wat_file) -> None:
    huge = run_json(cli, wat_file(table_plugin(1, 100_000_000)))
    assert huge["return_code"] == -1  # 800 MB of table under a 64 MB cap: refused
    within = run_json(cli, wat_file(table_plugin(1, 1_000_000), name="within"))
    assert within["return_code"] == 0 and within["success"]  # 8 MB: granted
    # The same fuel on both engines: a successful grow also costs its delta.
    assert (huge["fuel_consumed"], within["fuel_consumed"]) == (4, 1_000_004)


def test_memory_and_tables_share_one_cap(cli, engine, wat_file) -> None:
    # The room the initial sizes leave goes to the memories first: a memory that may
    # grow to 1023 of the 1024 pages leaves one page, 8,192 elements, to the table.
    fits = run_json(cli, wat_file(table_plugin(1023, 8192), name="fits"))
    over = run_json(cli, wat_file(table_plugin(1023, 8193), name="over"))
    assert (fits["return_code"], over["return_code"]) == (0, -1)
    # A memory with no maximum of its own may take the whole cap: no room for tables.
    assert run_json(cli, wat_file(table_plugin(None, 1), name="none"))["return_code"] == -1


# -- host.log checks the output cap before copying (item 3) ------------------------------

BIG_LOG_LINE = plugin_wat(
    "(call $log (i32.const 0) (i32.const 67108864)) (i32.const 0)",
    memory='(memory (export "memory") 1025)',
)
SMALL_LOG_LINE = plugin_wat(
    "(call $log (i32.const 0) (i32.const 16)) (i32.const 0)",
    memory='(memory (export "memory") 1025)',
)

PEAK_MEMORY = """
import json, resource, sys
from wasmcli.config import RunConfig
from wasmcli.runtime.executor import Executor
from wasmcli.store.registry import Registry
from wasmcli.tracing.tracer import Tracer

def peak_kib():
    # VmHWM, not RUSAGE_SELF: ru_maxrss survives exec, so it would still hold the test
    # runner's own peak. A wasmer engine process is a child: its peak is its own.
    status = open("/proc/self/status").read().split("VmHWM:")[1]
    own = int(status.split()[0])
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)

config = RunConfig(engine=sys.argv[2], memory_limit_mb=128, max_output=1 << 20)
result = Executor(Registry(), tracer=Tracer()).execute(sys.argv[1], "", config)
print(json.dumps({"exit": result.exit_code, "peak_kib": peak_kib()}))
"""


def peak_memory_of_run(path: Path, engine: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY, str(path), engine],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def test_a_64_mb_log_line_is_refused_at_its_length(cli, engine, wat_file) -> None:
    path = wat_file(BIG_LOG_LINE)
    data = run_json(cli, path, "--memory-limit-mb", "128")
    assert data["exit_code"] == 9, data
    assert data["error"]["message"].startswith("Output exceeds the limit of 1 MiB (log line 1)")
    # At bounded memory: no copy of the 64 MB line is made (a copy alone is 64 MB, and
    # its text another 64 MB). Measured against the same run logging 16 bytes.
    refused = peak_memory_of_run(path, engine)
    baseline = peak_memory_of_run(wat_file(SMALL_LOG_LINE, name="small"), engine)
    assert refused["exit"] == 9 and baseline["exit"] == 0
    assert refused["peak_kib"] - baseline["peak_kib"] < 32 * 1024, (refused, baseline)


# -- a host.log fault in a start function (item 4) --------------------------------------


def test_a_host_log_fault_in_the_start_function_is_a_failed_start(cli, engine, wat_file) -> None:
    path = wat_file(
        plugin_wat(
            "(i32.const 0)",
            extra="(func $init (call $log (i32.const 65530) (i32.const 100))) (start $init)",
        )
    )
    data = run_json(cli, path)
    assert data["exit_code"] == 4, data
    assert data["error"]["kind"] == "abi"
    assert data["error"]["message"] == (
        "Failed to instantiate module: the start function trapped: "
        "host.log range 65530..65630 is outside the plugin's memory (65536 bytes)"
    )
    assert data["error"]["stage"] == "instantiate"


# -- compiling is bounded (item 5) ------------------------------------------------------


def big_module(code_bytes: int) -> bytes:
    """A valid plugin with about `code_bytes` of code: `process` and as many more
    functions of 1 MiB of (i32.const 1, drop) pairs as it takes (engines cap the size of
    one function body, not of a module)."""

    def section(section_id: int, payload: bytes) -> bytes:
        return bytes((section_id,)) + encode_u(len(payload)) + payload

    count = max(1, code_bytes // MIB)
    body = b"\x00" + b"\x41\x01\x1a" * (min(code_bytes, MIB) // 3) + b"\x41\x00\x0b"
    entry = encode_u(len(body)) + body
    return b"".join(
        (
            b"\x00asm\x01\x00\x00\x00",
            section(1, b"\x01\x60\x04\x7f\x7f\x7f\x7f\x01\x7f"),
            section(3, encode_u(count) + b"\x00" * count),
            section(5, b"\x01\x00\x01"),
            section(7, b"\x02\x06memory\x02\x00\x07process\x00\x00"),
            section(10, encode_u(count) + entry * count),
        )
    )


def test_compiling_past_the_compile_limit_is_a_load_error(
    cli, engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wasmcli.engines import base

    path = tmp_path / "big.wasm"
    path.write_bytes(big_module(2 * MIB))  # large enough for wasmtime's compile worker
    monkeypatch.setattr(base, "COMPILE_LIMIT_S", 0.02)
    data = run_json(cli, path)
    assert data["exit_code"] == 3, data
    assert data["error"]["message"] == (
        "Failed to compile module: compiling took longer than 0.02 s"
    )
    monkeypatch.setattr(base, "COMPILE_LIMIT_S", 60.0)
    again = run_json(cli, path)  # nothing half-written was cached
    assert again["success"] and again["return_code"] == 0


def test_timeout_covers_the_plugin_not_the_compile(cli, engine, tmp_path: Path) -> None:
    path = tmp_path / "big.wasm"
    path.write_bytes(big_module(2 * MIB))
    data = run_json(cli, path, "--timeout-ms", "20")
    assert data["success"], data
    events = cli("traces", "show", "--last", "--json").json()["events"]
    compiled = next(e for e in events if e["metadata"].get("step") == "module")
    assert compiled["metadata"]["duration_ms"] > 20  # compiling took longer than the limit


# -- each run's deadline is its own (item 6) --------------------------------------------

SPIN = plugin_wat("(loop $l (br $l)) (i32.const 0)")


def test_runs_in_threads_keep_their_own_deadlines(engine: str, wat_file) -> None:
    path = str(wat_file(SPIN))
    results: dict[str, tuple[str | None, float]] = {}

    def run(name: str, timeout_ms: int) -> None:
        started = time.monotonic()
        config = RunConfig(timeout_ms=timeout_ms, fuel=10**15, engine=engine)
        result = Executor(Registry(), tracer=Tracer()).execute(path, "", config)
        kind = result.error.kind.value if result.error else None
        results[name] = (kind, time.monotonic() - started)

    long = threading.Thread(target=run, args=("long", 3000))
    short = threading.Thread(target=run, args=("short", 200))
    long.start()
    short.start()
    short.join(60)
    long.join(60)
    assert results["short"][0] == results["long"][0] == "timeout"
    assert results["long"][1] >= 3.0  # not stopped by the short run's deadline
    assert results["short"][1] < 2.5  # nor kept running until the long run's


def test_many_runs_in_threads_each_get_their_own_output(engine: str) -> None:
    executor_results: list[str] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        config = RunConfig(engine=engine, seed=n)
        result = Executor(Registry(), tracer=Tracer(enabled=False)).execute(
            str(SAMPLES / "hello.wasm"), f"t{n}", config
        )
        with lock:
            executor_results.append(result.output)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(executor_results) == sorted(f"Hello, t{n}!" for n in range(8))


# -- the largest numbers cli options accept work on both engines (item 2) ----------------


def test_the_largest_fuel_and_timeout_are_held(cli, engine) -> None:
    hello = SAMPLES / "hello.wasm"
    most = run_json(cli, hello, "--fuel", str(2**63 - 1), "--input", "x")
    assert most["success"] and most["fuel_limit"] == 2**63 - 1
    assert most["fuel_consumed"] == run_json(cli, hello, "--input", "x")["fuel_consumed"]
    # A 24-hour deadline neither wraps nor fires early: the fuel ends this run.
    day = run_json(
        cli,
        SAMPLES / "faulty" / "infinite_loop.wasm",
        "--timeout-ms",
        "86400000",
        "--fuel",
        "1000000",
    )
    assert day["error"]["kind"] == "out_of_fuel", day


# -- what a timeout records (item 15) ---------------------------------------------------


def test_a_timeout_is_recorded_at_the_process_stage(cli, engine, wat_file) -> None:
    data = run_json(cli, wat_file(SPIN), "--timeout-ms", "200", "--fuel", str(10**15))
    assert data["error"]["kind"] == "timeout" and data["error"]["stage"] == "process"
    trace = cli("traces", "show", "--last", "--json").json()
    error_event = trace["events"][-1]
    assert error_event["event_type"] == "ExecutionError"
    assert error_event["metadata"]["stage"] == "process"


# -- a trace that could not be saved is never cited (item 11) ---------------------------


def test_a_lost_trace_is_not_cited(cli, engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from wasmcli.store.traces import TraceStore

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(TraceStore, "save", full_disk)
    result = cli("run", str(SAMPLES / "hello.wasm"), "--input", "x", "--json")
    assert result.exit_code == 0
    assert result.json()["trace_id"] is None
    summary, warning = result.stderr.splitlines()
    assert "SUCCESS" in summary and "trace" not in summary
    assert warning == (
        "warning: the trace could not be saved: OSError: [Errno 28] No space left on device"
    )
    timeline = cli("run", str(SAMPLES / "hello.wasm"), "--input", "x", "--trace")
    assert timeline.stdout == "Hello, x!\n"
    assert "trace" not in timeline.stderr.splitlines()[0]  # the summary, not the timeline


def test_the_error_kind_of_a_signal_is_documented() -> None:
    assert ErrorKind.TERMINATED.exit_code == 143
