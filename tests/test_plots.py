"""The figures: each one written, as PNG and SVG, and not empty; the grouping of Figure 6."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from nnaccel import plots
from nnaccel.cli import main
from nnaccel.compare import parse_configs, run_configs
from nnaccel.errors import NnaccelError
from nnaccel.network import load_network

# Small networks of Table 3, and MobileNet for its depthwise layers on the roofline.
NETS = ("sqnxt23v5", "squeezenet-v1.1", "mobilenet")


@pytest.fixture(scope="module")
def runs():
    return run_configs([load_network(n) for n in NETS], parse_configs([]))


def assert_image(path, kind):
    data = path.read_bytes()
    assert len(data) > 10_000, path
    if kind == "png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        assert b"<svg" in data[:2000] and data.rstrip().endswith(b"</svg>")


@pytest.mark.parametrize("figure", ["layers", "tradeoff", "roofline"])
def test_figure_written_as_png_and_svg(runs, tmp_path, figure):
    fig = getattr(plots, f"plot_{figure}")(runs)
    paths = plots.save_figure(fig, plots.output_paths(str(tmp_path / "sub" / figure), None, "x"))
    assert [p.suffix for p in paths] == [".png", ".svg"]
    for p in paths:
        assert_image(p, p.suffix[1:])
    assert [p.name for p in (tmp_path / "sub").iterdir() if p.name.startswith(".")] == []


def test_layer_groups_sum_the_network(runs):
    result = runs[0][1][0]  # 1.0-SqNxt-23v5 on paper-8x8
    groups = plots.layer_groups(result)
    assert sum(g.cycles for g in groups) == result.cycles
    assert sum(g.macs for g in groups) == result.macs
    assert len({g.signature for g in groups}) == len(groups) < len(result.layers)
    # the blocks of a stage repeat: some group sums several layers of one signature
    assert max(len(g.names) for g in groups) > 1


def test_output_paths():
    assert [str(p) for p in plots.output_paths(None, None, "fig6")] == ["fig6.png", "fig6.svg"]
    assert [str(p) for p in plots.output_paths(None, "a/b.SVG", "x")] == ["a/b.SVG"]
    for prefix, file in ((None, "fig.pdf"), ("p", "f.png")):
        with pytest.raises(NnaccelError):
            plots.output_paths(prefix, file, "x")


def test_plot_command_writes_one_file(tmp_path):
    out = tmp_path / "roof.png"
    r = CliRunner().invoke(main, ["plot", "roofline", "sqnxt23v5", "--config", "paper-8x8",
                                  "-o", str(out)])
    assert r.exit_code == 0, r.output + r.stderr
    assert_image(out, "png")
    assert list(tmp_path.iterdir()) == [out]


def test_plot_command_bad_output_exit_2(tmp_path):
    r = CliRunner().invoke(main, ["plot", "layers", "sqnxt23v5", "-o", str(tmp_path / "f.jpg")])
    assert r.exit_code == 2 and r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
