"""What one invocation's commands share (today: `--home`), kept in typer's `ctx.obj`.

Nothing here is process-wide: each invocation builds its own context, so one process
can serve many invocations (tests, a future daemon) without one's options reaching
another's. Importing this module costs nothing; the store is imported when a command
opens it.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

# typer vendors click and does not re-export the current-context lookup; the pinned typer
# version (pyproject.toml) keeps this import where it is.
from typer._click.globals import get_current_context

if TYPE_CHECKING:
    from wasmcli.store.registry import Registry


@dataclass
class Invocation:
    """Options given once per invocation, before or after the command's name."""

    home: Path | None = None


def current() -> Invocation:
    """The running invocation's options (defaults outside a command, e.g. in a library)."""
    ctx = get_current_context(silent=True)
    found = ctx.find_object(Invocation) if ctx is not None else None
    return found if found is not None else Invocation()


def home_folder() -> Path:
    """`--home`, else $WASMCLI_HOME, else the default; a usage error if it is not a folder."""
    from wasmcli.config import resolve_home

    given = current().home
    home = resolve_home(given)
    if home.exists() and not home.is_dir():
        from wasmcli.errors import ErrorKind, WasmcliError

        source = "--home" if given else "WASMCLI_HOME"
        raise WasmcliError(
            ErrorKind.USAGE,
            f"{source} {home} is a file, not a folder: point it at a folder for wasmcli's data",
        )
    return home


def open_registry() -> "Registry":
    from wasmcli.store.registry import Registry

    return Registry(home_folder())
