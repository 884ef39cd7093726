"""rich's Console, except that a closed pipe (`nnaccel ... | head`) is reported like any other
output failure (one line, status 1, `nnaccel.cli`) instead of rich's silent exit; and tables
too long for rich printed as plain text."""

from __future__ import annotations

import errno

from rich.console import Console as _RichConsole
from rich.table import Table


class Console(_RichConsole):
    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "broken pipe")


#: Above this many rows a table is printed as plain aligned text: rich lays a table out as a
#: whole (every cell measured, wrapped and styled), which for a network of 330k layers took
#: minutes and gigabytes; plain text takes about a second per 100k rows.
RICH_MAX_ROWS = 5000


def print_table(console: _RichConsole, table: Table) -> None:
    """`table` through rich, or, when it has more than RICH_MAX_ROWS rows, as plain text
    with the same title, columns and cells (one line per row, nothing cut)."""
    if table.row_count <= RICH_MAX_ROWS:
        console.print(table)
        return
    columns = [(str(c.header), [str(cell) for cell in c.cells], c.justify) for c in table.columns]
    widths = [max([len(h), *map(len, cells)]) for h, cells, _ in columns]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.rjust(w) if justify == "right" else cell.ljust(w)
                         for cell, w, (_, _, justify) in zip(cells, widths, columns, strict=True)
                         ).rstrip()

    out = console.file
    if table.title:
        out.write(f"{table.title}\n")
    out.write(line([h for h, _, _ in columns]) + "\n")
    for start in range(0, table.row_count, 4096):
        stop = min(start + 4096, table.row_count)
        out.write("".join(line([cells[i] for _, cells, _ in columns]) + "\n"
                          for i in range(start, stop)))
    if table.caption:
        out.write(f"{table.caption}\n")
