"""Tables as the commands print them: fitted to the terminal without cutting a number, or as
CSV, JSON or Markdown (`--format`).

A table is columns and rows of display strings. On a terminal narrower than the table, the
least important columns move to a second (third, ...) table that repeats the key columns, so
every figure is still printed in full; a note says which columns moved and how to get one row
per line. Only the key columns (names) may fold onto a second line, never a number. When the
output is not a terminal the table is as wide as it needs to be.

CSV, JSON and Markdown carry the same columns and the same figures as the table (a number as
printed, without thousands separators or its unit sign, so a figure found in one is found in
the other); the commands' ``--csv FILE`` / ``--json FILE`` give every field at full precision.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

FORMATS = ("table", "csv", "json", "markdown")

# Space a column takes beyond its text in rich's default box: one space each side and a rule.
_COLUMN_OVERHEAD = 3
_KEY_MIN_WIDTH = 12  # a folded name keeps at least this many characters a line
_NUMBER = re.compile(r"[×~]?\s*([+-]?(?:\d[\d,]*)?\.?\d+(?:[eE][+-]?\d+)?)\s*(?:%|M|×|B)?(?:\s*[✓✗])?")


@dataclass(frozen=True)
class Column:
    """One column: its header (with the unit), its name in CSV/JSON, how it is aligned and
    how much it matters when the terminal is narrow (higher stays on the first table)."""

    header: str
    key: str
    numeric: bool = True
    priority: int = 1


@dataclass(frozen=True)
class TableData:
    """A table to print. The first `keys` columns name the row and are repeated when the
    table is split to fit; `section_ends` are the indices of rows after which a rule is drawn;
    `name` tells its rows from other tables' in CSV and JSON (default: the title)."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    keys: int = 1
    caption: str | None = None
    section_ends: frozenset[int] = field(default_factory=frozenset)
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.title


def format_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """`--format table|csv|json|markdown`, passed to the command as `fmt`."""
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
        help="table: fitted to the terminal (columns that do not fit move to a second table);"
             " csv, json, markdown: the same columns and figures, one row per line.")(f)


def stdout_console() -> Console:
    """The console for a command's output. No highlighting: digits inside names
    (1.0-SqNxt-23) or ranges (20%-32%) are not numbers to colour."""
    return Console(highlight=False)


def cell_value(text: str, numeric: bool) -> str:
    """A cell as CSV writes it: a number without separators, unit sign or ✓/✗ mark."""
    if numeric:
        m = _NUMBER.fullmatch(text.strip())
        if m:
            return m.group(1).replace(",", "")
    return text


def _typed(text: str, numeric: bool) -> Any:
    """A cell as JSON writes it: a number where the cell shows one, null where it is empty."""
    if numeric and _NUMBER.fullmatch(text.strip()):
        value = cell_value(text, numeric)
        return float(value) if any(ch in value for ch in ".eE") else int(value)
    return text or None


def _records(tables: Sequence[TableData], group: str | None) -> tuple[list[str], list[list[str]]]:
    """One header and the rows of every table; with `group`, a first column naming the
    table each row comes from (its title)."""
    header = [c.key for c in tables[0].columns]
    rows = []
    for t in tables:
        for r in t.rows:
            cells = [cell_value(text, col.numeric) for text, col in zip(r, t.columns, strict=True)]
            rows.append(([t.label] if group else []) + cells)
    return ([group] if group else []) + header, rows


def render_csv(tables: Sequence[TableData], group: str | None = None) -> str:
    header, rows = _records(tables, group)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def render_json(tables: Sequence[TableData], group: str | None = None) -> str:
    records = []
    for t in tables:
        for r in t.rows:
            rec = {group: t.label} if group else {}
            rec.update({c.key: _typed(text, c.numeric) for text, c in zip(r, t.columns, strict=True)})
            records.append(rec)
    return json.dumps(records, indent=2, ensure_ascii=False)


def render_markdown(tables: Sequence[TableData]) -> str:
    parts = []
    for t in tables:
        parts.append(f"**{t.title}**\n")
        parts.append("| " + " | ".join(c.header for c in t.columns) + " |")
        parts.append("|" + "|".join("---:" if c.numeric else "---" for c in t.columns) + "|")
        parts += ["| " + " | ".join(cell.replace("|", "\\|") for cell in r) + " |" for r in t.rows]
        if t.caption:
            parts.append(f"\n{t.caption}")
        parts.append("")
    return "\n".join(parts)


def _natural_widths(t: TableData) -> list[int]:
    from rich.cells import cell_len

    return [max([cell_len(c.header), *(cell_len(r[i]) for r in t.rows)])
            for i, c in enumerate(t.columns)]


def split_to_fit(t: TableData, width: int | None) -> list[list[int]]:
    """The column indices of each part: all in one when it fits `width` (None: any width);
    else the key columns and, by priority, as many others as fit, then the next part."""
    widths = _natural_widths(t)
    keys = list(range(t.keys))

    def total(cols: Sequence[int]) -> int:
        return 1 + sum(widths[i] + _COLUMN_OVERHEAD for i in cols)

    if width is None or total(range(len(widths))) <= width:
        return [list(range(len(widths)))]
    rest = sorted(range(t.keys, len(widths)), key=lambda i: -t.columns[i].priority)
    if not rest:  # names only: they fold, nothing moves
        return [keys]
    key_width = total(keys)
    if key_width + max(widths[i] + _COLUMN_OVERHEAD for i in rest) > width:
        # names fold (only they may) so that the widest figure fits beside them
        key_width = 1 + sum(min(widths[i], _KEY_MIN_WIDTH) + _COLUMN_OVERHEAD for i in keys)
    parts: list[list[int]] = []
    while rest:
        room = width - key_width
        part = [rest.pop(0)]  # at least one column a part, even a too-wide one
        room -= widths[part[0]] + _COLUMN_OVERHEAD
        for i in list(rest):
            if widths[i] + _COLUMN_OVERHEAD <= room:
                part.append(i)
                rest.remove(i)
                room -= widths[i] + _COLUMN_OVERHEAD
        parts.append(keys + sorted(part))
    return parts


def _rich_table(t: TableData, cols: Sequence[int], widths: Sequence[int], width: int | None,
                title: str | None, caption: str | None) -> Table:
    table = Table(title=escape(title) if title else None,
                  caption=escape(caption) if caption else None)
    used = 1 + sum(widths[i] + _COLUMN_OVERHEAD for i in cols)
    spare = None if width is None else width - used
    for i in cols:
        col = t.columns[i]
        kwargs: dict[str, Any] = {"no_wrap": True}
        if i < t.keys and spare is not None and spare < 0:
            # Only a name may fold, and only as far as the figures need the room.
            w = max(_KEY_MIN_WIDTH, widths[i] + spare)
            spare += widths[i] - w
            kwargs = {"overflow": "fold", "width": w}
        table.add_column(escape(col.header), justify="right" if col.numeric else "left", **kwargs)
    for n, r in enumerate(t.rows):
        table.add_row(*(escape(r[i]) for i in cols), end_section=n in t.section_ends)
    return table


#: Above this many rows a table is printed as plain aligned text, every column on one line:
#: rich lays a table out as a whole (every cell measured and styled), which for a network of
#: 330k layers took minutes and gigabytes; plain text takes about a second per 100k rows.
RICH_MAX_ROWS = 5000


def _print_plain(t: TableData, console: Console) -> None:
    widths = _natural_widths(t)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if col.numeric else c.ljust(w)
                         for c, w, col in zip(cells, widths, t.columns, strict=True)).rstrip()

    out = console.file
    out.write(f"{t.title}\n{line([c.header for c in t.columns])}\n")
    for start in range(0, len(t.rows), 4096):
        out.write("".join(line(r) + "\n" for r in t.rows[start:start + 4096]))
    if t.caption:
        out.write(f"{t.caption}\n")


def print_table(t: TableData, console: Console) -> None:
    """The table on `console`: fitted to a terminal's width, at full width otherwise; as
    plain text when it has more than RICH_MAX_ROWS rows."""
    if len(t.rows) > RICH_MAX_ROWS:
        _print_plain(t, console)
        return
    width = console.width if console.is_terminal else None
    parts = split_to_fit(t, width)
    widths = _natural_widths(t)
    if width is None:  # a file or a pipe: as wide as the table, nothing wrapped
        need = 1 + sum(w + _COLUMN_OVERHEAD for w in widths)
        console = Console(file=console.file, width=max(need, len(t.title), 80), highlight=False,
                          force_terminal=False)
    for n, cols in enumerate(parts):
        title = t.title if n == 0 else f"(continued, {n + 1} of {len(parts)})"
        caption = t.caption if n == len(parts) - 1 else None
        console.print(_rich_table(t, cols, widths, width, title, caption))
    if len(parts) > 1:
        moved = [t.columns[i].header for cols in parts[1:] for i in cols[t.keys:]]
        console.print(f"[dim]To fit {width} columns, the table is in {len(parts)} parts; in the"
                      f" later ones: {escape(', '.join(moved))}. A wider terminal, or --format"
                      " csv, markdown or json, gives every column of a row on one line.[/dim]",
                      highlight=False)


def print_items(console: Console, items: Sequence[str], sep: str = "; ") -> None:
    """Text made of short items (a totals line) on as many lines as the terminal needs,
    breaking only between items, never inside a figure; one line when not a terminal."""
    from rich.cells import cell_len

    if not console.is_terminal:
        console.print(sep.join(items), soft_wrap=True, highlight=False)
        return
    line = ""
    for item in items:
        candidate = f"{line}{sep}{item}" if line else item
        if line and cell_len(candidate) + len(sep.rstrip()) > console.width:
            console.print(line + sep.rstrip(), soft_wrap=True, highlight=False)
            line = "  " + item
        else:
            line = candidate
    if line:
        console.print(line, soft_wrap=True, highlight=False)


def emit(tables: Sequence[TableData], fmt: str, console: Console | None = None,
         group: str | None = None) -> None:
    """Print `tables` in format `fmt`; `group` names the column that tells several tables'
    rows apart in CSV and JSON (their titles)."""
    console = console or stdout_console()
    if fmt == "table":
        for t in tables:
            print_table(t, console)
        return
    text = {"csv": lambda: render_csv(tables, group), "json": lambda: render_json(tables, group),
            "markdown": lambda: render_markdown(tables)}[fmt]()
    click.echo(text.rstrip("\n"))
