"""The sizes nnaccel accepts, and why: every count the engines compute fits in an int64.

The engines count in int64 (numba) and weigh the counts with float64 energies. Rather than
guard every product inside them, the loader (`netformat`) and the hardware description
(`hardware`) reject anything outside the ranges below, with one line naming the file, the
layer, the field and the limit. docs/network-format.md and docs/model.md ("Limits") give the
same table for people; `nnaccel/network.schema.json` carries the per-value ones.

The argument, in short: every count of a layer (MACs, DRAM bytes, buffer accesses, tiles,
DMA requests) is at most a small multiple of its *work* (`layer_work`): each operand is
fetched at most once per tile of the loops it does not depend on, and there are at most as
many tiles as loop iterations. Work is capped at 2**40; bytes per element at 16 (a partial
sum); DMA requests per tile at a handful, each costing at most the DRAM latency (2**16) plus
its bytes over the bandwidth; a tile's pipeline fill at most Pr + Pc (2**13). So the largest
count, the stall cycles, stays below about 2**40 · 2**4 · 2**16 = 2**60 < 2**63. Energies of
at most 10**9 per access keep a network's total (at most 2**20 layers) and energy × cycles
far below float64's 1.8e308.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Any one size of a shape: channels, height, width (and so kernel, stride, padding, groups,
#: which the shape rules keep below the sizes they apply to). 2**30 > 10**9.
MAX_DIM = 2**30
#: A layer's work (`layer_work`): the loop iterations every count of the layer is bounded by.
#: 2**40 ~ 1.1e12, about 600 times VGG-19's largest layer (1.85e9).
MAX_WORK = 2**40
#: Layers in one network file: with the per-layer bound, network totals stay exact in int64.
MAX_LAYERS = 2**20
#: A network file's size in bytes: the loader holds the text and its parse in memory.
MAX_FILE_BYTES = 2**30
#: Characters of a name, source or note.
MAX_TEXT = 10_000
#: The paper figures a file may carry (params_m, macs_m, accuracies, Table 3's ratios).
MAX_PAPER_NUMBER = 1e12

# -- hardware --------------------------------------------------------------------------------
#: (low, high) of every integer hardware field, inclusive.
HW_INT_RANGES: dict[str, tuple[int, int]] = {
    "Pr": (1, 2**12),  # 4096 rows: a pipeline fill (Pr + Pc) per tile stays below 2**13
    "Pc": (1, 2**12),
    "buffer_bytes": (1, 2**40),  # 1 TiB, far above any on-chip buffer
    "word_bytes": (1, 8),  # up to 64-bit activations and weights
    "psum_bytes": (1, 16),  # up to 128-bit partial sums
    "dram_latency_cycles": (0, 2**16),  # 65,536 cycles (65 µs at 1 GHz); the paper's is 100
    "buffer_port_words": (0, 2**16),
    "buffer_banks": (0, 2**12),  # SRAM banks of the buffer (0: Pc); at most one per column's worth
    "buffer_bank_bits": (1, 2**12),  # a bank's port width, bits: up to 4,096
    "buffer_read_port_words": (0, 2**16),  # the buffer's array-side ports, words a cycle
    "buffer_write_port_words": (0, 2**16),
    "output_alu_ops_per_cycle": (0, 2**16),  # the output path's ALUs (fused add, pooling)
    # lane cycles of one exp, divide, rsqrt: a softmax's element costs exp + 4, at most
    # 2**10 + 4 lane cycles, so the output path's work stays a small multiple of the layer's
    "exp_cycles": (1, 2**10),
    "divide_cycles": (1, 2**10),
    "rsqrt_cycles": (1, 2**10),
    "rf_psums": (1, 2**16),
    # DMA requests in flight: the engines keep one entry per request (and per checkpoint)
    "dma_outstanding": (1, 2**10),
    # images of a batch: simulate() adds them up in Python integers, never in int64
    "batch": (1, 2**20),
}
#: Clock: 1 kHz to 1 THz. Only time in seconds and the bytes per cycle derive from it.
CLOCK_HZ = (1e3, 1e12)
#: DRAM bandwidth over the clock: whole bytes per cycle, 1 to 2**20.
DRAM_BYTES_PER_CYCLE = (1, 2**20)
#: Weight sparsity: the density 1 - s is held as a fraction with a denominator of at most
#: 10**6 (so both engines round alike), so s must leave a density of at least 10**-6.
MAX_SPARSITY = 1 - 1e-6
#: Energy of one access at any level (in MAC units or pJ).
MAX_ENERGY = 1e9

# -- ONNX import (docs/network-format.md, "Limits") ----------------------------------------
# The importer never runs the model, but it folds the nodes whose inputs are all constants
# (the shape and mask subgraphs exporters write). These bound that work, so that a small file
# cannot ask for gigabytes or hours: a causal mask of 4,096 tokens is 2**24 elements.
#: Elements of one folded tensor (2**24: 128 MiB at 8 bytes an element).
MAX_FOLD_ELEMENTS = 2**24
#: Elements of all folded tensors together, which the import holds until it ends.
MAX_FOLD_TOTAL = 2**26
#: Multiply-adds of one folded MatMul or Gemm (rotary angles are an outer product).
MAX_FOLD_WORK = 2**28
#: Seconds spent folding, all nodes together.
MAX_FOLD_SECONDS = 10.0
#: Any operator folds when its inputs and outputs have at most this many elements together;
#: larger ones only if they take time in proportion to their size (`onnxio/fold.py`).
SMALL_FOLD = 2**16


def conv_work(cout: int, cin_per_group: int, in_hw: tuple[int, int], kernel: tuple[int, int],
              padding: tuple[int, int], out_hw: tuple[int, int]) -> int:
    """Work of a conv (or, with cout = channels and cin_per_group = 1, a pooling window):
    output channels × input channels per group × the larger of the padded input plane and
    the kernel positions of the output plane (whichever the tiles sweep more of)."""
    padded = (in_hw[0] + 2 * padding[0]) * (in_hw[1] + 2 * padding[1])
    swept = kernel[0] * kernel[1] * out_hw[0] * out_hw[1]
    return cout * cin_per_group * max(padded, swept)


def elements(shapes: Sequence[Sequence[int]]) -> int:
    """Elements of all the given (C, H, W) shapes together."""
    return sum(math.prod(s) for s in shapes)
