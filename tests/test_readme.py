"""The README's first steps work verbatim: its `sh` blocks run, in order, in a fresh shell
(no inherited environment but a plain PATH), in a copy of the repository, and leave what they
promise: a sweep's own store with a front of many points, a figure, a report.

The first step is `make install`; this test runs where it has run (`make test` does it first,
and CI runs `make test`), so that `make install` finds .venv up to date rather than installing
from the package index inside a test. The README's other blocks (`text`, `python`, `toml`)
show forms with names to replace and are not run.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"


def sh_blocks(text: str) -> list[str]:
    """The README's blocks fenced as ```sh, in order."""
    return re.findall(r"^```sh\n(.*?)^```", text, flags=re.M | re.S)


def _copy_repo(dest: Path) -> None:
    """The repository's tracked files, with their times (so make sees .venv up to date)."""
    try:
        files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                               check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        files = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()
                 and not {".git", ".venv", "__pycache__"} & set(p.relative_to(ROOT).parts)]
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    (dest / ".venv").symlink_to(VENV)


def test_the_sh_blocks_are_the_first_steps():
    blocks = sh_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert blocks, "README.md has no ```sh block"
    first = [line.split("#")[0].strip() for line in blocks[0].splitlines()]
    assert first[:2] == ["make install", ". .venv/bin/activate"]


@pytest.mark.slow
def test_the_readme_runs_verbatim_in_a_fresh_shell(tmp_path):
    if shutil.which("make") is None or not (VENV / ".installed").is_file():
        pytest.skip("make install has not run in this checkout (make test runs it first)")
    if subprocess.run(["make", "-q", "install"], cwd=ROOT, capture_output=True).returncode:
        pytest.skip(".venv is older than setup.cfg or pyproject.toml: make install would"
                    " install again (make test does it first)")
    repo = tmp_path / "clone"
    _copy_repo(repo)
    script = "set -euo pipefail\n" + "\n".join(sh_blocks((ROOT / "README.md").read_text(
        encoding="utf-8")))
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    run = subprocess.run(["bash", "--noprofile", "--norc", "-c", script], cwd=repo, env=env,
                         capture_output=True, text=True, timeout=400, check=False)
    assert run.returncode == 0, f"stdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-3000:]}"
    assert (repo / "sweep-all.db").is_file() and (repo / "front.png").stat().st_size > 10_000
    assert "<table" in (repo / "report.html").read_text(encoding="ascii")
    front = subprocess.run([str(VENV / "bin" / "nnaccel"), "pareto", "sweep-all.db", "-m",
                            "area,energy", "--set", "--format", "csv"], cwd=repo, env=env,
                           capture_output=True, text=True, timeout=120, check=True)
    rows = list(csv.DictReader(io.StringIO(front.stdout)))
    assert len(rows) >= 5, front.stdout  # the set's front over 24 configurations, not one point
    assert "combines 25 networks over the 24 configurations" in front.stderr
