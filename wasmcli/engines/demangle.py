"""Symbol names as people read them: Rust (legacy and v0) and C++ (Itanium) demangling.

Plugins built by rustc or clang name their functions in the name section with the
linker's mangled symbols. Backtraces and profiles show them as the tools users know do:
- Rust, as `rustfilt` (and rustc-demangle's `{:#}`) prints them: legacy `_ZN...E`
  symbols without their `h<hash>` element, v0 `_R...` symbols without crate
  disambiguators; `<T as Trait>::f`, `{closure#0}`, `foo::<u8>`.
- C++, as `c++filt` prints them: by libstdc++'s own demangler (`__cxa_demangle`, the
  code c++filt runs), called through ctypes when the library is there.
A name that is none of these, or that does not parse as what it claims, is returned as
it was: a name is never made up. Names come from untrusted plugins, so parsing is bounded
(`MAX_DEPTH` nested items, a `MAX_CPP_LENGTH` for the C library) and any failure keeps
the name as written.
"""

from __future__ import annotations

import ctypes
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

# Deeper nesting than any real symbol has (rustc-demangle stops at 500), and shallow
# enough for Python's own recursion limit.
MAX_DEPTH = 200
# Longer C++ names stay mangled: libstdc++'s demangler is C, and a plugin's name is
# untrusted input.
MAX_CPP_LENGTH = 4096

_RUST_HASH = re.compile(r"^h[0-9a-f]+$")
_LLVM_SUFFIX = re.compile(r"\.llvm\.[0-9A-F@]+$")


def demangle(name: str) -> str:
    """`name` demangled (see the module docstring), or as it was."""
    # LLVM adds `.llvm.<digits>` to symbols it promotes; rustfilt drops it.
    bare = _LLVM_SUFFIX.sub("", name)
    for prefix in ("_ZN", "ZN", "__ZN"):
        if bare.startswith(prefix):
            legacy = _rust_legacy(bare[len(prefix) :])
            if legacy is not None:
                return legacy
    for prefix in ("_R", "R", "__R"):
        if bare.startswith(prefix) and "A" <= bare[len(prefix) : len(prefix) + 1] <= "Z":
            v0 = _rust_v0(bare[len(prefix) :])
            if v0 is not None:
                return v0
    if name.startswith("_Z"):
        return _cpp(name) or name
    # Some engines demangle already but keep the hash: `panic::fail::h6f0c...`.
    head, sep, last = name.rpartition("::")
    return head if sep and len(last) == 17 and _RUST_HASH.match(last) else name


# -- Rust legacy: `_ZN` {length element} `E` [suffix] ------------------------------------

_LEGACY_ESCAPES = {
    "SP": "@",
    "BP": "*",
    "RF": "&",
    "LT": "<",
    "GT": ">",
    "LP": "(",
    "RP": ")",
    "C": ",",
}


def _rust_legacy(body: str) -> str | None:
    elements: list[str] = []
    pos = 0
    while True:
        if pos >= len(body):
            return None
        if body[pos] == "E":
            pos += 1
            break
        digits = pos
        while digits < len(body) and body[digits].isdigit():
            digits += 1
        if digits == pos:
            return None
        length = int(body[pos:digits])
        element = body[digits : digits + length]
        if len(element) != length or not element.isascii():
            return None
        elements.append(element)
        pos = digits + length
    suffix = body[pos:]
    if not elements or (suffix and suffix[0] not in ".$"):
        return None
    if len(elements) > 1 and _RUST_HASH.match(elements[-1]):
        elements.pop()
    return "::".join(_legacy_element(element) for element in elements) + suffix


def _legacy_element(element: str) -> str:
    rest = element[1:] if element.startswith("_$") else element
    out: list[str] = []
    while rest:
        if rest.startswith(".."):
            out.append("::")
            rest = rest[2:]
        elif rest.startswith("$"):
            end = rest.find("$", 1)
            if end < 0:
                break
            escape = rest[1:end]
            char = _LEGACY_ESCAPES.get(escape) or _legacy_unicode(escape)
            if char is None:
                break
            out.append(char)
            rest = rest[end + 1 :]
        else:
            cut = min((i for i in (rest.find("$"), rest.find(".", 1)) if i > 0), default=len(rest))
            out.append(rest[:cut])
            rest = rest[cut:]
    out.append(rest)
    return "".join(out)


def _legacy_unicode(escape: str) -> str | None:
    """`u5b` -> `[` (lower-case hex only, no control characters, as rustc-demangle)."""
    digits = escape[1:]
    if not escape.startswith("u") or not digits or not re.fullmatch(r"[0-9a-f]+", digits):
        return None
    code = int(digits, 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    char = chr(code)
    return None if unicodedata.category(char) == "Cc" else char


# -- Rust v0: `_R` path [instantiating crate] ---------------------------------------------

_BASIC_TYPES = {
    "a": "i8",
    "b": "bool",
    "c": "char",
    "d": "f64",
    "e": "str",
    "f": "f32",
    "h": "u8",
    "i": "isize",
    "j": "usize",
    "l": "i32",
    "m": "u32",
    "n": "i128",
    "o": "u128",
    "s": "i16",
    "t": "u16",
    "u": "()",
    "v": "...",
    "x": "i64",
    "y": "u64",
    "z": "!",
    "p": "_",
}
_SIGNED = set("aslxni")
_UNSIGNED = set("htmyoj")


class _Invalid(Exception):
    """Not a v0 symbol after all."""


def _rust_v0(symbol: str) -> str | None:
    if not symbol.isascii():
        return None
    try:
        parser = _V0(symbol)
        text = parser.path(in_value=True)
        if "A" <= parser.peek() <= "Z":
            parser.path(in_value=False)  # the instantiating crate: not shown
    except (_Invalid, IndexError, ValueError, RecursionError, UnicodeError):
        return None
    rest = symbol[parser.pos :]
    if rest and rest[0] not in ".$":
        return None
    return text + rest


class _V0:
    """A parser that gives the text of what it reads (rustc-demangle's v0 printer, in its
    `{:#}` style: no crate disambiguators, no type suffixes on integer constants)."""

    def __init__(self, symbol: str, pos: int = 0, depth: int = 0) -> None:
        self.sym = symbol
        self.pos = pos
        self.depth = depth
        self.bound_lifetimes = 0

    # -- lexing ------------------------------------------------------------------------

    def peek(self) -> str:
        return self.sym[self.pos] if self.pos < len(self.sym) else ""

    def eat(self, char: str) -> bool:
        if self.peek() == char:
            self.pos += 1
            return True
        return False

    def next(self) -> str:
        char = self.sym[self.pos]
        self.pos += 1
        return char

    def base62(self) -> int:
        if self.eat("_"):
            return 0
        value = 0
        while not self.eat("_"):
            char = self.next()
            if char.isdigit():
                digit = ord(char) - ord("0")
            elif "a" <= char <= "z":
                digit = 10 + ord(char) - ord("a")
            elif "A" <= char <= "Z":
                digit = 36 + ord(char) - ord("A")
            else:
                raise _Invalid
            value = value * 62 + digit
        return value + 1

    def opt_base62(self, tag: str) -> int:
        return self.base62() + 1 if self.eat(tag) else 0

    def decimal(self) -> int:
        start = self.pos
        while self.peek().isdigit():
            self.pos += 1
        if start == self.pos or (self.sym[start] == "0" and self.pos - start > 1):
            raise _Invalid
        return int(self.sym[start : self.pos])

    def ident(self) -> tuple[str, int]:
        """An identifier (punycode decoded) and its disambiguator."""
        disambiguator = self.opt_base62("s")
        punycode = self.eat("u")
        length = self.decimal()
        self.eat("_")
        raw = self.sym[self.pos : self.pos + length]
        if len(raw) != length:
            raise _Invalid
        self.pos += length
        if punycode:
            basic, sep, encoded = raw.rpartition("_")
            raw = (basic + "-" + encoded if sep else encoded).encode().decode("punycode")
        return raw, disambiguator

    def backref(self) -> _V0:
        start = self.pos - 1
        target = self.base62()
        if target >= start:
            raise _Invalid
        return self.nested(target)

    def nested(self, pos: int) -> _V0:
        if self.depth >= MAX_DEPTH:
            raise _Invalid
        inner = _V0(self.sym, pos, self.depth + 1)
        inner.bound_lifetimes = self.bound_lifetimes
        return inner

    def bounded(self, parse: Callable[[], str]) -> str:
        """`parse()`, one level deeper (past `MAX_DEPTH`: not a symbol wasmcli reads)."""
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Invalid
            return parse()
        finally:
            self.depth -= 1

    # -- paths ---------------------------------------------------------------------------

    def path(self, in_value: bool) -> str:
        return self.bounded(lambda: self._path(in_value, keep_open=False)[0])

    def _path(self, in_value: bool, keep_open: bool) -> tuple[str, bool]:
        tag = self.next()
        if tag == "C":
            name, _ = self.ident()
            return name, False
        if tag == "N":
            namespace = self.next()
            if not namespace.isalpha():
                raise _Invalid
            inner = self.path(in_value)
            name, disambiguator = self.ident()
            if namespace.islower():
                return (f"{inner}::{name}" if name else inner), False
            kind = {"C": "closure", "S": "shim"}.get(namespace, namespace)
            label = f"{kind}:{name}" if name else kind
            return f"{inner}::{{{label}#{disambiguator}}}", False
        if tag in "MX":
            self.opt_base62("s")
            self.path(in_value=False)  # the impl's own path: not shown
            self_type = self.type()
            if tag == "M":
                return f"<{self_type}>", False
            return f"<{self_type} as {self.path(in_value=False)}>", False
        if tag == "Y":
            self_type = self.type()
            return f"<{self_type} as {self.path(in_value=False)}>", False
        if tag == "I":
            inner = self.path(in_value)
            args = []
            while not self.eat("E"):
                args.append(self.generic_arg())
            joined = ", ".join(args)
            if keep_open:
                return f"{inner}{'::' if in_value else ''}<{joined}", True
            return f"{inner}{'::' if in_value else ''}<{joined}>", False
        if tag == "B":
            target = self.backref()
            found = target._path(in_value, keep_open)
            return found
        raise _Invalid

    def generic_arg(self) -> str:
        if self.eat("L"):
            return self.lifetime(self.base62())
        if self.eat("K"):
            return self.const()
        return self.type()

    def lifetime(self, index: int) -> str:
        if index == 0:
            return "'_"
        depth = self.bound_lifetimes - index
        if depth < 0:
            raise _Invalid
        return f"'{chr(ord('a') + depth)}" if depth < 26 else f"'_{depth}"

    def binder(self) -> str:
        if not self.eat("G"):
            return ""
        count = self.base62() + 1
        names = []
        for _ in range(count):
            self.bound_lifetimes += 1
            names.append(self.lifetime(1))
        return f"for<{', '.join(names)}> "

    # -- types ---------------------------------------------------------------------------

    def type(self) -> str:
        return self.bounded(self._type)

    def _type(self) -> str:
        tag = self.peek()
        if tag in _BASIC_TYPES:
            self.pos += 1
            return _BASIC_TYPES[tag]
        self.pos += 1
        if tag in "RQ":
            lifetime = ""
            if self.eat("L"):
                index = self.base62()
                if index:
                    lifetime = self.lifetime(index) + " "
            return f"&{lifetime}{'mut ' if tag == 'Q' else ''}{self.type()}"
        if tag in "PO":
            return f"*{'const' if tag == 'P' else 'mut'} {self.type()}"
        if tag == "A":
            element = self.type()
            return f"[{element}; {self.const()}]"
        if tag == "S":
            return f"[{self.type()}]"
        if tag == "T":
            items = []
            while not self.eat("E"):
                items.append(self.type())
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        if tag == "F":
            return self.fn_sig()
        if tag == "D":
            return self.dyn_bounds()
        if tag == "B":
            return self.backref().type()
        self.pos -= 1
        return self._path(in_value=False, keep_open=False)[0]

    def fn_sig(self) -> str:
        saved = self.bound_lifetimes
        text = self.binder()
        if self.eat("U"):
            text += "unsafe "
        if self.eat("K"):
            if self.eat("C"):
                abi = "C"
            else:
                abi, _ = self.ident()
                if not abi:
                    raise _Invalid
                abi = abi.replace("_", "-")
            text += f'extern "{abi}" '
        params = []
        while not self.eat("E"):
            params.append(self.type())
        text += f"fn({', '.join(params)})"
        if self.peek() == "u":
            self.pos += 1
        else:
            text += f" -> {self.type()}"
        self.bound_lifetimes = saved
        return text

    def dyn_bounds(self) -> str:
        saved = self.bound_lifetimes
        text = "dyn " + self.binder()
        traits = []
        while not self.eat("E"):
            trait, is_open = self._path(in_value=False, keep_open=True)
            while self.eat("p"):
                name, _ = self.ident()
                trait += f"{', ' if is_open else '<'}{name} = {self.type()}"
                is_open = True
            traits.append(trait + (">" if is_open else ""))
        text += " + ".join(traits)
        self.bound_lifetimes = saved
        if not self.eat("L"):
            raise _Invalid
        index = self.base62()
        if index:
            text += " + " + self.lifetime(index)
        return text

    # -- consts --------------------------------------------------------------------------

    def const(self) -> str:
        return self.bounded(self._const)

    def _const(self) -> str:
        tag = self.next()
        if tag == "B":
            return self.backref().const()
        if tag == "p":
            return "_"
        if tag not in _BASIC_TYPES:
            raise _Invalid  # structured constants (`&`, arrays, ADTs): kept mangled
        negative = tag in _SIGNED and self.eat("n")
        start = self.pos
        while self.peek() != "_":
            if self.next() not in "0123456789abcdef":
                raise _Invalid
        digits = self.sym[start : self.pos]
        self.pos += 1
        value = int(digits or "0", 16)
        if tag in _SIGNED or tag in _UNSIGNED:
            return f"-{value}" if negative else str(value)
        if tag == "b":
            if value > 1:
                raise _Invalid
            return "true" if value else "false"
        if tag == "c":
            if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise _Invalid
            return repr(chr(value)) if chr(value) != "'" else "'\\''"
        raise _Invalid


# -- C++ (Itanium): libstdc++'s __cxa_demangle --------------------------------------------


@lru_cache(maxsize=1)
def _cxa_demangle() -> tuple[object, object] | None:
    """libstdc++'s demangler and libc's free, or None where there is no libstdc++."""
    try:
        libstdcxx = ctypes.CDLL("libstdc++.so.6")
        libc = ctypes.CDLL(None)
        function = libstdcxx.__cxa_demangle
        free = libc.free
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_void_p
    function.argtypes = [
        ctypes.c_char_p,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_int),
    ]
    free.argtypes = [ctypes.c_void_p]
    free.restype = None
    return function, free


def _cpp(name: str) -> str | None:
    if len(name) > MAX_CPP_LENGTH or not name.isascii() or "\0" in name:
        return None
    found = _cxa_demangle()
    if found is None:
        return None
    function, free = found
    status = ctypes.c_int(0)
    pointer = function(name.encode(), None, None, ctypes.byref(status))  # type: ignore[operator]
    if not pointer:
        return None
    try:
        text = ctypes.string_at(pointer).decode("utf-8", "replace")
    finally:
        free(pointer)  # type: ignore[operator]
    return text if status.value == 0 else None
