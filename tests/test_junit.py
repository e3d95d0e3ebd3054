"""JUnit XML: `run --junit FILE` and `traces export --format junit`, read back with
junitparser as CI systems read them, and held to the shape of the schema GitLab and
Jenkins share."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from junitparser import Error, Failure, JUnitXml

from .conftest import ECHO_WAT, SAMPLES, plugin_wat

HELLO = str(SAMPLES / "hello.wasm")
PANIC = str(SAMPLES / "faulty" / "panic.wasm")
JSON_FIELDS = str(SAMPLES / "json_fields.wasm")


def check_schema(path: Path) -> None:
    """The structure Jenkins' JUnit schema (junit-10.xsd, which GitLab follows) asks
    for: required attributes, numbers where numbers go, counts that add up, and the
    order of a test case's children."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    number = re.compile(r"\d+(\.\d+)?")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for suite in root:
        assert suite.tag == "testsuite"
        for name in ("name", "tests", "failures", "errors", "skipped", "time", "timestamp"):
            assert name in suite.attrib, name
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp", ""))
        assert number.fullmatch(suite.get("time", ""))
        cases = list(suite)
        assert all(case.tag == "testcase" for case in cases)
        failures = sum(1 for c in cases if c.find("failure") is not None)
        errors = sum(1 for c in cases if c.find("error") is not None)
        assert int(suite.get("tests", "")) == len(cases)
        assert int(suite.get("failures", "")) == failures
        assert int(suite.get("errors", "")) == errors
        total_time = sum(float(c.get("time", "0")) for c in cases)
        assert float(suite.get("time", "")) == pytest.approx(total_time, abs=1e-5)
        for case in cases:
            assert case.get("name") and case.get("classname") is not None
            assert number.fullmatch(case.get("time", ""))
            tags = [child.tag for child in case]
            assert tags in ([], ["system-out"], ["failure"], ["error"]) or tags[-1:] == [
                "system-out"
            ]
            assert len([t for t in tags if t in ("failure", "error")]) <= 1
        totals["tests"] += len(cases)
        totals["failures"] += failures
        totals["errors"] += errors
    for name, total in totals.items():
        assert int(root.get(name, "")) == total


def cases_of(path: Path) -> dict[str, Any]:
    return {case.name: case for suite in JUnitXml.fromfile(str(path)) for case in suite}


def test_run_junit_writes_one_passing_test_case(cli: Any, tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    done = cli("run", HELLO, "-i", "world", "--json", "--junit", str(report))
    assert done.exit_code == 0
    result = json.loads(done.stdout)
    check_schema(report)
    xml = JUnitXml.fromfile(str(report))
    assert (xml.tests, xml.failures, xml.errors) == (1, 0, 0)
    [suite] = list(xml)
    assert suite.name == "hello"
    [case] = list(suite)
    assert case.name == result["trace_id"]
    assert case.classname == "hello"
    assert case.time == pytest.approx(result["duration_ms"] / 1000, abs=1e-6)
    assert case.is_passed
    assert case.system_out == "Hello, world!"


@pytest.mark.parametrize(
    ("args", "exit_code", "kind", "type_", "message"),
    [
        ([PANIC], 8, Failure, "trap", "trap: Plugin trapped: unreachable instruction executed"),
        (
            [JSON_FIELDS, "-i", '{"user":"ada",}'],
            1,
            Failure,
            "ERROR_PARSE_ERROR",
            "ERROR_PARSE_ERROR (-5): input could not be parsed",
        ),
        (["missing.wasm"], 3, Failure, "load", "load: Failed to read missing.wasm"),
    ],
    ids=["trap", "return-code", "load"],
)
def test_a_failed_run_carries_its_kind_or_return_code(
    cli: Any,
    tmp_path: Path,
    args: list[str],
    exit_code: int,
    kind: type,
    type_: str,
    message: str,
) -> None:
    report = tmp_path / "report.xml"
    done = cli("run", *args, "--junit", str(report))
    assert done.exit_code == exit_code  # the report does not change the verdict
    check_schema(report)
    [case] = cases_of(report).values()
    [outcome] = case.result
    assert isinstance(outcome, kind)
    assert outcome.type == type_
    assert outcome.message.startswith(message)
    trace_id = cli("traces", "list", "--json").json()[0]["trace_id"]
    assert f"trace: {trace_id}" in outcome.text
    assert case.name == trace_id


def test_the_report_records_the_stage_and_backtrace_of_a_trap(cli: Any, tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    cli("run", PANIC, "--junit", str(report))
    [case] = cases_of(report).values()
    text = case.result[0].text
    assert "stage: process" in text
    assert "panic::fail" in text
    assert case.system_out == "panic at faulty/panic.rs:17"


def test_plugin_text_that_xml_cannot_hold_is_escaped(
    any_engine_cli: Any, tmp_path: Path, wat_file: Any
) -> None:
    echo = wat_file(ECHO_WAT, "echo")
    report = tmp_path / "report.xml"
    text = "bell\x07 nul\x00 <tag> & ]]> \ufffe end"
    assert any_engine_cli("run", str(echo), "-i", text, "--junit", str(report)).exit_code == 0
    check_schema(report)
    [case] = cases_of(report).values()
    assert case.system_out == "bell\\x07 nul\\x00 <tag> & ]]> \\ufffe end"


def test_long_output_is_cut_and_says_so(any_engine_cli: Any, tmp_path: Path, wat_file: Any) -> None:
    echo = wat_file(ECHO_WAT, "echo")
    report = tmp_path / "report.xml"
    text = "é" * 40_000  # 80,000 bytes, above the 64 KiB a report keeps
    assert any_engine_cli("run", str(echo), "-i", text, "--junit", str(report)).exit_code == 0
    [case] = cases_of(report).values()
    kept, note = case.system_out.rsplit("\n", 1)
    assert kept == "é" * 32_768  # whole characters, 65,536 bytes
    assert note == "[wasmcli: output cut at 64 KiB: 14,464 more bytes not shown]"


def test_a_junit_path_that_cannot_be_written_is_a_usage_error_before_the_run(
    any_engine_cli: Any, tmp_path: Path
) -> None:
    done = any_engine_cli("run", HELLO, "--junit", str(tmp_path / "no" / "report.xml"))
    assert done.exit_code == 2
    assert done.stderr == (
        f"error: --junit {tmp_path}/no/report.xml: the folder {tmp_path}/no does not exist\n"
    )
    done = any_engine_cli("run", HELLO, "--junit", str(tmp_path))
    assert done.exit_code == 2 and "is a folder" in done.stderr
    assert any_engine_cli("traces", "list", "--json").json() == []  # not a run


def test_a_report_that_fails_late_makes_a_successful_run_exit_9(any_engine_cli: Any) -> None:
    # /proc exists, but no file can be created in it (not even by root).
    done = any_engine_cli("run", HELLO, "-i", "x", "--junit", "/proc/wasmcli-report.xml")
    assert done.exit_code == 9
    assert "error: cannot write the JUnit report /proc/wasmcli-report.xml" in done.stderr
    assert done.stdout == "Hello, x!\n"
    assert len(any_engine_cli("traces", "list", "--json").json()) == 1  # the run is kept


def test_export_junit_has_one_test_case_per_stored_trace(cli: Any, tmp_path: Path) -> None:
    assert cli("run", HELLO, "-i", "a").exit_code == 0
    assert cli("run", HELLO, "-i", "b").exit_code == 0
    assert cli("run", PANIC).exit_code == 8
    assert cli("run", JSON_FIELDS, "-i", "[").exit_code == 1
    report = tmp_path / "traces.xml"
    done = cli("traces", "export", "--format", "junit", "--output", str(report))
    assert done.exit_code == 0, done
    check_schema(report)
    stored = {t["trace_id"]: t for t in cli("traces", "list", "--json").json()}
    xml = JUnitXml.fromfile(str(report))
    assert (xml.tests, xml.failures, xml.errors) == (4, 2, 0)
    suites = {suite.name: suite for suite in xml}
    assert set(suites) == {"hello", "panic", "json_fields"}
    assert suites["hello"].tests == 2
    cases = cases_of(report)
    assert set(cases) == set(stored)
    for trace_id, case in cases.items():
        trace = stored[trace_id]
        assert case.classname == trace["binary_name"]
        assert case.time == pytest.approx(trace["duration_us"] / 1_000_000, abs=1e-6)
        assert case.is_passed == trace["success"]
    outputs = sorted(c.system_out for c in cases.values() if c.classname == "hello")
    assert outputs == ["Hello, a!", "Hello, b!"]


def test_export_junit_says_when_the_trace_kept_only_part_of_the_output(
    any_engine_cli: Any, wat_file: Any
) -> None:
    # 1,100 lines: a trace keeps the first 1,000 as events.
    lines = wat_file(
        plugin_wat(
            """
            (local $n i32)
            (loop $again
              (call $log (i32.const 0) (i32.const 4))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br_if $again (i32.lt_u (local.get $n) (i32.const 1100))))
            (i32.const 0)""",
            extra='(data (i32.const 0) "line")',
        ),
        "lines",
    )
    assert any_engine_cli("run", str(lines), "-q").exit_code == 0
    done = any_engine_cli("traces", "export", "--format", "junit")
    assert done.exit_code == 0
    xml = JUnitXml.fromstring(done.stdout)
    [case] = [c for suite in xml for c in suite]
    kept = case.system_out.split("\n")
    assert kept[:-1] == ["line"] * 1000
    assert kept[-1] == "[wasmcli: the trace kept 4,999 of 5,499 bytes of output]"


def test_a_run_that_could_not_be_judged_is_an_error_not_a_failure(
    any_engine_cli: Any, tmp_path: Path
) -> None:
    import os
    from datetime import datetime, timezone

    from wasmcli.store.registry import Registry
    from wasmcli.store.traces import TraceStore
    from wasmcli.tracing.events import ExecutionTrace

    assert any_engine_cli("run", HELLO, "-i", "x").exit_code == 0
    # What a run stopped by SIGTERM (a cancelled CI job) stores.
    stopped = ExecutionTrace(
        trace_id="0f0e0d0c-0b0a-4908-8706-050403020100",
        binary_id=None,
        binary_name="hello",
        engine="wasmtime",
        started_at=datetime.now(timezone.utc),
        duration_us=1500,
        success=False,
        error_kind="terminated",
        error_message="Terminated by SIGTERM",
        return_code=None,
        fuel_limit=5_000_000_000,
        fuel_consumed=None,
    )
    TraceStore(Registry(Path(os.environ["WASMCLI_HOME"])).conn).save(stopped, 100)
    report = tmp_path / "traces.xml"
    assert any_engine_cli("traces", "export", "--format", "junit", "-o", str(report)).exit_code == 0
    check_schema(report)
    xml = JUnitXml.fromfile(str(report))
    assert (xml.tests, xml.failures, xml.errors) == (2, 0, 1)
    [outcome] = cases_of(report)[stopped.trace_id].result
    assert isinstance(outcome, Error)
    assert outcome.type == "terminated"
    assert outcome.message == "terminated: Terminated by SIGTERM"


def batch_results(cli: Any, inputs: list[tuple[str | None, list[str]]]) -> list[dict[str, Any]]:
    """What `run --batch` prints for these inputs: each run's `run --json` object with its
    index and id (the library side of `--junit` with `--batch` takes this list)."""
    results = []
    for index, (input_id, args) in enumerate(inputs):
        done = cli("run", *args, "--json")
        results.append({"index": index, "id": input_id, **json.loads(done.stdout)})
    return results


def test_a_list_of_batch_results_gives_one_test_case_per_input(
    any_engine_cli: Any, tmp_path: Path
) -> None:
    from wasmcli.integrations.junit import write_junit
    from wasmcli.integrations.records import RecordCollector

    results = batch_results(
        any_engine_cli,
        [
            ("alice", [HELLO, "-i", "alice"]),
            (None, [HELLO, "-i", "bob"]),
            ("broken", [JSON_FIELDS, "-i", "["]),
            (None, [PANIC]),
        ],
    )
    records = RecordCollector("hello")
    for result in results:
        records.add_run_json(result)
    report = tmp_path / "batch.xml"
    write_junit(report, records.records, name="wasmcli run hello --batch inputs.jsonl")
    check_schema(report)
    xml = JUnitXml.fromfile(str(report))
    assert (xml.tests, xml.failures, xml.errors) == (4, 2, 0)
    cases = [case for suite in xml for case in suite]
    # name: the input's id, else its index; classname: the binary.
    assert sorted((c.name, c.classname) for c in cases) == [
        ("1", "hello"),
        ("3", "panic"),
        ("alice", "hello"),
        ("broken", "json_fields"),
    ]
    by_name = {c.name: c for c in cases}
    assert by_name["alice"].system_out == "Hello, alice!"
    assert by_name["1"].time == pytest.approx(results[1]["duration_ms"] / 1000, abs=1e-6)
    assert by_name["broken"].result[0].type == "ERROR_PARSE_ERROR"
    assert by_name["3"].result[0].type == "trap"


def test_a_batch_report_keeps_a_bounded_amount_of_output(
    any_engine_cli: Any, wat_file: Any
) -> None:
    from wasmcli.integrations.records import MAX_REPORT_OUTPUT_BYTES, RecordCollector

    echo = wat_file(ECHO_WAT, "echo")
    [result] = batch_results(any_engine_cli, [(None, [str(echo), "-i", "x" * 50_000])])
    records = RecordCollector(total_output_bytes=120_000)
    kept = [records.add_run_json(result).output for _ in range(4)]
    assert [len(o.text) for o in kept] == [50_000, 50_000, 20_000, 0]
    assert kept[0].note is None
    assert kept[2].note == (
        "the report's 120,000 bytes for all outputs is used up: 30,000 more bytes not shown"
    )
    assert kept[3].note is not None and "50,000 more bytes" in kept[3].note
    # Alone, a run keeps its first 64 KiB.
    [alone] = batch_results(any_engine_cli, [(None, [str(echo), "-i", "y" * 70_000])])
    output = RecordCollector().add_run_json(alone).output
    assert len(output.text) == MAX_REPORT_OUTPUT_BYTES == 64 * 1024
    assert output.note == "output cut at 64 KiB: 4,464 more bytes not shown"


def test_run_batch_junit_has_one_test_case_per_input(cli: Any, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text(
        '{"id": "alice", "input": "alice"}\n'
        '{"input": "bob"}\n'
        '{"id": 7, "input": 42}\n'  # a bad line: a usage error, not a run
        '{"id": "last", "input": "zed"}\n'
    )
    report = tmp_path / "batch.xml"
    done = cli("run", HELLO, "--batch", str(inputs), "--junit", str(report))
    assert done.exit_code == 2  # the first failure's code, as without --junit
    results = [json.loads(line) for line in done.stdout.splitlines()]
    check_schema(report)
    xml = JUnitXml.fromfile(str(report))
    assert xml.name == f"wasmcli run hello --batch {inputs}"
    assert (xml.tests, xml.failures, xml.errors) == (4, 0, 1)
    [suite] = list(xml)
    cases = list(suite)
    assert [c.name for c in cases] == ["alice", "1", "7", "last"]  # input order
    assert {c.classname for c in cases} == {"hello"}
    for case, result in zip(cases, results, strict=True):
        assert case.time == pytest.approx(result["duration_ms"] / 1000, abs=1e-6)
    assert [c.system_out for c in cases] == ["Hello, alice!", "Hello, bob!", None, "Hello, zed!"]
    [error] = cases[2].result
    assert isinstance(error, Error) and error.type == "usage"
    assert error.message.startswith('usage: line 3: "input" must be a string')


def test_run_batch_junit_with_jobs_and_failures(any_engine_cli: Any, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.jsonl"
    good = json.dumps({"user": "ada"})
    inputs.write_text(
        "".join(
            json.dumps({"id": f"n{i}", "input": good if i % 2 == 0 else "["}) + "\n"
            for i in range(6)
        )
    )
    report = tmp_path / "batch.xml"
    done = any_engine_cli(
        "run", JSON_FIELDS, "--batch", str(inputs), "--jobs", "2", "--junit", str(report)
    )
    assert done.exit_code == 1
    check_schema(report)
    cases = [c for suite in JUnitXml.fromfile(str(report)) for c in suite]
    assert [c.name for c in cases] == [f"n{i}" for i in range(6)]
    assert [c.is_passed for c in cases] == [True, False] * 3
    for case in cases[1::2]:
        [failure] = case.result
        assert isinstance(failure, Failure) and failure.type == "ERROR_PARSE_ERROR"
        assert failure.message == "ERROR_PARSE_ERROR (-5): input could not be parsed"
