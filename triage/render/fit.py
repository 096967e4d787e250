"""Tables that fit the terminal they are printed on.

Why: with every column ``no_wrap`` and cut with an ellipsis, rich shrinks all of them at once, so
at 80 columns the numbers a reader needs (events, users, the verdict) turned into ``…``. Here the
essential columns always keep their full width, one flexible column (a title) takes what is
left and is the one that is cut, and optional columns join, most useful first, while they fit.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

PIPE_WIDTH = 200  # lines written to a pipe or a file: every column, at its natural width
MIN_FLEX = 12  # the flexible column's floor when only the essential columns are shown
WANT_FLEX = 40  # ... and what it keeps before an optional column may join


@dataclass
class Column:
    """One column: its header, its cells (rich markup, already escaped), and how it may yield.

    ``priority`` 0 is always shown; optional columns (1, 2, ...) are added lowest first while
    the table still fits. The ``flex`` column takes the remaining width and is cut first.
    """

    header: str
    cells: list[str] = field(default_factory=list)
    justify: str = "left"
    priority: int = 0
    flex: bool = False
    max_width: int | None = None  # a cap on the natural width (a long rules list)
    style: str | None = None
    wrap: bool = False  # a flexible column that wraps (a message) instead of being cut

    def natural(self) -> int:
        widths = [Text.from_markup(c).cell_len for c in self.cells]
        w = max([len(self.header), *widths])
        return min(w, self.max_width) if self.max_width else w


def console_width(console: Console) -> int:
    """The width a table may take on ``console``."""
    return console.width


def terminal_console(file=None) -> Console:
    """A console for tables on stdout (or ``file``): the terminal's width, else wide lines."""
    if file is not None:
        return Console(file=file, width=PIPE_WIDTH, highlight=False)
    console = Console(highlight=False)
    if not console.is_terminal:
        width = int(os.environ.get("COLUMNS", "0") or 0) or PIPE_WIDTH
        return Console(highlight=False, width=width)
    if console.is_dumb_terminal:
        # rich sizes a dumb terminal at 80x25 unless given both dimensions.
        size = shutil.get_terminal_size((80, 24))
        return Console(highlight=False, width=size.columns, height=size.lines)
    return console


def _table(columns: list[Column], widths: dict[int, int], **kw) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        header_style="bold",
        **kw,
    )
    for i, col in enumerate(columns):
        w = widths.get(i)
        table.add_column(
            col.header,
            justify=col.justify,
            no_wrap=not col.wrap,
            overflow="fold" if col.wrap else "ellipsis",
            width=w,
            min_width=w,
            max_width=w,
            style=col.style,
        )
    n = len(columns[0].cells) if columns else 0
    for r in range(n):
        table.add_row(*(col.cells[r] for col in columns))
    return table


def fit(columns: list[Column], width: int, **table_kw) -> Table:
    """A table of ``columns`` no wider than ``width``: see the module docstring."""
    natural = [c.natural() for c in columns]
    gap = 2  # one space of padding and one separator between columns (padding collapsed)
    chosen = [i for i, c in enumerate(columns) if c.priority == 0]

    def needed(idx: list[int]) -> int:
        flex = [min(natural[i], WANT_FLEX) for i in idx if columns[i].flex]
        total = sum(natural[i] for i in idx if not columns[i].flex) + sum(flex)
        return total + gap * (len(idx) - 1)

    for i in sorted(
        (i for i, c in enumerate(columns) if c.priority > 0), key=lambda i: columns[i].priority
    ):
        if needed(sorted([*chosen, i])) <= width:
            chosen = sorted([*chosen, i])
    picked = [columns[i] for i in chosen]
    widths = {j: natural[i] for j, i in enumerate(chosen) if not columns[i].flex}
    flex = [j for j, i in enumerate(chosen) if columns[i].flex]
    rest = width - sum(widths.values()) - gap * (len(chosen) - 1)
    # Share what is left between the flexible columns: the narrower ones take their natural
    # width, the rest split evenly.
    todo = sorted(flex, key=lambda j: natural[chosen[j]])
    while todo:
        j = todo.pop(0)
        share = rest // (len(todo) + 1)
        widths[j] = max(min(natural[chosen[j]], share), 3)
        rest -= widths[j]
    return _table(picked, widths, **table_kw)
