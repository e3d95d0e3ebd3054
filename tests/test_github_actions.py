"""GitHub Actions: error annotations on stderr and the job summary, with the variables a
runner sets (GITHUB_ACTIONS=true, CI=true, GITHUB_STEP_SUMMARY=<file>), running the
installed `wasmcli` as a job step does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SAMPLES

HELLO = str(SAMPLES / "hello.wasm")
PANIC = str(SAMPLES / "faulty" / "panic.wasm")
JSON_FIELDS = str(SAMPLES / "json_fields.wasm")


def wasmcli_exe() -> str:
    candidate = Path(sys.executable).with_name("wasmcli")
    if not candidate.exists():
        pytest.skip("wasmcli console script not installed next to this Python")
    return str(candidate)


@pytest.fixture
def runner_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a step on a GitHub-hosted runner (less what wasmcli ignores)."""
    summary = tmp_path / "step_summary.md"
    summary.write_text("")  # the runner creates the file before the step
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_"))}
    env.update(
        GITHUB_ACTIONS="true",
        CI="true",
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_WORKFLOW="plugins",
        RUNNER_OS="Linux",
        WASMCLI_ENGINE="wasmtime",
    )
    return env


def step(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [wasmcli_exe(), *args], capture_output=True, text=True, timeout=60, env=env
    )


def annotations(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("::")]


def unescape_data(text: str) -> str:
    """What GitHub shows for a workflow command's message."""
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def unescape_property(text: str) -> str:
    return unescape_data(text.replace("%3A", ":").replace("%2C", ","))


def parse_annotation(line: str) -> tuple[str, dict[str, str], str]:
    match = re.fullmatch(r"::(\w+) ([^:]*)::(.*)", line)
    assert match, line
    properties = dict(
        (key, unescape_property(value))
        for key, value in (item.split("=", 1) for item in match.group(2).split(","))
    )
    return match.group(1), properties, unescape_data(match.group(3))


def table_rows(markdown: str) -> list[list[str]]:
    """The tables' data rows (header rows left out), split on unescaped pipes."""
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    cells = [re.split(r"(?<!\\) \| ", row[2:-2]) for row in rows]
    return [row for row in cells if row[1] != "outcome"]


def test_a_failed_run_prints_one_error_annotation(runner_env: dict[str, str]) -> None:
    done = step("run", PANIC, env=runner_env)
    assert done.returncode == 8
    [line] = annotations(done.stderr)
    command, properties, message = parse_annotation(line)
    assert command == "error"
    assert properties == {"title": "wasmcli: panic failed (trap)"}
    trace_id = step("traces", "list", "--json", env=runner_env).stdout.split('"trace_id": "')[1][
        :36
    ]
    assert message == (
        "trap: Plugin trapped: unreachable instruction executed (a plugin panic or abort)\n"
        f"stage: process\ntrace: {trace_id}"
    )
    # The summary line is still there for the log.
    assert "✗ panic · trap" in done.stderr


def test_a_plugin_error_code_is_annotated_with_its_name_and_meaning(
    runner_env: dict[str, str],
) -> None:
    done = step("run", JSON_FIELDS, "-i", "[", env=runner_env)
    assert done.returncode == 1
    [line] = annotations(done.stderr)
    _, properties, message = parse_annotation(line)
    assert properties["title"] == "wasmcli: json_fields failed (ERROR_PARSE_ERROR)"
    assert message.startswith("ERROR_PARSE_ERROR (-5): input could not be parsed\n")


def test_a_successful_run_is_not_annotated_and_fills_the_summary(
    runner_env: dict[str, str],
) -> None:
    done = step("run", HELLO, "-i", "world", env=runner_env)
    assert done.returncode == 0
    assert done.stdout == "Hello, world!\n"
    assert annotations(done.stderr) == []
    summary = Path(runner_env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("### ✅ wasmcli run hello\n\n1 run: 1 passed, 0 failed\n")
    assert "| binary | outcome | return code | fuel | duration | trace id |" in summary
    [row] = table_rows(summary)
    trace_id = step("traces", "list", "--json", env=runner_env).stdout.split('"trace_id": "')[1][
        :36
    ]
    assert row[:4] == ["hello", "✅ ok", "0 SUCCESS", "40"]
    assert re.fullmatch(r"[\d.]+ (ms|s)", row[4])
    assert row[5] == f"`{trace_id}`"


def test_the_summary_is_appended_run_after_run(runner_env: dict[str, str]) -> None:
    Path(runner_env["GITHUB_STEP_SUMMARY"]).write_text("# earlier step\n")
    step("run", HELLO, "-i", "a", env=runner_env)
    step("run", PANIC, env=runner_env)
    summary = Path(runner_env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("# earlier step\n### ✅ wasmcli run hello")
    assert "### ❌ wasmcli run panic\n\n1 run: 0 passed, 1 failed" in summary
    rows = table_rows(summary)
    assert [row[0] for row in rows] == ["hello", "panic"]
    assert rows[1][1].startswith("❌ trap: Plugin trapped")
    assert rows[1][3] == "—"  # wasmtime cannot tell the fuel after a trap


def test_plugin_text_is_escaped_in_annotations_and_in_the_table(
    runner_env: dict[str, str], tmp_path: Path
) -> None:
    from wasmcli.wasm.wat import wat_to_wasm

    # The import's name is the plugin's text: it lands in the error message.
    name = "get%state\\0d\\0a| *x*,y:z <b>"
    module = tmp_path / "odd, name: 100%.wasm"
    module.write_bytes(
        wat_to_wasm(
            f'(module (import "host" "{name}" (func)) (memory (export "memory") 1)'
            ' (func (export "process") (param i32 i32 i32 i32) (result i32) (i32.const 0)))'
        )
    )
    done = step("run", str(module), env=runner_env)
    assert done.returncode == 4
    lines = annotations(done.stderr)
    assert len(lines) == 1  # CR and LF never break the command's line
    _, properties, message = parse_annotation(lines[0])
    assert properties["title"] == "wasmcli: odd, name: 100% failed (abi)"
    assert "import `host::get%state\r\n| *x*,y:z <b>` not found" in message
    summary = Path(runner_env["GITHUB_STEP_SUMMARY"]).read_text()
    [row] = table_rows(summary)
    assert len(row) == 6  # the pipe in the plugin's text did not open a column
    assert row[0] == "odd, name: 100%"
    assert r"get%state \| \*x\*,y:z \<b\>" in row[1]
    assert "<b>" not in summary and "\r" not in summary


def test_ci_none_turns_it_off_and_ci_github_turns_it_on(runner_env: dict[str, str]) -> None:
    done = step("run", PANIC, "--ci", "none", env=runner_env)
    assert done.returncode == 8
    assert annotations(done.stderr) == []
    assert Path(runner_env["GITHUB_STEP_SUMMARY"]).read_text() == ""
    outside = {k: v for k, v in runner_env.items() if k not in ("GITHUB_ACTIONS", "CI")}
    assert annotations(step("run", PANIC, env=outside).stderr) == []
    assert len(annotations(step("run", PANIC, "--ci", "github", env=outside).stderr)) == 1


def test_a_bad_ci_mode_is_a_usage_error(runner_env: dict[str, str]) -> None:
    done = step("run", HELLO, "--ci", "gitlab", env=runner_env)
    assert done.returncode == 2
    assert done.stderr == "error: unknown --ci 'gitlab': choose auto, github or none\n"


def test_a_summary_that_cannot_be_written_is_a_warning(
    runner_env: dict[str, str], tmp_path: Path
) -> None:
    runner_env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "missing" / "summary.md")
    done = step("run", HELLO, "-i", "x", env=runner_env)
    assert done.returncode == 0
    assert "warning: cannot append to GITHUB_STEP_SUMMARY" in done.stderr


def test_a_list_of_batch_results_gives_an_annotation_per_failed_input(
    runner_env: dict[str, str],
) -> None:
    """The library side of annotations and the summary for `run --batch`: a list of
    result lines (each `run --json` object with the input's index and id)."""
    import io
    import json

    from wasmcli.integrations.github import summary_markdown, write_annotations
    from wasmcli.integrations.records import RecordCollector

    records = RecordCollector("hello")
    for index, (input_id, args) in enumerate(
        [("a", [HELLO, "-i", "a"]), (None, [PANIC]), ("bad-json", [JSON_FIELDS, "-i", "["])]
    ):
        result = json.loads(step("run", *args, "--json", "--ci", "none", env=runner_env).stdout)
        records.add_run_json({"index": index, "id": input_id, **result})
    stream = io.StringIO()
    assert write_annotations(records.records, stream, batch=True) == 2
    titles = [parse_annotation(line)[1]["title"] for line in stream.getvalue().splitlines()]
    assert titles == [
        "wasmcli: panic input 1 failed (trap)",
        "wasmcli: json_fields input bad-json failed (ERROR_PARSE_ERROR)",
    ]
    summary = summary_markdown(records.records, title="wasmcli run hello --batch", batch=True)
    assert "3 runs: 1 passed, 2 failed" in summary
    assert "| input | outcome | return code | fuel | duration | trace id |" in summary
    assert [row[0] for row in table_rows(summary)] == ["a", "1", "bad-json"]


def test_a_large_batch_summary_shows_its_failures_first_within_the_row_limit(
    runner_env: dict[str, str],
) -> None:
    import json

    from wasmcli.integrations.github import MAX_SUMMARY_ROWS, summary_markdown
    from wasmcli.integrations.records import RecordCollector

    passed = json.loads(step("run", HELLO, "-i", "x", "--json", env=runner_env).stdout)
    failed = json.loads(step("run", PANIC, "--json", "--ci", "none", env=runner_env).stdout)
    records = RecordCollector("hello")
    for index in range(MAX_SUMMARY_ROWS + 50):
        result = failed if index in (7, MAX_SUMMARY_ROWS + 40) else passed
        records.add_run_json({"index": index, "id": None, **result})
    summary = summary_markdown(records.records, title="a big batch", batch=True)
    rows = table_rows(summary)
    assert len(rows) == MAX_SUMMARY_ROWS
    assert [row[0] for row in rows[:3]] == ["7", str(MAX_SUMMARY_ROWS + 40), "0"]
    assert summary.endswith("\n50 more runs not shown (all passed).\n\n")
    assert f"{MAX_SUMMARY_ROWS + 50} runs: {MAX_SUMMARY_ROWS + 48} passed, 2 failed" in summary


def test_the_summary_stops_growing_before_githubs_1_mib_limit(runner_env: dict[str, str]) -> None:
    from wasmcli.integrations.github import SUMMARY_BUDGET_BYTES, SUMMARY_LIMIT_BYTES

    summary = Path(runner_env["GITHUB_STEP_SUMMARY"])
    earlier = "x" * (SUMMARY_BUDGET_BYTES - 100) + "\n"  # earlier runs of the step
    summary.write_text(earlier)
    assert step("run", HELLO, "-i", "a", env=runner_env).returncode == 0
    for _ in range(2):
        done = step("run", PANIC, env=runner_env)
        assert done.returncode == 8
        assert len(annotations(done.stderr)) == 1  # annotations do not depend on it
    text = summary.read_text()
    assert text == earlier + (
        "\n> wasmcli: this step's summary is near GitHub's 1 MiB limit; "
        "later runs are not added (their traces are stored).\n\n"
    )
    assert len(text.encode()) < SUMMARY_LIMIT_BYTES


def test_a_batch_annotates_each_failed_input_and_fills_one_summary_section(
    runner_env: dict[str, str], tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text(
        '{"id": "ok", "input": "{\\"user\\": \\"ada\\"}"}\n'
        '{"input": "["}\n'
        '{"id": "broken", "input": "{"}\n'
    )
    done = step("run", JSON_FIELDS, "--batch", str(inputs), env=runner_env)
    assert done.returncode == 1
    assert len(done.stdout.splitlines()) == 3  # the results, as without GitHub
    titles = [parse_annotation(line)[1]["title"] for line in annotations(done.stderr)]
    assert titles == [
        "wasmcli: json_fields input 1 failed (ERROR_PARSE_ERROR)",
        "wasmcli: json_fields input broken failed (ERROR_PARSE_ERROR)",
    ]
    summary = Path(runner_env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.count("### ") == 1
    heading = summary.splitlines()[0]
    assert heading.startswith("### ❌ wasmcli run json\\_fields --batch /")
    assert heading.endswith("/inputs.jsonl")
    assert "3 runs: 1 passed, 2 failed" in summary
    rows = table_rows(summary)
    assert [(row[0], row[2]) for row in rows] == [
        ("ok", "0 SUCCESS"),
        ("1", "-5 ERROR_PARSE_ERROR"),
        ("broken", "-5 ERROR_PARSE_ERROR"),
    ]
