"""ClickHouse SQL text: string literals and identifiers that read back exactly.

Shared by the store (queries it builds) and the ClickHouse target (compiled rule tables).
"""

from __future__ import annotations


def literal(text: str) -> str:
    """``text`` as a ClickHouse string literal that reads back byte for byte."""
    out = ["'"]
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\x{ord(ch):02X}")
        else:
            out.append(ch)
    out.append("'")
    return "".join(out)


def quote_ident(name: str) -> str:
    """A ClickHouse identifier, backquoted (``db.table`` keeps its dot)."""
    return ".".join(
        "`" + part.replace("\\", "\\\\").replace("`", "\\`") + "`" for part in name.split(".")
    )
