"""One table, three renderings: rich on a terminal, plain aligned text when piped, HTML in the report.

Commands build a ``Table`` of already formatted cells, so a number reads the same everywhere.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field

MARKS = {"pass": "✓", "fail": "✗", "skip": "–", "": " "}
STYLES = {"pass": "green", "fail": "bold red", "skip": "yellow", "": ""}


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    status: str = ""  # "pass", "fail", "skip" or "" (no mark)
    notes: tuple[str, ...] = ()  # why it failed or was skipped, a line each


@dataclass
class Table:
    columns: tuple[str, ...]
    right: frozenset[int] = frozenset()  # indices of right-aligned (numeric) columns
    rows: list[Row] = field(default_factory=list)
    footer: list[tuple[str, str]] = field(default_factory=list)  # (status, text) lines under the table

    def plain(self) -> str:
        widths = [max(len(c), *(len(r.cells[i]) for r in self.rows)) for i, c in enumerate(self.columns)]

        def line(mark: str, cells: tuple[str, ...]) -> str:
            parts = (
                c.rjust(w) if i in self.right else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            return f"{mark} " + "  ".join(parts).rstrip()

        out = [line(" ", self.columns)]
        for row in self.rows:
            out.append(line(MARKS[row.status], row.cells))
            out.extend(f"    {MARKS[row.status]} {note}" for note in row.notes)
        out.extend(f"{MARKS[status]} {text}" for status, text in self.footer)
        return "\n".join(out)

    def rich(self, width: int | None = None) -> str:
        """The table as a terminal shows it, colours included (ANSI codes)."""
        from rich.console import Console
        from rich.table import Table as RichTable
        from rich.text import Text

        table = RichTable(show_edge=False, pad_edge=False, box=None, header_style="bold")
        table.add_column("")
        for i, name in enumerate(self.columns):
            table.add_column(name, justify="right" if i in self.right else "left", no_wrap=True)
        for row in self.rows:
            table.add_row(Text(MARKS[row.status], style=STYLES[row.status]), *row.cells)
            for note in row.notes:
                table.add_row("", Text(note, style=STYLES[row.status]))
        buffer = io.StringIO()
        console = Console(file=buffer, force_terminal=True, width=width or 160, highlight=False)
        console.print(table)
        for status, text in self.footer:
            console.print(Text(f"{MARKS[status]} {text}", style=STYLES[status]))
        return buffer.getvalue().rstrip("\n")

    def html(self) -> str:
        head = "<th></th>" + "".join(f"<th>{html.escape(c)}</th>" for c in self.columns) + "<th>why</th>"
        body = "".join(
            f"<tr><td>{MARKS[r.status]}</td>"
            + "".join(f"<td>{html.escape(c)}</td>" for c in r.cells)
            + f"<td>{html.escape('; '.join(r.notes))}</td></tr>"
            for r in self.rows
        )
        foot = "".join(f"<li>{MARKS[s]} {html.escape(t)}</li>" for s, t in self.footer)
        return f"<table><tr>{head}</tr>{body}</table>" + (f"<ul>{foot}</ul>" if foot else "")


def cell(value: float | None, fmt: str) -> str:
    """A number in ``fmt``, or "-" where there is none (a skipped or failed run)."""
    return "-" if value is None else format(value, fmt)
