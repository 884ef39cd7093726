"""The limits of nnaccel.limits, as the loader, the hardware parser and the tiler apply them.

One case per class of input the issue found accepted and then crashing, spinning or giving
nonsense; each must now be one NnaccelError naming the field and the limit, or a sane run.
"""

from __future__ import annotations

import copy
import json
import os

import pytest
from bad_networks import GOOD

from nnaccel import limits
from nnaccel.errors import HardwareError, MappingError, NetworkError
from nnaccel.hardware import Hardware, load_toml, parse_array, parse_size
from nnaccel.loader import load_network
from nnaccel.netformat import parse_network_text
from nnaccel.netschema import json_schema
from nnaccel.network import Layer, Network
from nnaccel.simulate import simulate
from nnaccel.tiler import MAX_TILES, _dim_grid


def _one_conv(cin: int, h: int, w: int, cout: int, kernel=(1, 1), stride=(1, 1)) -> dict:
    ho = (h - kernel[0]) // stride[0] + 1
    wo = (w - kernel[1]) // stride[1] + 1
    return {"name": "x", "input_shape": [cin, h, w], "source": "t", "layers": [
        {"name": "c", "type": "conv", "inputs": ["input"], "input_shapes": [[cin, h, w]],
         "output_shape": [cout, ho, wo], "kernel": list(kernel), "stride": list(stride)}]}


def _fails(data_or_text, *words):
    text = data_or_text if isinstance(data_or_text, str) else json.dumps(data_or_text)
    with pytest.raises(NetworkError) as err:
        parse_network_text(text, "f.json")
    message = str(err.value)
    assert "\n" not in message and message.startswith("f.json")
    for word in words:
        assert word in message, message
    return message


@pytest.mark.parametrize("cout", [2**63, 10**12, 2**30 + 1])
def test_a_dimension_above_2_30_is_rejected(cout):
    _fails(_one_conv(3, 8, 8, cout), "output_shape", "1,073,741,824")


def test_a_shape_above_2_40_elements_is_rejected():
    _fails(_one_conv(2**20, 2**20, 2, 1), "input_shape", "elements")


def test_a_layer_whose_work_is_above_2_40_is_rejected():
    # each shape is small enough, but output channels x input channels x positions is not
    _fails(_one_conv(2**20, 4, 4, 2**20), "layer 'c'", "work", "2**40")
    # a huge kernel swept over a huge image (the negative-DRAM case, scaled to fit)
    _fails(_one_conv(1, 2**20, 2**19, 1, kernel=(2**18, 2**18)), "layer 'c'", "work")


def test_a_layer_at_the_work_limit_is_accepted():
    data = parse_network_text(json.dumps(_one_conv(2**20, 1, 1, 2**20)), "f.json")
    assert data["layers"][0]["output_shape"] == (2**20, 1, 1)


def test_too_many_layers_is_rejected(monkeypatch):
    monkeypatch.setattr(limits, "MAX_LAYERS", 3)
    _fails(GOOD, "layers", "at most 3")


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN", "1e400"])
def test_a_paper_figure_that_is_not_finite_is_rejected(literal):
    text = json.dumps(GOOD).replace('"params_m": 0.001', f'"params_m": {literal}')
    _fails(text)


def test_a_paper_figure_above_its_limit_is_rejected():
    data = copy.deepcopy(GOOD)
    data["paper"]["macs_m"] = 1e13
    _fails(data, "paper.macs_m")


def test_an_integer_of_thousands_of_digits_is_one_line():
    text = json.dumps(GOOD).replace("[3, 8, 8]", "[3, " + "9" * 4301 + ", 8]", 1)
    _fails(text, "4,300 digits")


def test_a_lone_surrogate_in_a_name_is_rejected():
    text = json.dumps(GOOD).replace('"tiny"', '"\\ud800"')
    _fails(text, "field 'name'", "surrogate")


@pytest.mark.parametrize("depth", [982, 5000])
def test_deep_nesting_is_one_line(depth):
    data = json.dumps(GOOD)
    text = data.replace('"source": "tests"', f'"source": {"[" * depth}{"]" * depth}')
    _fails(text)


# -- the NET argument -------------------------------------------------------------------------

def test_a_net_that_is_a_directory_a_fifo_or_a_link_loop_says_so(tmp_path):
    with pytest.raises(NetworkError, match="is a directory"):
        load_network(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(NetworkError, match="not a regular file"):
        load_network(fifo)  # never opened: a FIFO would block the reader
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(NetworkError, match="loop of symbolic links"):
        load_network(tmp_path / "a")


@pytest.mark.parametrize("name", ["a" * 300, "x\0y"])
def test_an_impossible_file_name_is_one_error(name):
    with pytest.raises(NetworkError) as err:
        load_network(name)
    assert "\n" not in str(err.value)


# -- hardware ---------------------------------------------------------------------------------

@pytest.mark.parametrize("field,value", [
    ("Pr", 2**63 - 1), ("Pr", 4097), ("Pc", 0), ("buffer_bytes", 2**40 + 1),
    ("word_bytes", 9), ("psum_bytes", 32), ("dram_latency_cycles", 2 * 10**18),
    ("dram_latency_cycles", 2**63 - 1), ("dram_latency_cycles", 2**16 + 1),
    ("rf_psums", 10**12), ("buffer_port_words", 2**16 + 1), ("clock_hz", 1e-300),
    ("clock_hz", 1e13), ("dram_bandwidth_bytes_per_s", 1e30), ("sparsity", 0.9999999),
    ("sparsity", 1.0), ("sparsity", float("nan")),
])
def test_a_hardware_field_outside_its_range_is_rejected(field, value):
    with pytest.raises(HardwareError) as err:
        Hardware(**{field: value})
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("field", ["mac", "rf", "array", "buffer", "dram"])
def test_an_energy_above_its_limit_is_rejected(tmp_path, field):
    path = tmp_path / "hw.toml"
    path.write_text(f"[energy]\n{field} = 1e308\n")
    with pytest.raises(HardwareError, match=f"energy.{field}"):
        load_toml(path)


def test_hardware_at_its_limits_is_accepted():
    # word_bytes, psum_bytes and buffer_bank_bits are bound to each other (a partial sum is
    # whole words; the banks carry at least a word): left at their defaults
    lows = Hardware(**{f: lo for f, (lo, _) in limits.HW_INT_RANGES.items()
                       if f not in ("word_bytes", "psum_bytes", "buffer_bank_bits")},
                    sparsity=limits.MAX_SPARSITY)
    assert lows.density > 0
    highs = Hardware(**{f: hi for f, (_, hi) in limits.HW_INT_RANGES.items()},
                     clock_hz=limits.CLOCK_HZ[1],
                     dram_bandwidth_bytes_per_s=limits.CLOCK_HZ[1] * limits.DRAM_BYTES_PER_CYCLE[1])
    assert highs.dram_bytes_per_cycle == limits.DRAM_BYTES_PER_CYCLE[1]


@pytest.mark.parametrize("text", ["9223372036854775807x1", "99999999999999999999x8",
                                  "1" * 5000 + "x8"])
def test_a_huge_array_flag_is_one_error(text):
    with pytest.raises(HardwareError):
        parse_array(text)


@pytest.mark.parametrize("text", ["99999999999999999999KB", "1025GB", "9" * 5000 + "KB"])
def test_a_huge_buffer_flag_is_one_error(text):
    with pytest.raises(HardwareError):
        parse_size(text)


def test_the_size_message_lists_every_unit_it_accepts():
    with pytest.raises(HardwareError) as err:
        parse_size("1TB")
    for unit in ("KB", "KiB", "MB", "MiB", "GB", "GiB"):
        assert unit in str(err.value)
    assert parse_size("1GB") == parse_size("1GiB") == 2**30


def test_a_sparsity_that_leaves_a_filter_no_weight_is_rejected():
    # a filter of 3 weights: 0.999999 would round every one away (0 cycles for the MACs)
    net = Network("x", (3, 8, 8), (Layer("c", "conv", ("input",), ((3, 8, 8),), (64, 8, 8)),),
                  "t")
    with pytest.raises(MappingError, match="no nonzero weight"):
        simulate(net, Hardware(sparsity=0.999999))
    # 1 - 1/(2·3) keeps one nonzero weight (round half up): accepted and computes
    result = simulate(net, Hardware(sparsity=0.8))
    assert result.total("pe_ops") > 0 and result.total("compute_cycles") > 0


# -- the engines at the limits ----------------------------------------------------------------

EDGE_LAYERS = [
    Layer("l", "fc", ("input",), ((2**20, 1, 1),), (2**20, 1, 1)),
    Layer("l", "conv", ("input",), ((2**10, 2**10, 2**10),), (2**10, 2**10, 2**10)),
    Layer("l", "conv", ("input",), ((1, 32, 32),), (2**30, 1, 1), kernel=(32, 32)),
    Layer("l", "conv", ("input",), ((2**20, 1024, 1),), (2**20, 1022, 1), kernel=(3, 1),
          groups=2**20),
]
EDGE_HARDWARE = [
    Hardware(Pr=1, Pc=1, buffer_bytes=2**30, dram_latency_cycles=2**16,
             dram_bandwidth_bytes_per_s=1e9),
    Hardware(Pr=4096, Pc=4096, buffer_bytes=2**40, dram_latency_cycles=2**16,
             dram_bandwidth_bytes_per_s=1e9, energy=Hardware().energy.__class__(dram=1e9)),
    Hardware(buffer_bytes=2**40, dram_latency_cycles=0, dram_bandwidth_bytes_per_s=2**20 * 1e9),
]


@pytest.mark.parametrize("layer", EDGE_LAYERS, ids=["fc", "conv", "wide", "depthwise"])
@pytest.mark.parametrize("hw", EDGE_HARDWARE, ids=["slow", "huge", "fast"])
def test_layers_at_the_limits_give_sane_counts(layer, hw):
    result = simulate(Network("x", layer.input_shape, (layer,), "t"), hw)
    t = result.totals()
    assert all(v >= 0 for v in t.values())
    assert t["cycles"] >= t["compute_cycles"]
    assert t["cycles"] * hw.pes >= t["pe_ops"]
    assert t["cycles"] * hw.dram_bytes_per_cycle >= t["dram_read_bytes"] + t["dram_write_bytes"]
    assert result.energy_total < float("inf")


# -- the tiler's grid --------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 7, 224, 25088, MAX_TILES, MAX_TILES + 1, 10**6, 10**9, 2**30])
@pytest.mark.parametrize("aligns", [(), (8,), (16, 3)])
def test_the_grid_is_bounded_and_never_cuts_more_than_max_tiles(n, aligns):
    grid = _dim_grid(n, aligns)
    assert grid.min() >= 1 and grid.max() == n
    assert all(-(-n // int(t)) <= MAX_TILES for t in grid)
    assert len(grid) <= (2 + len(aligns)) * 18
    if n <= MAX_TILES:
        assert 1 in grid  # small loops keep every size, down to one


# -- the schema carries the same limits ------------------------------------------------------

def test_the_schema_carries_the_limits():
    schema = json_schema()
    assert schema["properties"]["layers"]["maxItems"] == limits.MAX_LAYERS
    shape = schema["properties"]["input_shape"]
    assert shape["items"]["maximum"] == limits.MAX_DIM


def test_the_numpy_reference_refuses_a_layer_it_could_not_hold(tmp_path):
    from click.testing import CliRunner

    from nnaccel.cli import main

    net = tmp_path / "wide.json"
    net.write_text(json.dumps(_one_conv(3, 8, 8, 10**9)))
    r = CliRunner().invoke(main, ["validate", "--reference", str(net)])
    assert r.exit_code == 2 and "too large for the numpy reference" in r.output
    assert r.output.count("\n") == 1


def test_a_hardware_file_that_is_a_fifo_is_refused_unopened(tmp_path):
    fifo = tmp_path / "hw.toml"
    os.mkfifo(fifo)
    with pytest.raises(HardwareError, match="not a regular file"):
        load_toml(fifo)  # reading it would block for ever
