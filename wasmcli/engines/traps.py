"""Turning engine trap text into wasmcli's short messages and kinds (shared by adapters)."""

from __future__ import annotations

MAX_BACKTRACE_FRAMES = 20
MAX_MESSAGE_CHARS = 300

# Trap descriptions as engines word them -> the words wasmcli shows.
TRAP_WORDS = {
    "unreachable": "unreachable instruction executed (a plugin panic or abort)",
    "integer divide by zero": "integer divide by zero",
    "integer overflow": "integer overflow",
    "out of bounds memory access": "out-of-bounds memory access",
    "call stack exhausted": "stack overflow (call stack exhausted)",
    "undefined element": "call_indirect to an undefined table element",
    "uninitialized element": "call_indirect to an uninitialized table element",
    "indirect call type mismatch": "call_indirect with the wrong signature",
    "invalid conversion to integer": "invalid conversion to integer",
    "out of bounds table access": "out-of-bounds table access",
}


def first_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """One line of at most `limit` characters from engine text that can be megabytes long."""
    head = text[: limit * 4]
    lines = [line.strip() for line in head.splitlines() if line.strip()]
    line = lines[0] if lines else "unknown error"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def caused_by(text: str) -> str:
    """The innermost 'Caused by:' line of an anyhow-style error, else its first line."""
    head = text[:20000]
    if "Caused by:" not in head:
        return first_line(head)
    tail = head.rsplit("Caused by:", 1)[1]
    causes = [line.strip() for line in tail.splitlines() if line.strip()]
    # A chain of causes is numbered "0: ...", "1: ..."; the last is the innermost.
    innermost = causes[-1] if causes else ""
    number, sep, rest = innermost.partition(": ")
    return first_line(rest if sep and number.isdigit() else innermost)


def describe_trap(raw: str) -> str:
    """'wasm trap: integer divide by zero' -> 'integer divide by zero' in wasmcli's words."""
    text = raw.strip()
    for prefix in ("wasm trap:", "RuntimeError:", "error while executing at wasm backtrace:"):
        if text.lower().startswith(prefix.lower()):
            text = text[len(prefix) :].strip()
    lowered = text.lower()
    for needle, words in TRAP_WORDS.items():
        if needle in lowered:
            return words
    return first_line(text)


def clip_backtrace(frames: list[str]) -> list[str]:
    """Runs of the same frame folded into one line (a stack overflow is thousands of
    them), then at most MAX_BACKTRACE_FRAMES lines, with one saying how many were left out.
    """
    folded: list[str] = []
    index = 0
    while index < len(frames):
        end = index
        while end + 1 < len(frames) and frames[end + 1] == frames[index]:
            end += 1
        repeats = end - index + 1
        folded.append(frames[index] if repeats == 1 else f"{frames[index]} (× {repeats:,})")
        index = end + 1
    if len(folded) <= MAX_BACKTRACE_FRAMES:
        return folded
    kept = folded[: MAX_BACKTRACE_FRAMES - 1]
    return [*kept, f"… {len(folded) - len(kept)} more frames"]
