"""wasmcli's command line. `main` is the `wasmcli` executable."""

import os
import sys


def main() -> None:
    # `wasmcli --version` is how scripts probe for wasmcli: answer it without importing
    # the command line (typer, rich), which costs most of a start-up.
    if sys.argv[1:] == ["--version"]:
        from wasmcli import __version__

        try:
            sys.stdout.write(f"wasmcli {__version__}\n")
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader left: exit 0 quietly, as every command does (see cli/errors.py);
            # /dev/null takes what Python still flushes at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError as exc:  # no room for it (`> /dev/full`): exit 9, as every command
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.stderr.write(f"error: The output could not be written: {exc.strerror}\n")
            raise SystemExit(9) from None
        return
    # A running daemon for the home serves the command without this process importing
    # anything more (wasmcli/daemon/client.py); otherwise it runs here, as always.
    from wasmcli.daemon.client import serve_through_daemon

    code = serve_through_daemon(sys.argv)
    if code is not None:
        raise SystemExit(code)
    from wasmcli.cli.app import app

    app()
