"""HOOK: per-function fuel from a trace's profile, for `traces diff`.

Profiles in traces are issue 11's (`run --profile`); their format has not landed yet.
This is the one place `traces diff` reads them: when both traces carry a profile, the
diff shows the change in self fuel per function. Until profiles land, `function_fuel`
finds none and the diff has no per-function section (`"functions": null` in JSON).

The shape read here is the one issue 11 describes: a `profile` on the trace with
`functions`, each with a `name` and its `self_fuel`. When profiles land, adapt this
function to their model, and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wasmcli.tracing.events import ExecutionTrace


def function_fuel(trace: ExecutionTrace) -> dict[str, int] | None:
    """Self fuel per function name from the trace's profile; None when it has none."""
    profile: Any = getattr(trace, "profile", None)
    if isinstance(profile, Mapping):
        functions = profile.get("functions")
    else:
        functions = getattr(profile, "functions", None)
    if functions is None:
        return None
    fuel: dict[str, int] = {}
    for function in functions:
        name = _field(function, "name")
        amount = _field(function, "self_fuel")
        if isinstance(name, str) and isinstance(amount, int):
            fuel[name] = fuel.get(name, 0) + amount
    return fuel


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
