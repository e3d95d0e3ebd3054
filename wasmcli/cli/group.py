"""wasmcli's command groups: commands built when used, `--home` on every command, and one
exit code per invocation.

- Commands are named in a table (`lazy_commands`, "module:function") and built only when
  an invocation asks for them: `wasmcli run` imports and builds `run` alone, not the
  other ten commands (typer builds a command from its signature on every start).
- Every command also takes `--home` after its name (`wasmcli run x --home D`).
- The root group runs an invocation in click's non-standalone mode and turns whatever
  ends it (a usage error, a failure, a bug, a closed pipe, Ctrl-C) into at most one line
  on stderr and an exit code, in one place: `errors.exit_code_for`. The in-process test
  runner goes through the same `main`, so tests see what a shell sees.
"""

from collections.abc import Mapping, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

import typer
from typer._click import Command, Context, Parameter
from typer._click.exceptions import UsageError
from typer.core import TyperGroup, TyperOption

from wasmcli.cli.errors import exit_code_for, flush_stdout
from wasmcli.cli.state import Invocation

HOME_HELP = "Data folder [env WASMCLI_HOME; default ~/.local/share/wasmcli]."


def remember_home(ctx: Context, param: Parameter, value: str | None) -> None:
    """`--home` before or after the command name: the one given last wins."""
    if value:
        ctx.ensure_object(Invocation).home = Path(value)


def home_option() -> TyperOption:
    return TyperOption(
        param_decls=["--home"],
        metavar="DIR",
        help=HOME_HELP,
        expose_value=False,
        callback=remember_home,
    )


def add_home_option(command: Command) -> None:
    """Give `command` (and, for a group, each of its commands) a `--home` option."""
    if not any("--home" in getattr(param, "opts", ()) for param in command.params):
        command.params.append(home_option())
    if isinstance(command, TyperGroup):
        for subcommand in command.commands.values():
            add_home_option(subcommand)


def build_command(name: str, target: str) -> Command:
    """The click command for "module:function" (a command) or "module:app" (a group)."""
    module_name, attribute = target.split(":")
    found = getattr(import_module(module_name), attribute)
    if isinstance(found, typer.Typer):
        command: Command = typer.main.get_group(found)
    else:
        single = typer.Typer(rich_markup_mode=None, add_completion=False)
        single.command(name)(found)
        command = typer.main.get_group(single).commands[name]
    command.name = name
    add_home_option(command)
    return command


class WasmcliGroup(TyperGroup):
    # name -> "module:function"; subclasses fill it (see app.py).
    lazy_commands: Mapping[str, str] = {}

    def list_commands(self, ctx: Context) -> list[str]:
        return [*self.commands, *(name for name in self.lazy_commands if name not in self.commands)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self.commands[cmd_name] = build_command(cmd_name, self.lazy_commands[cmd_name])
        return self.commands.get(cmd_name)

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            # click raises some parse errors ("option '--fuel' requires an argument")
            # without the command's context; give it one, for the "see --help" hint.
            name = ctx.invoked_subcommand
            command = self.get_command(ctx, name) if exc.ctx is None and name else None
            if command is not None:
                exc.ctx = Context(command, info_name=name, parent=ctx)
            raise

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            outcome = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            flush_stdout()
            code = outcome if isinstance(outcome, int) else 0
        except BaseException as exc:  # noqa: BLE001 - every ending gets its line and code
            code = exit_code_for(exc)
        if standalone_mode:
            raise SystemExit(code)
        return code
