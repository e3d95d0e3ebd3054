"""Moved to wasmcli/safe_text.py (the HTML dashboard escapes plugin text too); this name
stays for the modules that import it from here."""

from wasmcli.safe_text import one_line, printable

__all__ = ["one_line", "printable"]
