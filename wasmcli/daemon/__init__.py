"""The warm daemon: a process that keeps wasmcli loaded and serves invocations over a
Unix socket in the home, and the thin client on the `wasmcli` command's fast path.

`client` and everything it imports (`paths`, `protocol`, `launch`) use the standard
library only: they run before typer, rich or an engine is imported. `server`,
`worker` and `warmup` run the CLI itself (`wasmcli.cli.app`). The protocol and the
isolation argument are in docs/design.md ("The daemon").
"""
