"""What the commands print: at any terminal width and when piped, no number is cut; the table
and its `--format csv|json|markdown` carry the same figures; totals break between items."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from click.testing import CliRunner

from nnaccel.cli import main
from nnaccel.cli.tables import Column, TableData, cell_value, split_to_fit

COMMANDS = {
    "run": ["run", "sqnxt23v5", "--array", "8x8", "--buffer", "32KB"],
    "info": ["info", "sqnxt23"],
    "list": ["list"],
    "compare": ["compare", "sqnxt23", "sqnxt23v5", "alexnet", "mobilenet"],
    "paper": ["paper"],
}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _invoke(args: list[str], columns: int | None) -> str:
    env = {"TTY_COMPATIBLE": "1", "COLUMNS": str(columns)} if columns else {"TTY_COMPATIBLE": "0"}
    r = CliRunner().invoke(main, args, env={**env, "NO_COLOR": "1"})
    assert r.exit_code == 0, r.output
    return ANSI.sub("", r.output)


@pytest.fixture(scope="module")
def csv_numbers() -> dict[str, list[str]]:
    out = {}
    for name, args in COMMANDS.items():
        rows = list(csv.reader(io.StringIO(_invoke([*args, "--format", "csv"], None))))
        assert len(rows) > 2
        out[name] = [cell for row in rows[1:] for cell in row if NUMBER.fullmatch(cell)]
    return out


@pytest.mark.parametrize("columns", [80, 120, 200, None], ids=lambda c: f"{c or 'piped'}")
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_number_of_the_csv_is_printed_in_full(csv_numbers, name, columns):
    text = _invoke(COMMANDS[name], columns)
    assert "…" not in text
    if columns:
        widest = max(len(line) for line in text.splitlines())
        assert widest <= columns, f"a line of {widest} characters on a {columns}-column terminal"
    plain = text.replace(",", "")
    missing = [n for n in csv_numbers[name]
               if not re.search(rf"(?<![\d.]){re.escape(n)}(?![\d])", plain)]
    assert not missing, f"{len(missing)} numbers of the CSV not in the text, e.g. {missing[:5]}"


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_json_and_markdown_carry_the_csv_rows(fmt):
    args = COMMANDS["compare"]
    rows = list(csv.DictReader(io.StringIO(_invoke([*args, "--format", "csv"], None))))
    text = _invoke([*args, "--format", fmt], None)
    if fmt == "json":
        records = json.loads(text)
        assert [r["model"] for r in records] == [r["model"] for r in rows]
        assert [r["cycles"] for r in records] == [int(r["cycles"]) for r in rows]
    else:
        lines = [line for line in text.splitlines() if line.startswith("| ")]
        assert len(lines) == len(rows) + 1  # the header and one line per row
        assert all(f"{int(r['cycles']):,}" in text for r in rows)


def test_a_narrow_terminal_moves_columns_and_says_how_to_see_all():
    text = _invoke(COMMANDS["run"], 80)
    assert "(continued, 2 of" in text and "--format" in text
    wide = _invoke(COMMANDS["run"], 200)
    assert "continued" not in wide


def test_the_totals_break_between_figures_only():
    text = _invoke([*COMMANDS["run"], "-q"], 60)
    assert len(text.splitlines()) > 2 and all(len(line) <= 60 for line in text.splitlines())
    piped = _invoke([*COMMANDS["run"], "-q"], None)
    assert len(piped.splitlines()) == 2  # one line of totals, one of energy
    figures = re.findall(r"\d[\d,.e+]*\d|\d", piped)
    assert len(figures) > 10 and all(f in text for f in figures)  # none broken across lines


def test_split_to_fit_keeps_every_column_and_the_keys_on_each_part():
    cols = (Column("name", "name", numeric=False, priority=9),
            *(Column(f"c{i}", f"c{i}", priority=i) for i in range(8)))
    t = TableData("t", cols, (("a-rather-long-name", *(f"{10**9 + i:,}" for i in range(8))),))
    parts = split_to_fit(t, 60)
    assert len(parts) > 1 and all(p[0] == 0 for p in parts)
    assert sorted(i for p in parts for i in p[1:]) == list(range(1, 9))
    assert 7 in parts[0] and 8 in parts[0]  # the most important first
    assert split_to_fit(t, None) == [list(range(9))]


@pytest.mark.parametrize(("text", "value"), [
    ("1,234", "1234"), ("×1.17", "1.17"), ("+5.0% ✓", "+5.0"), ("-2.6% ✗", "-2.6"),
    ("60.9M", "60.9"), ("4.12e+08", "4.12e+08"), ("1.0-SqNxt-23", "1.0-SqNxt-23"), ("", ""),
])
def test_cell_value(text, value):
    assert cell_value(text, numeric=True) == value


def test_paper_does_not_colour_digits_inside_names():
    r = CliRunner().invoke(main, ["paper"], env={"TTY_COMPATIBLE": "1", "COLUMNS": "200"})
    assert r.exit_code == 0
    # rich's number highlighting wraps digits in colour codes: none inside a name or a range
    assert "1.0-SqNxt-23" in r.output and "20%-32%" in r.output


def test_compare_quiet_without_a_file_refuses():
    r = CliRunner().invoke(main, ["compare", "sqnxt23v5", "-q"])
    assert r.exit_code == 2 and "--csv" in r.output


def test_top_level_help_does_not_cut_summaries():
    r = CliRunner().invoke(main, ["--help"], env={"COLUMNS": "80"})
    assert r.exit_code == 0 and "…" not in r.output
    listed = " ".join(r.output.split("Commands:")[1].split())
    for name, cmd in main.commands.items():
        summary = " ".join(cmd.get_short_help_str(limit=1_000).split())
        assert f"{name} {summary}" in listed, name


def test_a_table_of_names_only_folds_them():
    t = TableData("names", (Column("name", "name", numeric=False),),
                  (("a-name-much-longer-than-the-terminal-is-wide-at-all",),))
    assert split_to_fit(t, 30) == [[0]]
