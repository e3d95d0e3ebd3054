"""`alerts check --exec CMD`: one command per newly firing alert, the alert as JSON on
its standard input (a webhook is `curl -d @- URL` away).

The command runs through the shell, with WASMCLI_ALERT set to the alert's name. What it
prints is passed on to wasmcli's standard error (its standard error goes there as it
is), so `--json` on stdout stays valid JSON. A command that fails or outlasts
EXEC_TIMEOUT_S is reported, not fatal: the check's own exit code says whether alerts
fire.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Final

from wasmcli.insight.alerts.evaluate import AlertStatus

EXEC_TIMEOUT_S: Final = 60


def alert_json(status: AlertStatus) -> str:
    return json.dumps(status.to_dict(), ensure_ascii=False)


def run_exec(command: str, status: AlertStatus) -> str | None:
    """Run `command` for `status`; a one-line problem, or None when it succeeded."""
    env = {**os.environ, "WASMCLI_ALERT": status.rule.name}
    try:
        completed = subprocess.run(
            command,
            shell=True,
            input=(alert_json(status) + "\n").encode("utf-8"),
            stdout=subprocess.PIPE,
            env=env,
            timeout=EXEC_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"--exec for alert {status.rule.name!r} was stopped after {EXEC_TIMEOUT_S} s"
    except OSError as exc:
        return f"--exec for alert {status.rule.name!r} could not start: {exc.strerror or exc}"
    if completed.stdout:
        sys.stderr.write(completed.stdout.decode("utf-8", "replace"))
        sys.stderr.flush()
    if completed.returncode != 0:
        return f"--exec for alert {status.rule.name!r} exited with {completed.returncode}"
    return None
