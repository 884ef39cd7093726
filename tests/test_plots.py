"""The figures: written as PNG, SVG and PDF; readable at their default size (no overlapping or
clipped text, no legend over data, three labelled ticks an axis); the grouping of Figure 6;
Figure 7's accuracies."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from figcheck import problems

from nnaccel import plots
from nnaccel.cli import main
from nnaccel.compare import parse_configs, run_configs
from nnaccel.errors import NnaccelError
from nnaccel.loader import load_network

# Small networks of Table 3, and MobileNet for its depthwise layers on the roofline.
NETS = ("sqnxt23v5", "squeezenet-v1.1", "mobilenet")


@pytest.fixture(scope="module")
def runs():
    return run_configs([load_network(n) for n in NETS], parse_configs([]))


@pytest.fixture(scope="module")
def variants():
    nets = ("sqnxt23", "sqnxt23v2", "sqnxt23v3", "sqnxt23v4", "sqnxt23v5")
    return run_configs([load_network(n) for n in nets], parse_configs([]))


@pytest.fixture(scope="module")
def table3():
    from nnaccel.paper import table3_networks

    return run_configs([load_network(n.path) for n in table3_networks()], parse_configs([]))


def _one(runs, config, names=None):
    return [(c, [r for r in res if names is None or r.network.name in names])
            for c, res in runs if c.label == config]


@pytest.mark.parametrize("case", [
    "layers-five-variants", "layers-one-small-network", "layers-default-runs",
    "tradeoff-table3", "tradeoff-two-networks", "tradeoff-one-config", "tradeoff-narrow",
    "roofline",
    "roofline-one-config",
])
def test_figures_are_readable_at_their_default_size(runs, variants, table3, case):
    fig = {
        "layers-five-variants": lambda: plots.plot_layers(variants),
        "layers-one-small-network": lambda: plots.plot_layers(_one(runs, "paper-8x8",
                                                                   {"1.0-SqNxt-23v5"})),
        "layers-default-runs": lambda: plots.plot_layers(runs),
        "tradeoff-table3": lambda: plots.plot_tradeoff(table3),
        "tradeoff-two-networks": lambda: plots.plot_tradeoff(
            [(c, res[:2]) for c, res in runs]),
        "tradeoff-one-config": lambda: plots.plot_tradeoff(_one(table3, "paper-16x16")),
        "tradeoff-narrow": lambda: plots.plot_tradeoff(
            _one(table3, "paper-8x8", {"1.0-SqNxt-23", "1.0-SqNxt-23v5"})),
        "roofline": lambda: plots.plot_roofline(runs),
        "roofline-one-config": lambda: plots.plot_roofline(_one(runs, "paper-8x8")),
    }[case]()
    try:
        assert problems(fig) == []
    finally:
        plots.plt.close(fig)


def test_the_checker_finds_overlaps_clipping_covered_points_and_few_ticks():
    fig, ax = plots.plt.subplots(figsize=(3, 2))
    ax.scatter([1, 2], [1, 2])
    ax.legend(["points"], loc="center", bbox_to_anchor=(1, 1), bbox_transform=ax.transData)
    ax.set_xticks([1])
    ax.annotate("a label", (1.5, 1.5))
    ax.annotate("a label over it", (1.5, 1.5))
    ax.set_title("a title much too long for so small a figure, cut at both ends of it")
    found = " | ".join(problems(fig))
    plots.plt.close(fig)
    for words in ("overlap", "clipped", "covers the data point", "1 labelled ticks"):
        assert words in found, words


def test_tradeoff_normalizes_by_the_networks_drawn_and_takes_given_accuracies(runs):
    # without an accuracy a network is left out, and the fastest drawn one is at 1.0
    fastest = min(runs[0][1], key=lambda r: r.cycles).network.name
    accuracy = {}
    assert plots.tradeoff_left_out(runs, accuracy) == []
    stripped = [(c, [r for r in res if r.network.name != fastest]) for c, res in runs]
    fig = plots.plot_tradeoff(stripped)
    xs = [c.get_offsets()[0][0] for c in fig.axes[1].collections if len(c.get_offsets())]
    plots.plt.close(fig)
    assert min(xs) == pytest.approx(1.0)
    net = runs[0][1][0].network
    assert plots.accuracy_of(runs[0][1][0], {net.name: 12.5}) == 12.5
    stem = plots.Path(net.path).stem
    assert plots.accuracy_of(runs[0][1][0], {stem: 13.5}) == 13.5


def test_tradeoff_warns_about_a_network_without_accuracy(tmp_path):
    from nnaccel.loader import networks_dir

    data = json.loads((networks_dir() / "sqnxt23v5.json").read_text())
    data["name"] = "no-accuracy-net"
    data["paper"].pop("top1", None)
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data))
    out = tmp_path / "t.pdf"
    r = CliRunner().invoke(main, ["plot", "tradeoff", str(path), "sqnxt23", "--config",
                                  "paper-8x8", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "left out" in r.stderr and "no-accuracy-net" in r.stderr
    assert out.read_bytes().startswith(b"%PDF")
    r = CliRunner().invoke(main, ["plot", "tradeoff", str(path), "sqnxt23", "--config",
                                  "paper-8x8", "--accuracy", "mine=55", "-o", str(out)])
    assert r.exit_code == 0 and "left out" not in r.stderr


def assert_image(path, kind):
    data = path.read_bytes()
    assert len(data) > 10_000, path
    if kind == "png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    elif kind == "pdf":
        assert data.startswith(b"%PDF")
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
    assert [str(p) for p in plots.output_paths(None, "f.pdf", "x")] == ["f.pdf"]
    for prefix, file in ((None, "fig.jpg"), ("p", "f.png")):
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
