"""One layer's timeline from the step engine (docs/model.md §13): what each unit does when.

The step engine records, when asked, per tile and per DMA request (never per cycle, so a
trace grows with the tiles, not the cycles): when the tile's compute starts and ends, when
each request is issued, moves its first byte and ends, the output path's work at a store,
the stall cycles before each tile by what the DMA's oldest request did in them, and the words
the array moved through the buffer's ports. `layer_timeline` turns that into spans on
tracks; `chrome_trace` writes them as Chrome trace-event JSON (Perfetto, chrome://tracing).
Nothing here computes a cycle: every span's ends are cycles the engine recorded.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .engines import layout as L
from .errors import NnaccelError
from .hardware import Hardware
from .lowering import batch_vector, lower_network
from .network import Network
from .simulate import BATCHED, Mapping, later_image, simulate

#: Tracks, top to bottom. DMA requests in flight at once get a track each ("DMA 2", ...).
ARRAY = "array"
DMA = "DMA"
OUTPUT_PATH = "output path"
DRAINS = "partial-sum drains"
READ_PORT = "buffer read port"
WRITE_PORT = "buffer write port"

#: Span categories (Chrome's `cat`); the figure colours by them.
COMPUTE = "compute"
STALL = "stall"
LATENCY = "latency"
QUEUED = "queued"
READ = "dma read"
WRITE = "dma write"
OUTPUT = "output path"
DRAIN = "drain"


@dataclass(frozen=True)
class Span:
    """[start, end) in cycles on a track; `args` say what it did (words, bytes, cycles)."""

    track: str
    name: str
    cat: str
    start: int
    end: int
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def cycles(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Counter:
    """A port's average words per cycle over [start, end) (one tile's compute)."""

    track: str
    start: int
    end: int
    value: float


@dataclass(frozen=True)
class Timeline:
    """A layer's spans, with what `run` reports for it (`counts`, in layout.COUNT_NAMES order,
    and `stall_bandwidth_cycles`: the stall the same mapping has with no DRAM latency)."""

    network: str
    layer: str  # the layer asked for
    traced: str  # the layer whose operation ran it (a fused layer's conv)
    hardware: Hardware
    mapping: Mapping
    counts: tuple[int, ...]
    stall_bandwidth_cycles: int
    tracks: tuple[str, ...]
    spans: tuple[Span, ...]
    counters: tuple[Counter, ...]
    window: tuple[int, int] | None = None
    #: the layer's stall cycles (all of them, whatever the window) by what the DMA's oldest
    #: request did in them: 'latency', 'transfer', 'output_path'
    stall_causes: dict[str, int] = field(default_factory=dict)

    def count(self, name: str) -> int:
        return self.counts[L.COUNT_NAMES.index(name)]

    @property
    def cycles(self) -> int:
        return self.count("cycles")


def find_layer(network: Network, name: str) -> int:
    """The index of layer `name`, or an error that names the closest names."""
    names = [layer.name for layer in network.layers]
    if name in names:
        return names.index(name)
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else (
        f"; its layers are {', '.join(names[:6])}{', ...' if len(names) > 6 else ''}"
        " (`nnaccel info` lists them)")
    raise NnaccelError(f"--layer {name!r}: {network.name} has no such layer{hint}")


def parse_window(text: str | None) -> tuple[int, int] | None:
    """'A:B' as cycles [A, B); 'A:' from A to the end, ':B' from 0 (None: the whole layer)."""
    if text is None:
        return None
    a, sep, b = text.partition(":")
    try:
        lo = int(a.replace("_", "")) if a.strip() else 0
        hi = int(b.replace("_", "")) if b.strip() else -1
    except ValueError:
        lo = hi = None
    if not sep or lo is None or lo < 0 or (hi != -1 and hi <= lo):
        raise NnaccelError(f"--cycles {text!r}: give a window A:B of cycles with 0 <= A < B"
                           " (e.g. 0:5000; A: or :B leave one end open)")
    return lo, hi


def layer_timeline(network: Network, hardware: Hardware, layer: str, dataflow: str = "auto",
                   objective: str = "cycles", window: tuple[int, int] | None = None) -> Timeline:
    """The timeline of `layer` as `run --engine step` runs it: the tiler's mapping, every
    image of the batch one after another (docs/model.md §5, "Batch")."""
    from .engines import step  # the slow engine is loaded only when asked for

    index = find_layer(network, layer)
    lowered = lower_network(network, hardware)
    low = lowered[index]
    if low.fused_into is not None:
        traced = low.fused_into
        low = next(x for x in lowered if x.layer.name == traced)
    else:
        traced = layer
    if low.vector is None:
        raise NnaccelError(f"--layer {layer!r}: a {low.layer.type} layer runs nothing of its own"
                           " on the accelerator (docs/model.md §1): nothing to trace")
    # The tiler's choice for this layer, as `run` makes it (the fast engine searches).
    result = simulate(network, hardware, dataflow=dataflow, objective=objective, lowered=[low])
    record = result.layers[0]
    hw_vec = low.hardware_vector(hardware.vector())
    m_vec = record.mapping.vector()
    batched = record.batch_mode == BATCHED  # the batch as one layer: one run (§5, "Batch")
    if batched:
        low = replace(low, vector=batch_vector(low, hardware.batch))
    counts, first = step.simulate_timeline(low.vector, hw_vec, m_vec)
    no_latency = hw_vec.copy()
    no_latency[L.H_LAT] = 0
    stall_bw = int(step.simulate(low.vector, no_latency, m_vec)[L.C_STALL])
    images = [(0, first, counts)]
    if hardware.batch > 1 and not batched:
        later = later_image(low.vector, m_vec)
        c2, tl2 = step.simulate_timeline(later, hw_vec, m_vec)
        stall_bw += (hardware.batch - 1) * int(step.simulate(later, no_latency, m_vec)[L.C_STALL])
        start = int(counts[L.C_CYCLES])
        for _ in range(1, hardware.batch):
            images.append((start, tl2, c2))
            start += int(c2[L.C_CYCLES])
        counts = counts + (hardware.batch - 1) * c2
    out = int(hw_vec[L.H_OUT])
    is_os = m_vec[L.M_DATAFLOW] == L.DF_OS
    tracks = [ARRAY, *([DRAINS] if is_os else []),
              *([DMA] if out == 1 else [f"{DMA} {i + 1}" for i in range(out)]),
              OUTPUT_PATH, READ_PORT, WRITE_PORT]
    spans: list[Span] = []
    counters: list[Counter] = []
    for image, (offset, tl, c) in enumerate(images):
        _image_spans(tl, c, low.vector, hw_vec, m_vec, offset, image if len(images) > 1 else None,
                     spans, counters)
    total = int(counts[L.C_CYCLES])
    causes = _stall_causes(spans)
    if window is not None:
        lo, hi = window[0], total if window[1] == -1 else window[1]
        if lo >= total:
            raise NnaccelError(f"--cycles {lo}:{'' if window[1] == -1 else window[1]}: the window"
                               f" starts after the layer's last cycle ({total:,} cycles)")
        hi = min(hi, total)
        window = (lo, hi)
        spans = [_clip(s, lo, hi) for s in spans if s.end > lo and s.start < hi]
        counters = [Counter(k.track, max(k.start, lo), min(k.end, hi), k.value)
                    for k in counters if k.end > lo and k.start < hi]
    return Timeline(network.name, layer, traced, hardware, record.mapping,
                    tuple(int(x) for x in counts), stall_bw, tuple(tracks), tuple(spans),
                    tuple(counters), window, causes)


def _stall_causes(spans: list[Span]) -> dict[str, int]:
    """The array's stall cycles by what the DMA's oldest request did in them."""
    stalls = [s for s in spans if s.cat == STALL]
    return {key: sum(s.args[f"{key}_cycles"] for s in stalls)
            for key in ("latency", "transfer", "output_path")}


def _clip(s: Span, lo: int, hi: int) -> Span:
    if s.start >= lo and s.end <= hi:
        return s
    return Span(s.track, s.name, s.cat, max(s.start, lo), min(s.end, hi),
                {**s.args, "clipped_from": [s.start, s.end]})


def _tile_indices(layer: np.ndarray, m_vec: np.ndarray, t: int) -> dict[str, int]:
    """Tile t's index in each loop (docs/model.md §2: the innermost loop of the order turns
    fastest)."""
    trips = {L.LOOP_X: (layer[L.L_WO], m_vec[L.M_TX]), L.LOOP_Y: (layer[L.L_HO], m_vec[L.M_TY]),
             L.LOOP_C: (layer[L.L_CGI], m_vec[L.M_TC]),
             L.LOOP_K: (layer[L.L_G] * layer[L.L_CGO], m_vec[L.M_TK])}
    out = {}
    stride = 1
    for pos in range(3, -1, -1):
        loop = int(m_vec[L.M_ORDER + pos])
        n = -(-int(trips[loop][0]) // int(trips[loop][1]))
        out[L.LOOP_NAMES[loop]] = (t // stride) % n
        stride *= n
    return out


def _image_spans(tl: np.ndarray, counts: np.ndarray, layer: np.ndarray, hw: np.ndarray,
                 m_vec: np.ndarray, offset: int, image: int | None, spans: list[Span],
                 counters: list[Counter]) -> None:
    from .engines.step import TIMELINE_FIELDS

    f = {name: i for i, name in enumerate(TIMELINE_FIELDS)}
    T = tl.shape[0] - 1
    lat = int(hw[L.H_LAT])
    out = int(hw[L.H_OUT])
    ws = m_vec[L.M_DATAFLOW] == L.DF_WS
    nc = -(-int(layer[L.L_CGI]) // int(m_vec[L.M_TC]))
    tag = "" if image is None else f"image {image}, "
    extra = {} if image is None else {"image": image}

    def dma_track(slot: int) -> str:
        return DMA if out == 1 else f"{DMA} {slot + 1}"

    prev_end = 0
    for t in range(T + 1):
        row = tl[t]
        start = int(row[f["compute_start"]]) if t < T else int(counts[L.C_CYCLES])
        if start > prev_end:  # the array waits: for this tile's load or its output slot
            why = {"latency": int(row[f["stall_latency"]]),
                   "transfer": int(row[f["stall_transfer"]]),
                   "output_path": int(row[f["stall_output_path"]])}
            if t == T:
                name = "stall: last stores"
            elif row[f["load_end"]] > prev_end:
                name = f"stall: load {t}"
            else:
                name = f"stall: slot (store {t - 2})"
            spans.append(Span(ARRAY, f"{tag}{name}", STALL, offset + prev_end, offset + start,
                              {**extra, **{f"{k}_cycles": v for k, v in why.items()}}))
        if t == T:
            break
        end = int(row[f["compute_end"]])
        idx = _tile_indices(layer, m_vec, t)
        busy = end - start
        args = {**extra, "xyck": [idx[k] for k in "xyck"]}
        if ws:
            args["passes"] = int(row[f["ws_passes"]])
            args["weight_load_cycles"] = int(row[f["ws_weight_cycles"]])
        if busy > 0:  # (a tile that takes no cycle has no port use to show)
            args["read_port_words"] = int(row[f["port_read_words"]])
            args["write_port_words"] = int(row[f["port_write_words"]])
        drains = int(row[f["drains"]])
        if not ws:
            args["drain_wait_cycles"] = int(row[f["drain_wait"]])
        if drains:
            # OS: the chunks' partial sums leave through the write port while the next
            # chunk computes; the tile ends when its last drain does (docs/model.md §4)
            spans.append(Span(DRAINS, f"{tag}drains of tile {t}", DRAIN,
                              offset + int(row[f["drain_start"]]), offset + end,
                              {**extra, "drains": drains,
                               "words": int(row[f["drain_words"]]),
                               "write_port_cycles": int(row[f["drain_cycles"]])}))
        spans.append(Span(ARRAY, f"{tag}tile {t}", COMPUTE, offset + start, offset + end, args))
        if busy > 0:
            for track, col in ((READ_PORT, "port_read_words"), (WRITE_PORT, "port_write_words")):
                counters.append(Counter(track, offset + start, offset + end,
                                        int(row[f[col]]) / busy))
        prev_end = end
        for kind in ("load", "store"):
            nbytes = int(row[f[f"{kind}_bytes"]])
            if nbytes == 0:
                continue
            issue = int(row[f[f"{kind}_issue"]])
            # it moves bytes from when it is the oldest in flight and its latency is over
            data = max(issue + lat, int(row[f[f"{kind}_head"]]))
            rend = int(row[f[f"{kind}_end"]])
            track = dma_track(int(row[f[f"{kind}_slot"]]))
            what = kind
            if kind == "store":
                what += " (partial sums)" if idx["c"] < nc - 1 else ""
            cat = READ if kind == "load" else WRITE
            if lat > 0:
                spans.append(Span(track, "latency", LATENCY, offset + issue,
                                  offset + issue + lat, extra))
            if data > issue + lat:  # latency over, waiting for the requests before it
                spans.append(Span(track, "queued", QUEUED, offset + issue + lat, offset + data,
                                  extra))
            spans.append(Span(track, f"{tag}{what} {t}", cat, offset + data, offset + rend,
                              {**extra, "bytes": nbytes, "issued": offset + issue}))
            alu = int(row[f["store_alu"]]) if kind == "store" else 0
            if alu > 0:
                # ALU operations a cycle from the store's first byte (docs/model.md §3a)
                alu_cycles = -(-alu // int(hw[L.H_ALU]))
                spans.append(Span(OUTPUT_PATH, f"{tag}output path {t}", OUTPUT, offset + data,
                                  offset + data + alu_cycles,
                                  {**extra, "tile": t, "alu_ops": alu}))


# -- Chrome trace-event JSON ----------------------------------------------------------------

def chrome_trace(tl: Timeline) -> dict[str, Any]:
    """The timeline as Chrome trace events: one thread per track, `X` spans, `C` counters for
    the ports; 1 cycle is shown as 1 µs (the format's unit)."""
    tid = {name: i + 1 for i, name in enumerate(tl.tracks)}
    hw = tl.hardware
    title = (f"{tl.network} / {tl.layer}" + (f" (in {tl.traced})" if tl.traced != tl.layer else "")
             + f" on {hw.name}: {hw.array_label} PEs, {hw.buffer_label}")
    events: list[dict[str, Any]] = [
        {"ph": "M", "pid": 1, "tid": 0, "name": "process_name", "args": {"name": title}}]
    for name, i in tid.items():
        events.append({"ph": "M", "pid": 1, "tid": i, "name": "thread_name",
                       "args": {"name": name}})
        events.append({"ph": "M", "pid": 1, "tid": i, "name": "thread_sort_index",
                       "args": {"sort_index": i}})
    for s in tl.spans:
        e: dict[str, Any] = {"ph": "X", "pid": 1, "tid": tid[s.track], "name": s.name,
                             "cat": s.cat, "ts": s.start, "dur": s.cycles}
        if s.args:
            e["args"] = s.args
        events.append(e)
    # A counter holds its value until the next sample: one sample where the value changes
    # (tiles alike share one), and 0 where the array stops using the port.
    last: dict[str, tuple[int, float]] = {}
    for k in tl.counters:
        end, value = last.get(k.track, (-1, 0.0))
        if end != k.start and end >= 0:
            events.append(_sample(tid[k.track], k.track, end, 0.0))
            value = 0.0
        v = round(k.value, 3)
        if v != value or end != k.start:
            events.append(_sample(tid[k.track], k.track, k.start, v))
        last[k.track] = (k.end, v)
    for track, (end, _) in last.items():
        events.append(_sample(tid[track], track, end, 0.0))
    m = tl.mapping
    return {
        "traceEvents": events,
        "displayTimeUnit": "ns",
        "otherData": {
            "unit": "1 us on the time axis = 1 cycle",
            "network": tl.network, "layer": tl.layer, "traced_operation": tl.traced,
            "hardware": hw.name, "array": hw.array_label, "buffer": hw.buffer_label,
            "mapping": f"{m.dataflow} {m.loop_order} tile x{m.tx} y{m.ty} c{m.tc} k{m.tk}",
            **{name: tl.count(name) for name in ("cycles", "compute_cycles", "stall_cycles",
                                                 "tiles", "dram_read_bytes",
                                                 "dram_write_bytes")},
            "stall_bandwidth_cycles": tl.stall_bandwidth_cycles,
            "stall_latency_cycles": tl.count("stall_cycles") - tl.stall_bandwidth_cycles,
            "stall_cycles_by_dma_state": tl.stall_causes,
            "window": list(tl.window) if tl.window else None,
        },
    }


def _sample(tid: int, track: str, ts: int, value: float) -> dict[str, Any]:
    return {"ph": "C", "pid": 1, "tid": tid, "name": track, "ts": ts,
            "args": {"words/cycle": value}}


def chrome_text(tl: Timeline) -> str:
    """Compact JSON, one event a line (small, and still readable with `grep`)."""
    doc = chrome_trace(tl)
    events = doc.pop("traceEvents")
    return ('{"traceEvents": [\n' + ",\n".join(json.dumps(e, separators=(",", ":"))
                                              for e in events)
            + "\n],\n" + json.dumps(doc, indent=1)[1:].lstrip() + "\n")


def write_chrome(tl: Timeline, f: Any, gz: bool = False) -> None:
    """Write to the binary file `f`; gzip-compressed with `gz` (Perfetto opens .json.gz)."""
    data = chrome_text(tl).encode()
    if gz:
        import gzip

        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as z:  # no date: reproducible
            z.write(data)
    else:
        f.write(data)
