"""Text from a plugin, made safe to print on a terminal.

A plugin controls its log lines and the names in its module (imports, exports, custom
sections), and through them trap and error messages. Printed raw, an ESC sequence could
recolor or clear the terminal, move the cursor or set its title, a newline could forge
a line of wasmcli's own output, and a bidi override could make text read differently
from what it is. Everything such text becomes on a terminal goes through `one_line` (or
`printable` where a newline may stay), which shows these characters as visible escapes
(`\\x1b`, `\\u202e`). The plugin's output on stdout is data and is never changed.

Only the standard library: the CLI's error path imports this.
"""

from __future__ import annotations

import re

# C0 controls but newline, DEL, C1 controls, and the invisible characters that reorder
# or break text: the Arabic letter mark, LRM/RLM, the line and paragraph separators,
# the bidi embeddings, overrides and isolates.
_UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x09:
        return " "  # a tab would misalign columns; a space says the same
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every unsafe character shown as its escape; newlines stay."""
    return _UNSAFE.sub(_escape, text.replace("\r\n", "\n"))


def one_line(text: str) -> str:
    """`printable`, with newlines shown as '↵' so the text stays on one line."""
    return printable(text).replace("\n", "↵")


def fs_text(name: str) -> str:
    """A name from the file system or the command line as text that can be stored and
    shown: bytes that are not UTF-8 (which Python keeps as lone surrogates, so that the
    name still opens the file) become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
