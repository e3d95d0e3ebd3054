"""Record the trace samples of tests/trace_samples.py from real runs.

    .venv/bin/python -m tests.record_trace_samples [NAME ...]

Each sample is run as a user runs it (`python -m wasmcli run ...`, a fresh process, from
the repository's root, in a fresh home), its trace read back with `traces show --last
--json`, its id and start time fixed, and the result written to
tests/fixtures/traces/NAME.json. Record again whenever what wasmcli records changes
(test_trace_samples.py says when).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

from tests.conftest import REPO
from tests.trace_samples import BY_NAME, FIXTURES, SAMPLES, Sample, normalize, run_args


def record(sample: Sample, home: str) -> dict[str, object]:
    wasmcli = [sys.executable, "-m", "wasmcli", "--home", home]
    run = subprocess.run([*wasmcli, *run_args(sample)], cwd=REPO, capture_output=True, check=False)
    if run.returncode != sample.exit_code:
        raise SystemExit(f"{sample.name}: exit {run.returncode}, expected {sample.exit_code}")
    shown = subprocess.run(
        [*wasmcli, "traces", "show", "--last", "--json"],
        cwd=REPO,
        capture_output=True,
        check=True,
    )
    return normalize(sample, json.loads(shown.stdout))


def _dumps(trace: dict[str, object]) -> str:
    """The trace as JSON with one line per field and per event (small, easy to diff)."""
    fields = [
        f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}"
        for key, value in trace.items()
        if key != "events"
    ]
    events = [f"    {json.dumps(e, ensure_ascii=False)}" for e in trace["events"]]  # type: ignore[attr-defined]
    return "{\n" + ",\n".join([*fields, '  "events": [\n' + ",\n".join(events) + "\n  ]"]) + "\n}\n"


def main(names: list[str]) -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for sample in [BY_NAME[n] for n in names] if names else SAMPLES:
        with tempfile.TemporaryDirectory() as home:
            trace = record(sample, home)
        path = FIXTURES / f"{sample.name}.json"
        path.write_text(_dumps(trace), encoding="utf-8")
        print(f"{path.relative_to(REPO)}: {len(trace['events'])} events")  # type: ignore[arg-type]


if __name__ == "__main__":
    main(sys.argv[1:])
