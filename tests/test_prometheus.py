"""Prometheus metrics: `wasmcli metrics`, written, served, and scraped by a real Prometheus.

The exposition is read back with prometheus_client's own parser. Where Debian's
`prometheus` is installed, one test starts it on 127.0.0.1 (its own config and storage,
free ports) scraping `wasmcli metrics --serve`, and asks its HTTP API for
wasmcli_runs_total. Every process a test starts is stopped when the test ends, pass or
fail, and runs under `timeout` so that it stops even if the test process dies.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import SAMPLES

HELLO = str(SAMPLES / "hello.wasm")
PANIC = str(SAMPLES / "faulty" / "panic.wasm")
JSON_FIELDS = str(SAMPLES / "json_fields.wasm")
LOOP = str(SAMPLES / "faulty" / "infinite_loop.wasm")


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(family: Any, name: str | None = None) -> list[Any]:
    return [s for s in family.samples if name is None or s.name == name]


def make_runs(cli: Any) -> list[dict[str, Any]]:
    assert cli("run", HELLO, "-i", "a").exit_code == 0
    assert cli("run", HELLO, "-i", "b").exit_code == 0
    assert cli("run", PANIC).exit_code == 8
    assert cli("run", JSON_FIELDS, "-i", "[").exit_code == 1
    assert cli("run", LOOP, "--fuel", "100000").exit_code == 6
    traces = cli("traces", "list", "--json").json()
    assert len(traces) == 5
    return traces


def test_metrics_count_the_stored_runs(cli: Any) -> None:
    traces = make_runs(cli)
    done = cli("metrics")
    assert done.exit_code == 0, done
    found = families(done.stdout)
    engine = traces[0]["engine"]
    runs = {
        (
            s.labels["binary"],
            s.labels["engine"],
            s.labels["outcome"],
            s.labels["error_kind"],
        ): s.value
        for s in samples(found["wasmcli_runs"], "wasmcli_runs_total")
    }
    assert found["wasmcli_runs"].type == "counter"
    assert runs == {
        ("hello", engine, "ok", ""): 2,
        ("panic", engine, "failed", "trap"): 1,
        ("json_fields", engine, "failed", "plugin_error"): 1,
        ("infinite_loop", engine, "failed", "out_of_fuel"): 1,
    }
    assert samples(found["wasmcli_traces_stored"])[0].value == 5

    duration = found["wasmcli_run_duration_seconds"]
    assert duration.type == "histogram"
    for binary in ("hello", "panic", "json_fields", "infinite_loop"):
        mine = [t for t in traces if t["binary_name"] == binary]
        of = [s for s in duration.samples if s.labels["binary"] == binary]
        buckets = [s for s in of if s.name.endswith("_bucket")]
        counts = [s.value for s in buckets]
        assert counts == sorted(counts)  # cumulative
        assert buckets[-1].labels["le"] == "+Inf" and counts[-1] == len(mine)
        [count] = [s.value for s in of if s.name.endswith("_count")]
        [total] = [s.value for s in of if s.name.endswith("_sum")]
        assert count == len(mine)
        assert total == pytest.approx(sum(t["duration_us"] for t in mine) / 1e6)
        for bucket in buckets[:-1]:
            bound = float(bucket.labels["le"])
            assert bucket.value == sum(1 for t in mine if t["duration_us"] / 1e6 <= bound)

    fuel = found["wasmcli_run_fuel"]
    known = [t for t in traces if t["fuel_consumed"] is not None]
    counted = {s.labels["binary"]: s.value for s in fuel.samples if s.name.endswith("_count")}
    assert sum(counted.values()) == len(known)  # runs whose fuel is unknown are not counted
    assert counted["hello"] == 2
    hello_sum = [
        s.value
        for s in fuel.samples
        if s.name == "wasmcli_run_fuel_sum" and s.labels["binary"] == "hello"
    ]
    assert hello_sum == [sum(t["fuel_consumed"] for t in traces if t["binary_name"] == "hello")]
    le_100 = [
        s.value
        for s in fuel.samples
        if s.labels.get("le") == "100.0" and s.labels["binary"] == "hello"
    ]
    assert le_100 == [2]  # hello uses a few dozen

    newest = {
        s.labels["binary"]: s.value for s in samples(found["wasmcli_last_run_timestamp_seconds"])
    }
    assert set(newest) == {"hello", "panic", "json_fields", "infinite_loop"}
    assert abs(newest["hello"] - time.time()) < 600


def test_filters_select_runs_and_the_store_count_stays_whole(cli: Any) -> None:
    make_runs(cli)
    found = families(cli("metrics", "--binary", "hello").stdout)
    binaries = {s.labels["binary"] for s in samples(found["wasmcli_runs"])}
    assert binaries == {"hello"}
    assert samples(found["wasmcli_traces_stored"])[0].value == 5
    failed = families(cli("metrics", "--failed").stdout)
    outcomes = {s.labels["outcome"] for s in samples(failed["wasmcli_runs"])}
    assert outcomes == {"failed"}


def test_an_empty_store_gives_valid_metrics(any_engine_cli: Any) -> None:
    found = families(any_engine_cli("metrics").stdout)
    assert samples(found["wasmcli_traces_stored"])[0].value == 0
    assert samples(found["wasmcli_runs"]) == []


def test_label_values_from_plugin_names_are_escaped(any_engine_cli: Any, tmp_path: Path) -> None:
    odd = tmp_path / 'say "hi"\\there.wasm'
    odd.write_bytes(Path(HELLO).read_bytes())
    assert any_engine_cli("run", str(odd), "-i", "x").exit_code == 0
    found = families(any_engine_cli("metrics").stdout)
    assert {s.labels["binary"] for s in samples(found["wasmcli_runs"])} == {'say "hi"\\there'}


def test_output_is_written_atomically_for_the_textfile_collector(
    any_engine_cli: Any, tmp_path: Path
) -> None:
    assert any_engine_cli("run", HELLO, "-i", "x").exit_code == 0
    folder = tmp_path / "textfile"
    folder.mkdir()
    target = folder / "wasmcli.prom"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    done = any_engine_cli("metrics", "--output", str(target))
    assert done.exit_code == 0, done
    assert done.stdout == ""
    found = families(target.read_text())
    assert samples(found["wasmcli_traces_stored"])[0].value == 1
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # a replaced file keeps its mode
    assert [p.name for p in folder.iterdir()] == ["wasmcli.prom"]  # no temporary file left
    fresh = folder / "new.prom"
    old_umask = os.umask(0o022)
    try:
        assert any_engine_cli("metrics", "-o", str(fresh)).exit_code == 0
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644  # node_exporter (another user) reads it


def test_output_into_a_missing_folder_is_a_usage_error(any_engine_cli: Any, tmp_path: Path) -> None:
    done = any_engine_cli("metrics", "--output", str(tmp_path / "nope" / "w.prom"))
    assert done.exit_code == 2
    assert done.stderr == (
        f"error: --output {tmp_path}/nope/w.prom: the folder {tmp_path}/nope does not exist\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--serve"], "error: --serve needs --port N (0: any free port)\n"),
        (["--port", "9"], "error: --port needs --serve\n"),
        (["--serve", "--port", "70000"], "error: --port must be between 0 and 65535\n"),
        (
            ["--serve", "--port", "0", "-o", "x.prom"],
            "error: --serve and --output cannot be used together\n",
        ),
    ],
)
def test_serve_options_are_checked(any_engine_cli: Any, args: list[str], message: str) -> None:
    done = any_engine_cli("metrics", *args)
    assert done.exit_code == 2
    assert done.stderr == message


def test_help_says_the_counts_are_over_the_stored_traces(any_engine_cli: Any) -> None:
    text = " ".join(any_engine_cli("metrics", "--help").stdout.split())
    assert "They count the stored traces, which retention bounds" in text
    assert "WASMCLI_MAX_TRACES" in text


# -- serving ----------------------------------------------------------------------------


def wasmcli_exe() -> str:
    candidate = Path(sys.executable).with_name("wasmcli")
    if not candidate.exists():
        pytest.skip("wasmcli console script not installed next to this Python")
    return str(candidate)


def bounded(command: list[str], seconds: int = 300) -> list[str]:
    """The command under coreutils' `timeout`, so it ends even if this test process dies."""
    limiter = shutil.which("timeout")
    return [limiter, "-k", "5", str(seconds), *command] if limiter else command


def stop(process: subprocess.Popen[Any]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(timeout=10)


def read_line(stream: Any, deadline: float) -> str:
    """One line from a pipe, waiting at most until `deadline`."""
    line = b""
    fd = stream.fileno()
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError(f"no line in time (got {line!r})")
        chunk = os.read(fd, 1)
        if not chunk:
            raise AssertionError(f"the process ended (got {line!r})")
        line += chunk
    return line.decode()


@pytest.fixture
def metrics_server(wasmcli_home: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`wasmcli metrics --serve --port 0`, ready (it printed its address)."""
    env = {**os.environ, "WASMCLI_HOME": str(wasmcli_home), "WASMCLI_ENGINE": "wasmtime"}
    process = subprocess.Popen(
        bounded([wasmcli_exe(), "metrics", "--serve", "--port", "0"]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        line = read_line(process.stderr, time.monotonic() + 60)
        prefix = "Serving metrics on http://127.0.0.1:"
        assert line.startswith(prefix) and line.endswith("/metrics (Ctrl-C stops)\n"), line
        yield process, int(line[len(prefix) :].split("/", 1)[0])
    finally:
        stop(process)


def get(url: str, accept: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_serve_answers_each_scrape_with_fresh_figures(
    any_engine_cli: Any, metrics_server: tuple[subprocess.Popen[bytes], int]
) -> None:
    process, port = metrics_server
    url = f"http://127.0.0.1:{port}/metrics"
    status, content_type, body = get(url)
    assert status == 200 and content_type.startswith("text/plain")
    assert samples(families(body)["wasmcli_traces_stored"])[0].value == 0
    assert any_engine_cli("run", HELLO, "-i", "x").exit_code == 0
    assert any_engine_cli("run", PANIC).exit_code == 8
    found = families(get(url)[2])
    assert samples(found["wasmcli_traces_stored"])[0].value == 2
    assert {s.labels["binary"] for s in samples(found["wasmcli_runs"])} == {"hello", "panic"}
    # A scraper that asks for OpenMetrics gets it.
    status, content_type, body = get(url, "application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith("# EOF")
    assert get(f"http://127.0.0.1:{port}/")[0] == 404
    # SIGTERM (a service manager stopping it) is its normal end.
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert process.stderr is not None and process.stderr.read() == b"Stopped.\n"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_right_after_a_scrape_stops_it_cleanly_even_twice(
    metrics_server: tuple[subprocess.Popen[bytes], int], signum: int
) -> None:
    """Ctrl-C, or a service manager signalling the process group (the signal may come
    twice), ends it with exit 0 after the scrape at hand: never a traceback."""
    process, port = metrics_server
    for _ in range(3):
        assert get(f"http://127.0.0.1:{port}/metrics")[0] == 200
    process.send_signal(signum)
    process.send_signal(signum)
    assert process.wait(timeout=10) == 0
    assert process.stderr is not None and process.stderr.read() == b"Stopped.\n"


def test_a_port_in_use_is_one_line_and_exit_9(any_engine_cli: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = any_engine_cli("metrics", "--serve", "--port", str(port))
    assert done.exit_code == 9
    assert done.stderr.startswith(f"error: Cannot serve on 127.0.0.1:{port}: ")
    assert len(done.stderr.splitlines()) == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is not installed")
def test_a_real_prometheus_scrapes_wasmcli_runs_total(
    any_engine_cli: Any,
    metrics_server: tuple[subprocess.Popen[bytes], int],
    tmp_path: Path,
) -> None:
    assert any_engine_cli("run", HELLO, "-i", "a").exit_code == 0
    assert any_engine_cli("run", HELLO, "-i", "b").exit_code == 0
    assert any_engine_cli("run", PANIC).exit_code == 8
    _, wasmcli_port = metrics_server
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: wasmcli\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{wasmcli_port}']\n"
    )
    port = free_port()
    prometheus = subprocess.Popen(
        bounded(
            [
                str(shutil.which("prometheus")),
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    api = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode(
        {"query": "wasmcli_runs_total"}
    )
    try:
        deadline = time.monotonic() + 90
        result: list[Any] = []
        while time.monotonic() < deadline and not result:
            assert prometheus.poll() is None, prometheus.stderr.read() if prometheus.stderr else ""
            try:
                status, _, body = get(api)
            except OSError:
                status, body = 0, ""  # not listening yet
            if status == 200:
                answer = json.loads(body)
                assert answer["status"] == "success"
                result = answer["data"]["result"]
            if not result:
                time.sleep(0.5)
        assert result, "Prometheus never stored wasmcli_runs_total"
        series = {
            (
                r["metric"]["binary"],
                r["metric"]["outcome"],
                r["metric"].get("error_kind", ""),
            ): float(r["value"][1])
            for r in result
        }
        assert series == {("hello", "ok", ""): 2.0, ("panic", "failed", "trap"): 1.0}
        assert all(r["metric"]["job"] == "wasmcli" for r in result)
    finally:
        stop(prometheus)


def test_bucket_bounds_are_inclusive_as_prometheus_reads_le(any_engine_cli: Any) -> None:
    """A run of exactly 5 ms counts in le="0.005", one of exactly 100 fuel in le="100.0"."""
    import uuid
    from datetime import datetime, timezone

    from wasmcli.store.registry import Registry
    from wasmcli.store.traces import TraceStore
    from wasmcli.tracing.events import ExecutionTrace

    store = TraceStore(Registry(Path(os.environ["WASMCLI_HOME"])).conn)
    for duration_us, fuel in ((5_000, 100), (5_001, 101)):
        store.save(
            ExecutionTrace(
                trace_id=str(uuid.uuid4()),
                binary_id=None,
                binary_name="edge",
                engine="wasmtime",
                started_at=datetime.now(timezone.utc),
                duration_us=duration_us,
                success=True,
                error_kind=None,
                error_message=None,
                return_code=0,
                fuel_limit=1000,
                fuel_consumed=fuel,
            ),
            100,
        )
    found = families(any_engine_cli("metrics").stdout)
    duration = {
        s.labels["le"]: s.value
        for s in samples(
            found["wasmcli_run_duration_seconds"], "wasmcli_run_duration_seconds_bucket"
        )
    }
    assert (duration["0.005"], duration["0.01"]) == (1, 2)
    fuel = {
        s.labels["le"]: s.value
        for s in samples(found["wasmcli_run_fuel"], "wasmcli_run_fuel_bucket")
    }
    assert (fuel["100.0"], fuel["1000.0"]) == (1, 2)


def test_metrics_of_one_batch(any_engine_cli: Any, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"input": "a"}\n{"input": "b"}\n{"input": "c"}\n')
    assert any_engine_cli("run", HELLO, "--batch", str(inputs)).exit_code == 0
    assert any_engine_cli("run", PANIC).exit_code == 8
    [batch_id] = {t["batch_id"] for t in any_engine_cli("traces", "list", "--json").json()} - {None}
    found = families(any_engine_cli("metrics", "--batch", batch_id).stdout)
    runs = {
        (s.labels["binary"], s.labels["outcome"]): s.value
        for s in samples(found["wasmcli_runs"], "wasmcli_runs_total")
    }
    assert runs == {("hello", "ok"): 3}
    assert samples(found["wasmcli_traces_stored"])[0].value == 4
