"""Outputs: checked before any work, never destroying a file; one-line CLI failures.

The CLI cases run `nnaccel` as a user does, in a subprocess, where the exit status and the
exact stderr are what a shell sees (a closed pipe, a full disk, a usage error).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnaccel.cli import main
from nnaccel.errors import OutputError, WriteError
from nnaccel.loader import networks_dir
from nnaccel.outputs import check_output, check_outputs, write_atomic

NNACCEL = [sys.executable, "-c", "from nnaccel.entry import main; main()"]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _cli(*args: str, cwd: Path | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*NNACCEL, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, **kw)


# -- check_output -----------------------------------------------------------------------------

@pytest.mark.parametrize("name,words", [
    ("", "empty"), ("nodir/x.csv", "does not exist"), ("out/", "names a directory"),
    (".", "names a directory"), ("a" * 300 + ".csv", "too long"),
])
def test_a_bad_output_path_is_refused_before_work(tmp_path, monkeypatch, name, words):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match=words):
        check_output("--csv", name)


def test_links_devices_directories_and_read_only_files_are_refused(tmp_path):
    (tmp_path / "real.csv").write_text("keep")
    (tmp_path / "link.csv").symlink_to(tmp_path / "real.csv")
    with pytest.raises(OutputError, match="symbolic link"):
        check_output("--csv", str(tmp_path / "link.csv"))
    with pytest.raises(OutputError, match="not a regular file"):
        check_output("--csv", "/dev/null")
    (tmp_path / "d").mkdir()
    with pytest.raises(OutputError, match="directory"):
        check_output("--csv", str(tmp_path / "d"))
    if not IS_ROOT:  # root may write anything
        ro = tmp_path / "ro.csv"
        ro.write_text("x")
        ro.chmod(0o444)
        with pytest.raises(OutputError, match="read-only"):
            check_output("--csv", str(ro))


def test_an_output_may_not_be_an_input_or_another_output(tmp_path):
    net = tmp_path / "net.json"
    net.write_text("{}")
    with pytest.raises(OutputError, match="input of this run"):
        check_outputs([("--csv", str(net))], [str(net)])
    with pytest.raises(OutputError, match="same file as --csv"):
        check_outputs([("--csv", str(tmp_path / "x")), ("--json", str(tmp_path / "x"))])
    (tmp_path / "sub").mkdir()
    with pytest.raises(OutputError, match="same file"):  # two spellings of one new file
        check_outputs([("--csv", str(tmp_path / "x")),
                       ("--json", str(tmp_path / "sub" / ".." / "x"))])


def test_write_atomic_keeps_the_mode_and_refuses_anything_but_a_regular_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    target.chmod(0o640)
    write_atomic(target, lambda f: f.write("new"))
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    with pytest.raises(OutputError):
        write_atomic(link, lambda f: f.write("x"))
    assert link.is_symlink() and target.read_text() == "new"


def test_a_failure_while_writing_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")

    def fail(f):
        f.write("partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(WriteError, match="disk is full"):
        write_atomic(target, fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


# -- the CLI ----------------------------------------------------------------------------------

def test_run_never_overwrites_its_own_input(tmp_path):
    net = tmp_path / "self.json"
    shutil.copy(networks_dir() / "alexnet.json", net)
    before = net.read_bytes()
    for args in (["--csv", str(net)], ["--json", str(net)]):
        r = CliRunner().invoke(main, ["run", str(net), "-q", *args])
        assert r.exit_code == 2 and "input of this run" in r.output
    r = CliRunner().invoke(main, ["compare", str(net), "--csv", str(net), "-q"])
    assert r.exit_code == 2
    assert net.read_bytes() == before


def test_two_outputs_on_one_file_are_refused(tmp_path):
    x = str(tmp_path / "X")
    r = CliRunner().invoke(main, ["run", "alexnet", "-q", "--csv", x, "--json", x])
    assert r.exit_code == 2 and r.output.count("\n") == 1
    assert not Path(x).exists()


def test_a_missing_directory_fails_before_the_simulation(tmp_path):
    r = _cli("compare", "--all", "--csv", "nodir/x.csv", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "nodir" in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("args,words", [
    (["run", "alexnet", "--sparsity", "abc"], "--sparsity"),
    (["compare", "--jobs", "0", "alexnet"], "--jobs"),
    (["run", "alexnet", "--hw", "/"], "--hw"),
    (["run"], "NET"),
    (["nosuchcommand"], "nosuchcommand"),
])
def test_usage_errors_are_one_line_with_status_2(args, words):
    r = _cli(*args)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and words in r.stderr


def test_a_full_disk_on_stdout_is_one_line_with_status_1():
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        r = subprocess.run([*NNACCEL, "validate", "alexnet"], stdout=full,
                           stderr=subprocess.PIPE, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr == "error: cannot write the output: No space left" \
        " on device\n"


@pytest.mark.parametrize("how", [["--json"], []], ids=["json", "rich table"])
def test_a_closed_pipe_is_one_line_with_status_1(tmp_path, how):
    layers = [{"name": f"l{i}", "type": "conv", "inputs": [f"l{i - 1}" if i else "input"],
               "input_shapes": [[8, 8, 8]], "output_shape": [8, 8, 8], "kernel": [1, 1]}
              for i in range(2000)]  # far more output than a pipe holds
    net = tmp_path / "long.json"
    net.write_text(json.dumps({"name": "long", "input_shape": [8, 8, 8], "source": "t",
                               "layers": layers}))
    proc = subprocess.Popen([*NNACCEL, "info", *how, str(net)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 1
    assert err == "error: the output was closed early (broken pipe)\n"


def test_no_command_shows_the_help():
    r = _cli()
    assert r.returncode == 2 and r.stderr.startswith("Usage: ") and "Commands:" in r.stderr


def test_a_table_too_long_for_rich_is_plain_text_with_every_row(monkeypatch):
    from nnaccel.cli import tables

    monkeypatch.setattr(tables, "RICH_MAX_ROWS", 3)
    r = CliRunner().invoke(main, ["info", "alexnet"])
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert lines[1].split()[:3] == ["#", "layer", "type"]
    for name in ("conv1", "pool5", "fc8"):
        assert any(line.split()[1:2] == [name] for line in lines[2:])
    assert not any("│" in line or "┃" in line for line in lines)  # no rich box drawing
