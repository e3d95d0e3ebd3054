"""The daemon's main process as the CLI starts it (`wasmcli daemon start`): the CLI's
root command, every command built once, handed to wasmcli/daemon/server.py, which
serves each request with it in a process of its own."""

from typing import Any


def root_command() -> Any:
    """The root command with every command and subcommand built (typer builds a command
    from its signature; the daemon's processes then find them all ready)."""
    import typer
    from typer._click import Context
    from typer.core import TyperGroup

    from wasmcli.cli.app import app

    root = typer.main.get_command(app)
    pending = [root]
    while pending:
        command = pending.pop()
        if isinstance(command, TyperGroup):
            context = Context(command)
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                if sub is not None:
                    pending.append(sub)
    return root


def main() -> None:
    from wasmcli.daemon.server import main as serve

    serve(root_command)
