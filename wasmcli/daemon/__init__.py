"""The warm daemon: a process that keeps wasmcli loaded and serves invocations over a
Unix socket in the home, and the thin client on the `wasmcli` command's fast path.

`client` and everything it imports (`paths`, `connect`, `stale`, `protocol`,
`identity`, `launch`) use the standard library only: they run before typer, rich or an
engine is imported. `server`, `worker` and `warmup` serve the CLI's commands with the
root command the CLI hands them (cli/daemon_host.py); nothing here imports the CLI.
The protocol and the isolation argument are in docs/design.md ("The daemon").
"""
