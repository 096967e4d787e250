"""Translate a rule's RE2 pattern into the subset every target reads the same way.

Regex dialects differ: DuckDB and Python's ``re2`` run RE2, Rust's ``regex`` crate is close but
Unicode-aware for ``\\d``/``\\w``/``\\b``, and ECMAScript has its own ``.`` (it stops at ``\\r``
and U+2028 too), ``\\s`` and case folding (``/i`` with ``/u`` folds ``\\w`` and ``\\b``). So the
pattern is parsed into a small tree and written out again with nothing left to interpretation:
``\\d``, ``\\w``, ``\\s`` and ``.`` become explicit classes (RE2's ASCII meanings), case
insensitivity is expanded into explicit classes from RE2's own fold table (``triage.casefold``)
instead of a flag, groups become non-capturing, lazy quantifiers greedy (a match is a match), and
``\\b`` is the ASCII word boundary in both targets. Anything outside the subset (inline flags,
``\\p{..}``, POSIX classes, ``\\Q..\\E``, ``\\B``, octal and back references) is refused with a
reason.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache

from triage.rules.casefold import FOLD_CLASSES, fold_class

MAX_CP = 0x10FFFF
ASCII_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
DIGIT = [(0x30, 0x39)]
WORD = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
SPACE = [(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)]  # RE2's \s: [\t\n\f\r ] (no \v)
SIMPLE_ESCAPES = {"t": 0x09, "n": 0x0A, "r": 0x0D, "f": 0x0C, "v": 0x0B, "a": 0x07}
PERL = {"d": DIGIT, "w": WORD, "s": SPACE}


class Unsupported(ValueError):
    """The pattern uses something outside the portable subset; the message says what."""


# --- the tree -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lit:
    cp: int


@dataclass(frozen=True)
class Cls:
    negated: bool
    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Cat:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Alt:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Rep:
    item: Node
    min: int
    max: int | None


@dataclass(frozen=True)
class Assert:
    kind: str  # "^", "$", "b", "B"


Node = Lit | Cls | Cat | Alt | Rep | Assert
ANY = Cls(True, ((0x0A, 0x0A),))


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((a, b) for a, b in out)


# --- parsing (RE2 syntax) -----------------------------------------------------------------------


class _Parser:
    def __init__(self, pattern: str):
        self.s = pattern
        self.i = 0

    def error(self, what: str) -> Unsupported:
        return Unsupported(f"{what} (at offset {self.i} of {self.s!r})")

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def parse(self) -> Node:
        node = self.alt()
        if self.i != len(self.s):
            raise self.error("unbalanced ')'")
        return node

    def alt(self) -> Node:
        items = [self.cat()]
        while self.peek() == "|":
            self.i += 1
            items.append(self.cat())
        return items[0] if len(items) == 1 else Alt(tuple(items))

    def cat(self) -> Node:
        items: list[Node] = []
        while self.peek() not in ("", "|", ")"):
            atom = self.atom()
            atom = self.quantified(atom)
            items.append(atom)
        return items[0] if len(items) == 1 else Cat(tuple(items))

    def quantified(self, atom: Node) -> Node:
        while True:
            c = self.peek()
            if c in ("*", "+", "?"):
                lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
                self.i += 1
            elif c == "{":
                rep = self.braces()
                if rep is None:
                    return atom
                lo, hi = rep
            else:
                return atom
            if isinstance(atom, Assert):
                raise self.error("a repeated assertion")
            if self.peek() == "?":  # lazy: the same matches, so the same answer
                self.i += 1
            atom = Rep(atom, lo, hi)

    def braces(self) -> tuple[int, int | None] | None:
        """``{n}``, ``{n,}``, ``{n,m}``; anything else is a literal ``{`` in RE2."""
        j = self.s.find("}", self.i)
        if j < 0:
            return None
        body = self.s[self.i + 1 : j]
        lo_s, sep, hi_s = body.partition(",")
        if not lo_s.isdigit() or (hi_s and not hi_s.isdigit()) or not lo_s.isascii():
            return None
        self.i = j + 1
        lo = int(lo_s)
        hi = lo if not sep else (int(hi_s) if hi_s else None)
        return lo, hi

    def atom(self) -> Node:
        c = self.peek()
        if c == "(":
            return self.group()
        if c == "[":
            return self.cls()
        if c == ".":
            self.i += 1
            return ANY
        if c in ("^", "$"):
            self.i += 1
            return Assert(c)
        if c == "\\":
            return self.escape(in_class=False)
        if c in ("*", "+", "?"):
            raise self.error("a repetition with nothing to repeat")
        self.i += 1
        return Lit(ord(c))

    def group(self) -> Node:
        self.i += 1
        if self.peek() == "?":
            if self.s.startswith("?:", self.i):
                self.i += 2
            elif self.s.startswith("?P<", self.i) or self.s.startswith("?<", self.i):
                end = self.s.find(">", self.i)
                if end < 0:
                    raise self.error("an unterminated group name")
                self.i = end + 1
            else:
                raise self.error(
                    "an inline flag group like (?i) or (?s): use the rule's case_sensitive instead"
                )
        inner = self.alt()
        if self.peek() != ")":
            raise self.error("a missing ')'")
        self.i += 1
        return inner if not isinstance(inner, Cat) or inner.items else Cat(())

    def hex(self) -> int:
        if self.peek() == "{":
            end = self.s.find("}", self.i)
            digits = self.s[self.i + 1 : end] if end > 0 else ""
            self.i = end + 1 if end > 0 else self.i
        else:
            digits = self.s[self.i : self.i + 2]
            self.i += 2
        try:
            cp = int(digits, 16)
        except ValueError:
            raise self.error("a bad \\x escape") from None
        if cp > MAX_CP or 0xD800 <= cp <= 0xDFFF:
            raise self.error("a \\x escape outside Unicode scalar values")
        return cp

    def escape(self, in_class: bool) -> Node:
        self.i += 1
        c = self.peek()
        self.i += 1
        if c == "":
            raise self.error("a trailing backslash")
        if c in PERL:
            return Cls(False, tuple(PERL[c]))
        if c in ("D", "W", "S"):
            if in_class:
                raise self.error(f"\\{c} inside a character class")
            return Cls(True, tuple(PERL[c.lower()]))
        if c == "b" and not in_class:
            return Assert(c)
        if c == "B" and not in_class:
            # RE2 works on UTF-8 bytes: \B also holds *inside* a multi-byte character, where no
            # other engine has a position, so '\B' alone matches 'ı' in RE2 and nowhere else.
            raise self.error("\\B, which RE2 also matches inside multi-byte characters")
        if c == "A" and not in_class:
            return Assert("^")
        if c == "z" and not in_class:
            return Assert("$")
        if c in SIMPLE_ESCAPES:
            return Lit(SIMPLE_ESCAPES[c])
        if c == "x":
            return Lit(self.hex())
        if c in ASCII_PUNCT:
            return Lit(ord(c))
        what = {
            "p": "a Unicode class \\p{..}",
            "P": "a Unicode class \\P{..}",
            "Q": "a \\Q..\\E quote",
            "C": "\\C (any byte)",
        }.get(c, f"the escape \\{c}")
        raise self.error(f"{what}, which the targets read differently")

    def cls(self) -> Node:
        self.i += 1
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while True:
            c = self.peek()
            if c == "":
                raise self.error("an unterminated character class")
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            if c == "[" and self.peek(1) == ":":
                raise self.error("a POSIX class like [:alpha:]")
            lo = self.class_atom()
            if isinstance(lo, Cls):
                ranges.extend(lo.ranges)
                continue
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.i += 1
                hi = self.class_atom()
                if isinstance(hi, Cls) or hi < lo:
                    raise self.error("a bad range in a character class")
                ranges.append((lo, hi))
            else:
                ranges.append((lo, lo))
        return Cls(negated, _merge(ranges))

    def class_atom(self) -> int | Cls:
        if self.peek() == "\\":
            node = self.escape(in_class=True)
            if isinstance(node, Lit):
                return node.cp
            if isinstance(node, Cls):
                return node
            raise self.error("an assertion inside a character class")
        c = self.peek()
        self.i += 1
        return ord(c)


def parse(pattern: str) -> Node:
    """The pattern's tree; raises Unsupported for anything outside the portable subset."""
    return _Parser(pattern).parse()


# --- case folding -------------------------------------------------------------------------------


_CASED = sorted(cp for cl in FOLD_CLASSES for cp in cl)  # every code point with a fold class


@lru_cache(maxsize=4096)
def _fold_ranges(ranges: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    """The ranges plus every code point case-equivalent to one in them. Cached: the same
    classes (``\\d``, ``\\s``, ``.``) recur in every pattern of a large table."""
    extra: list[tuple[int, int]] = []
    for lo, hi in ranges:
        for i in range(bisect_left(_CASED, lo), bisect_right(_CASED, hi)):
            extra.extend((cp, cp) for cp in fold_class(_CASED[i]))
    return _merge([*ranges, *extra])


def fold(node: Node) -> Node:
    """The same tree with RE2's case-insensitive matching made explicit."""
    if isinstance(node, Lit):
        cl = fold_class(node.cp)
        return node if len(cl) == 1 else Cls(False, _merge([(c, c) for c in cl]))
    if isinstance(node, Cls):
        return Cls(node.negated, _fold_ranges(node.ranges))
    if isinstance(node, Cat):
        return Cat(tuple(fold(n) for n in node.items))
    if isinstance(node, Alt):
        return Alt(tuple(fold(n) for n in node.items))
    if isinstance(node, Rep):
        return Rep(fold(node.item), node.min, node.max)
    return node


# --- writing ------------------------------------------------------------------------------------

SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ !\"%',/:;<=>@`")


def _char(cp: int, flavor: str) -> str:
    ch = chr(cp)
    if ch in SAFE:
        return ch
    return f"\\u{{{cp:x}}}" if flavor == "js" else f"\\x{{{cp:x}}}"


def _scalar_ranges(ranges: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    out = []
    for lo, hi in ranges:
        if lo < 0xD800 <= hi or lo <= 0xDFFF < hi or (0xD800 <= lo and hi <= 0xDFFF):
            if lo < 0xD800:
                out.append((lo, min(hi, 0xD7FF)))
            if hi > 0xDFFF:
                out.append((max(lo, 0xE000), hi))
        else:
            out.append((lo, hi))
    return out


def _cls(node: Cls, flavor: str) -> str:
    ranges = _scalar_ranges(node.ranges)
    if not ranges:
        raise Unsupported("an empty character class")
    if not node.negated and len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        return _char(ranges[0][0], flavor)
    body = "".join(
        _char(lo, flavor) if lo == hi else f"{_char(lo, flavor)}-{_char(hi, flavor)}"
        for lo, hi in ranges
    )
    return f"[{'^' if node.negated else ''}{body}]"


def _atomic(node: Node) -> bool:
    return isinstance(node, Lit | Cls)


def write(node: Node, flavor: str) -> str:
    """The tree as pattern text for ``flavor``: ``js`` (RegExp with the ``u`` flag only) or
    ``rust`` (``regex::bytes::Regex``, Unicode on, no flags; RE2 reads it the same way)."""
    if isinstance(node, Lit):
        return _char(node.cp, flavor)
    if isinstance(node, Cls):
        return _cls(node, flavor)
    if isinstance(node, Cat):
        return "".join(
            write(n, flavor) if not isinstance(n, Alt) else f"(?:{write(n, flavor)})"
            for n in node.items
        )
    if isinstance(node, Alt):
        return "|".join(write(n, flavor) for n in node.items)
    if isinstance(node, Rep):
        inner = write(node.item, flavor)
        if not _atomic(node.item):
            inner = f"(?:{inner})"
        if (node.min, node.max) == (0, None):
            q = "*"
        elif (node.min, node.max) == (1, None):
            q = "+"
        elif (node.min, node.max) == (0, 1):
            q = "?"
        elif node.max is None:
            q = f"{{{node.min},}}"
        elif node.max == node.min:
            q = f"{{{node.min}}}"
        else:
            q = f"{{{node.min},{node.max}}}"
        return inner + q
    if node.kind in ("^", "$"):
        return node.kind
    if flavor == "js":
        return "\\" + node.kind  # no i flag, so JS's \b is ASCII, as RE2's
    return f"(?-u:\\{node.kind})"


def translate(pattern: str, case_sensitive: bool, flavor: str) -> str:
    """``pattern`` (RE2) for ``flavor``, case insensitivity expanded when asked for."""
    node = parse(pattern)
    if not case_sensitive:
        node = fold(node)
    return write(node, flavor)
