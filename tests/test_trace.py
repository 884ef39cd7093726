"""`nnaccel trace`: a layer's timeline from the step engine adds up to what `run` reports.

The properties hold on every layer kind and both dataflows, on the default hardware and on
DRAM-bound hardware (slow DRAM, long latency, requests in flight): the array's busy and
stall spans tile the layer's cycles exactly, with `run`'s compute and stall cycles; every
stall span's cycles split into latency, transfer and output-path cycles; the DMA moves
`run`'s bytes, one request's bytes at a time; the ports never carry more than their width.
"""

from __future__ import annotations

import gzip
import json

import pytest
from click.testing import CliRunner
from figcheck import problems

from nnaccel.cli import main
from nnaccel.engines import step
from nnaccel.engines.layout import C_LEN
from nnaccel.errors import NnaccelError
from nnaccel.hardware import Hardware
from nnaccel.loader import load_network
from nnaccel.lowering import lower_network
from nnaccel.simulate import simulate
from nnaccel.trace import (
    ARRAY,
    COMPUTE,
    DRAIN,
    LATENCY,
    OUTPUT,
    QUEUED,
    READ,
    STALL,
    WRITE,
    chrome_trace,
    layer_timeline,
    parse_window,
)

DEFAULT = Hardware(name="default")
# DRAM-bound: an eighth of the bandwidth, four times the latency, two requests in flight
SLOW = Hardware(name="slow", dram_bandwidth_bytes_per_s=2e9, dram_latency_cycles=400,
                dma_outstanding=2)
NARROW = Hardware(name="narrow", Pr=16, Pc=16, buffer_bytes=128 * 1024,
                  dram_bandwidth_bytes_per_s=4e9, buffer_read_port_words=8,
                  buffer_write_port_words=4)
UNFUSED = Hardware(name="unfused", fuse_pool=False, fuse_add=False)
BATCH = Hardware(name="batch", batch=3, dram_latency_cycles=300)

# (network, layer, hardware, dataflow): a 7x7 stride-2 conv with a fused pooling, 1x1 and
# 3x1/1x3 convs, a fused residual add, a depthwise conv, a classifier (fc), an unfused
# pooling and add (window operations), a global pooling, a batch; a transformer's kinds.
CASES = [
    ("sqnxt23v5", "conv1", SLOW, "auto"),
    ("sqnxt23v5", "s4b1_sq1", DEFAULT, "ws"),
    ("sqnxt23v5", "s4b1_sq1", DEFAULT, "os"),
    ("sqnxt23v5", "s4b1_sep3x1", SLOW, "os"),
    ("sqnxt23v5", "s4b1_sep1x3", NARROW, "ws"),
    ("sqnxt23v5", "s3b2_add", SLOW, "auto"),
    ("sqnxt23v5", "s3b2_add", UNFUSED, "auto"),
    ("sqnxt23v5", "fc1000", SLOW, "auto"),
    ("sqnxt23v5", "fc1000", NARROW, "os"),
    ("mobilenet", "conv5_6/dw", SLOW, "auto"),
    ("mobilenet", "conv6/sep", NARROW, "ws"),
    ("mobilenet", "pool6", UNFUSED, "auto"),
    ("tiny-darknet", "pool4", UNFUSED, "auto"),
    ("tiny-darknet", "conv11", BATCH, "auto"),
    ("tiny-darknet", "conv12", BATCH, "os"),
    # a transformer's layer norm and softmax (output-path work), a product of two activations
    ("gpt2-decode-127", "transformer.h.0.ln_1", SLOW, "auto"),
    ("gpt2-decode-127", "transformer.h.0.attn.scores", SLOW, "auto"),
    ("gpt2-decode-127", "transformer.h.0.attn.softmax", DEFAULT, "auto"),
]


def _run_record(net, hw, name, dataflow):
    """What `run --engine step` reports for the operation that runs `name`."""
    lowered = lower_network(net, hw)
    low = next(x for x in lowered if x.layer.name == name)
    if low.fused_into is not None:
        low = next(x for x in lowered if x.layer.name == low.fused_into)
    return simulate(net, hw, engine="step", dataflow=dataflow, lowered=[low]).layers[0]


@pytest.mark.parametrize("net_name,layer,hw,dataflow", CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2].name}-{c[3]}" for c in CASES])
def test_spans_add_up_to_what_run_reports(net_name, layer, hw, dataflow):
    net = load_network(net_name)
    tl = layer_timeline(net, hw, layer, dataflow)
    rec = _run_record(net, hw, layer, dataflow)
    assert tl.traced == rec.layer.name
    assert tl.mapping == rec.mapping
    assert tl.counts == rec.counts
    assert tl.stall_bandwidth_cycles == rec.stall_bandwidth_cycles
    if dataflow != "auto":
        assert tl.mapping.dataflow == dataflow

    # the array's spans tile [0, cycles): busy and stall, no gap, no overlap
    array = sorted((s for s in tl.spans if s.track == ARRAY), key=lambda s: (s.start, s.end))
    assert array[0].start == 0 and array[-1].end == rec.cycles
    for a, b in zip(array, array[1:], strict=False):
        assert a.end == b.start, (a, b)
    busy = [s for s in array if s.cat == COMPUTE]
    stalls = [s for s in array if s.cat == STALL]
    assert len(busy) == rec.count("tiles")  # every image's
    assert sum(s.cycles for s in busy) == rec.count("compute_cycles")
    assert sum(s.cycles for s in stalls) == rec.count("stall_cycles")
    for s in stalls:  # each stall cycle is one of: latency, bytes moving, output path working
        assert (s.args["latency_cycles"] + s.args["transfer_cycles"]
                + s.args["output_path_cycles"]) == s.cycles, s
    assert sum(tl.stall_causes.values()) == rec.count("stall_cycles")

    # the DMA: run's bytes; a request's latency is the hardware's; one transfer at a time
    dma = [s for s in tl.spans if s.cat in (READ, WRITE)]
    assert sum(s.args["bytes"] for s in dma if s.cat == READ) == rec.count("dram_read_bytes")
    assert sum(s.args["bytes"] for s in dma if s.cat == WRITE) == rec.count("dram_write_bytes")
    bw = hw.dram_bytes_per_cycle
    for s in dma:
        assert s.cycles >= -(-s.args["bytes"] // bw)  # no faster than the bandwidth
    transfers = sorted(dma, key=lambda s: s.start)
    for a, b in zip(transfers, transfers[1:], strict=False):
        assert a.end <= b.start, (a, b)
    lat = [s for s in tl.spans if s.cat == LATENCY]
    assert len(lat) == len(dma) and all(s.cycles == hw.dram_latency_cycles for s in lat)
    if hw.dma_outstanding == 1:
        assert not [s for s in tl.spans if s.cat == QUEUED]
    for track in tl.tracks:  # a track's spans never overlap
        mine = sorted((s for s in tl.spans if s.track == track), key=lambda s: s.start)
        for a, b in zip(mine, mine[1:], strict=False):
            assert a.end <= b.start, (track, a, b)

    # the output path works within its store's transfer, on run's operations at most
    out = [s for s in tl.spans if s.cat == OUTPUT]
    assert sum(s.args["alu_ops"] for s in out) <= rec.count("alu_ops")
    stores = {(s.args.get("image"), s.name.split()[-1]): s for s in dma if s.cat == WRITE}
    for s in out:
        st = stores[(s.args.get("image"), s.name.split()[-1])]
        assert st.start == s.start and s.end <= st.end

    # OS: a tile's drains end with it, take at most its cycles; its waits are compute cycles
    for d in (s for s in tl.spans if s.cat == DRAIN):
        tile = next(b for b in busy if b.name.endswith(f"tile {d.name.split()[-1]}")
                    and b.args.get("image") == d.args.get("image"))
        assert d.end == tile.end and tile.start <= d.start
        assert d.args["write_port_cycles"] <= d.cycles
        assert tile.args["drain_wait_cycles"] <= tile.cycles
    if tl.mapping.dataflow == "os" and tl.count("pe_ops") and low_kind_is_conv(net, tl.traced):
        assert any(s.cat == DRAIN for s in tl.spans)

    # the ports: never more words than their width a cycle
    for k in tl.counters:
        width = hw.read_port_words if k.track.endswith("read port") else hw.write_port_words
        assert 0 <= k.value <= width, k


def low_kind_is_conv(net, name):
    return next(x for x in net.layers if x.name == name).type in ("conv", "fc", "linear")


@pytest.mark.parametrize("cgo, drains, wait, start, end", [
    # test_step's hand-worked drains: CGO = 8, 2 chunks, the tile from 103: chunk 0 computes
    # 0-4, drains 4-20; chunk 1 computes 4-8, drains 20-36; the array waits 8-36 (28).
    (8, 2, 28, 107, 139),
    # CGO = 12, 3 chunks from 104: drains 4-20, 20-36, 36-52; waits 8-20 and 24-52 (40).
    (12, 3, 40, 108, 156),
])
def test_drains_worked_by_hand(cgo, drains, wait, start, end):
    from test_step import hardware, layer, mapping

    from nnaccel.engines.layout import DF_OS, KIND_CONV

    _, tl = step.simulate_timeline(layer(KIND_CONV, 1, 1, cgo, 4, 4, 1, 1, 0),
                                   hardware(4, 4, 4, 4, dnum=5),
                                   mapping(DF_OS, "xyck", 4, 4, 1, cgo))
    f = {name: i for i, name in enumerate(step.TIMELINE_FIELDS)}
    row = tl[0]
    assert row[f["drains"]] == drains
    assert row[f["drain_words"]] == drains * 4 * 16 * 2  # 4 channels x 16 pixels, 2 words
    assert row[f["drain_cycles"]] == drains * 16  # 128 words / WR 8
    assert row[f["drain_wait"]] == wait
    assert (row[f["drain_start"]], row[f["compute_end"]]) == (start, end)


def test_recording_changes_no_count():
    net = load_network("sqnxt23v5")
    for low in lower_network(net, SLOW)[:12]:
        if low.vector is None:
            continue
        rec = simulate(net, SLOW, lowered=[low]).layers[0]
        m = rec.mapping.vector()
        hw = low.hardware_vector(SLOW.vector())
        plain = step.simulate(low.vector, hw, m)
        counts, tl = step.simulate_timeline(low.vector, hw, m)
        assert plain.shape == (C_LEN,) and (plain == counts).all()
        assert tl.shape[0] == rec.count("tiles") + 1


def test_a_window_clips_the_spans():
    net = load_network("sqnxt23v5")
    whole = layer_timeline(net, SLOW, "s4b1_sq1")
    part = layer_timeline(net, SLOW, "s4b1_sq1", window=(1000, 5000))
    assert part.window == (1000, 5000)
    assert all(1000 <= s.start and s.end <= 5000 for s in part.spans)
    array = [s for s in part.spans if s.track == ARRAY]
    assert sum(s.cycles for s in array) == 4000  # the window, busy or stalled, no gap
    def key(s):
        return s.track, s.name, s.start, s.end

    inside = [key(s) for s in whole.spans if s.start >= 1000 and s.end <= 5000]
    assert set(inside) <= {key(s) for s in part.spans}
    to_end = layer_timeline(net, SLOW, "s4b1_sq1", window=(1000, -1))
    assert to_end.window == (1000, whole.cycles)
    with pytest.raises(NnaccelError, match="starts after the layer's last cycle"):
        layer_timeline(net, SLOW, "s4b1_sq1", window=(whole.cycles, -1))


@pytest.mark.parametrize("text", ["5", "5:3", "a:b", "-1:4", "3:3", ""])
def test_bad_windows(text):
    with pytest.raises(NnaccelError, match="--cycles"):
        parse_window(text)


def test_windows():
    assert parse_window("0:5000") == (0, 5000)
    assert parse_window(":10") == (0, 10)
    assert parse_window("7:") == (7, -1)
    assert parse_window("1_000:2_000") == (1000, 2000)


def test_chrome_trace_has_a_named_track_per_unit():
    tl = layer_timeline(load_network("sqnxt23v5"), SLOW, "s3b2_add")
    doc = chrome_trace(tl)
    events = doc["traceEvents"]
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert names == {"array", "partial-sum drains", "DMA 1", "DMA 2", "output path",
                     "buffer read port", "buffer write port"}
    spans = [e for e in events if e["ph"] == "X"]
    assert len(spans) == len(tl.spans)
    assert all(isinstance(e["ts"], int) and e["dur"] >= 0 for e in spans)
    assert doc["otherData"]["cycles"] == tl.cycles
    assert doc["otherData"]["traced_operation"] == "s3b2_exp"
    assert {e["ph"] for e in events} == {"M", "X", "C"}


def _cli(*args):
    return CliRunner().invoke(main, ["trace", *args])


def test_cli_writes_json_gz_and_png(tmp_path):
    js, gz, png = tmp_path / "t.json", tmp_path / "t.json.gz", tmp_path / "t.png"
    r = _cli("sqnxt23v5", "--layer", "s4b1_sq2", "--array", "8x8", "-o", str(js), "-o", str(gz),
             "-o", str(png))
    assert r.exit_code == 0, r.output
    doc = json.loads(js.read_text())
    assert json.loads(gzip.decompress(gz.read_bytes())) == doc
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert f"wrote {js}" in r.output and "cycles" in r.output
    r = _cli("sqnxt23v5", "--layer", "s4b1_sq2", "--cycles", "100:900", "-o", str(js))
    assert r.exit_code == 0, r.output
    xs = [e for e in json.loads(js.read_text())["traceEvents"] if e["ph"] == "X"]
    assert xs and all(100 <= e["ts"] and e["ts"] + e["dur"] <= 900 for e in xs)


def test_gantt_is_readable():
    from nnaccel.traceplot import plot_timeline

    net = load_network("sqnxt23v5")
    for window in (None, (0, 3000)):
        fig = plot_timeline(layer_timeline(net, SLOW, "s3b2_add", window=window))
        assert problems(fig) == []
        fig.canvas.draw()
        sizes = {t.get_fontsize() for t in fig.findobj(lambda a: hasattr(a, "get_fontsize"))
                 if getattr(t, "get_text", lambda: "")()}
        assert min(sizes) >= 8
        assert fig.axes[-1].get_xlabel() == "cycle"


@pytest.mark.parametrize("args,message", [
    (["--layer", "conv_1"], "did you mean 'conv1'"),
    (["--layer", "s4b1_sq"], "did you mean"),
    (["--layer", "conv1", "--cycles", "9:3"], "--cycles '9:3'"),
    (["--layer", "conv1", "--cycles", "99999999:"], "starts after the layer's last cycle"),
    (["--layer", "conv1", "--config", "paper-8x8", "--config", "paper-16x16"],
     "one configuration"),
])
def test_cli_bad_input_is_one_line_and_no_file(tmp_path, args, message):
    out = tmp_path / "t.json"
    r = _cli("sqnxt23v5", *args, "-o", str(out))
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_cli_checks_outputs_first(tmp_path):
    r = _cli("sqnxt23v5", "--layer", "conv1", "-o", str(tmp_path / "no" / "t.json"))
    assert r.exit_code == 2 and "does not exist" in r.output
    r = _cli("sqnxt23v5", "--layer", "conv1", "-o", str(tmp_path / "t.txt"))
    assert r.exit_code == 2 and ".json" in r.output
    r = _cli("sqnxt23v5", "--layer", "conv1")
    assert r.exit_code == 2 and "-o" in r.output
    assert list(tmp_path.iterdir()) == []


def test_cli_concat_has_nothing_to_trace(tmp_path):
    r = _cli("squeezenet-v1.1", "--layer", "fire9_concat", "-o", str(tmp_path / "t.json"))
    assert r.exit_code == 2 and "nothing to trace" in r.output
    assert list(tmp_path.iterdir()) == []
