"""What binds where (docs/model.md §14): per kind of layer, the cycles each resource costs.

For one configuration, runs Table 3's networks as `nnaccel run` does, then again with one
resource made (practically) unlimited at a time — the buffer's read port, its write port, the
array's input bus, the output path's lanes, the DRAM latency (0) and the DRAM bandwidth — and
once with all of them. A layer's cycles that drop when one resource widens are cycles that
resource costs; a layer is attributed to the resource whose widening saves the most, if that
is at least 5% of its cycles, to "several at once" if only widening all of them together
does, and to the array otherwise. The tiler maps every run afresh, so a widened resource may
also change a mapping; that is part of what the resource costs.

    PYTHONPATH=$PWD python benchmarks/what_binds.py paper-8x8 [NETWORK ...]
"""

from __future__ import annotations

import sys
from collections import defaultdict

from nnaccel.hardware import preset
from nnaccel.network import Layer
from nnaccel.paper import table3_networks
from nnaccel.simulate import simulate

#: Widths far above any that binds (the ports' and lanes' limit, docs/model.md "Limits").
UNLIMITED = 2**16
#: Least share of a layer's cycles a widening must save for the layer to count as bound by it.
SHARE = 0.05


def kind(layer: Layer) -> str:
    """conv 1x1, conv KxK, conv dw (depthwise), or the layer's type."""
    if layer.type != "conv":
        return layer.type
    if layer.groups > 1 and layer.groups == layer.input_shapes[0][0]:
        return "conv dw"
    return "conv 1x1" if layer.kernel == (1, 1) else "conv KxK"


def main(config: str, names: list[str]) -> None:
    base = preset(config)
    wide = {
        "read port": {"buffer_read_port_words": UNLIMITED},
        "write port": {"buffer_write_port_words": UNLIMITED},
        "input bus": {"buffer_port_words": UNLIMITED},
        "output ALU": {"output_alu_ops_per_cycle": UNLIMITED},
        "DRAM latency": {"dram_latency_cycles": 0},
        "DRAM bandwidth": {"dram_bandwidth_bytes_per_s": base.clock_hz * 2**20},
    }
    every = {k: v for change in wide.values() for k, v in change.items()}
    nets = [n for n in table3_networks() if not names or n.name in names]
    cycles: dict[str, int] = defaultdict(int)
    saved: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    bound: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for net in nets:
        runs = {res: simulate(net, base.with_(**change)) for res, change in wide.items()}
        runs["all at once"] = simulate(net, base.with_(**every))
        for i, r in enumerate(simulate(net, base).layers):
            if not r.cycles:
                continue  # fused or moves nothing
            k = kind(r.layer)
            cycles[k] += r.cycles
            drops = {res: r.cycles - run.layers[i].cycles for res, run in runs.items()}
            for res, d in drops.items():
                saved[k][res] += max(d, 0)
            single = max(wide, key=lambda res: drops[res])
            if drops[single] >= SHARE * r.cycles:
                bound[k][single] += r.cycles
            elif drops["all at once"] >= SHARE * r.cycles:
                bound[k]["several at once"] += r.cycles
            else:
                bound[k]["array"] += r.cycles
    print(f"{config}: {', '.join(n.name for n in nets)}")
    heads = [*wide, "all at once"]
    print("| layer kind | cycles | " + " | ".join(f"saved: {h}" for h in heads)
          + " | bound by (share of cycles) |")
    print("|---|---:|" + "---:|" * len(heads) + "---|")
    for k in sorted(cycles, key=lambda k: -cycles[k]):
        shares = ", ".join(f"{res} {100 * c / cycles[k]:.0f}%"
                           for res, c in sorted(bound[k].items(), key=lambda x: -x[1]))
        print(f"| {k} | {cycles[k]:,} | "
              + " | ".join(f"{100 * saved[k][h] / cycles[k]:.1f}%" for h in heads)
              + f" | {shares} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
