"""Where wasmcli keeps its data, as a path string: `--home`, else $WASMCLI_HOME, else
$XDG_DATA_HOME/wasmcli (~/.local/share/wasmcli).

The standard library only (no pathlib): the `wasmcli` command's first step (the daemon
client, wasmcli/daemon/client.py) finds the home's daemon with it before anything else
is imported, and `config.resolve_home` is the same rule as a Path.
"""

import os


def home_path(option: str | None = None) -> str:
    if option:
        return os.path.expanduser(option)
    if os.environ.get("WASMCLI_HOME"):
        return os.path.expanduser(os.environ["WASMCLI_HOME"])
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(os.path.expanduser(data), "wasmcli")
