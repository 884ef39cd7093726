"""The plain-number interface shared by the two engines (docs/model.md, "Engine interface").

The engines see int64 arrays, never objects: a *layer* vector, a *hardware* vector, a
*mapping* vector (or a 2-D array of them, one row per candidate) and they return a *counts*
vector per mapping. This module only names the slots; it holds no arithmetic, so the
``step`` and ``fast`` engines share the description of a mapping and nothing else.

Every slot is declared once, here, by one ``add`` line: its index follows from the order of the
lines, and the tables built from them (``LAYER_SLOTS``, ``HARDWARE_SLOTS``, ``COUNT_SLOTS``) are
what ``Hardware.vector``, the count names and the tests" hypothesis strategies are derived from.
A new field is that one line plus its physics in the engines. New slots go at the end of their
vector, so the numbers of the existing ones never move.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    """One slot of a vector.

    ``name`` is the slot's meaning in words a reader can look up: for a hardware slot the
    ``Hardware`` attribute (a dotted path) it is read from, for a count slot its column name.
    ``test`` lists the values the tests" hypothesis strategies draw for a hardware slot (a
    ``range`` or a tuple of choices, the first one the plain value hand-worked tests use);
    ``None`` where the strategy derives the value from other slots.
    """

    index: int
    name: str
    doc: str
    test: range | tuple[int, ...] | None = None


class _Declaring:
    """Collects one vector's slots while this module is imported; ``slots`` freezes them."""

    def __init__(self) -> None:
        self._slots: list[Slot] = []

    def add(self, name: str, doc: str, test: range | tuple[int, ...] | None = None) -> int:
        self._slots.append(Slot(len(self._slots), name, doc, test))
        return len(self._slots) - 1

    @property
    def slots(self) -> tuple[Slot, ...]:
        return tuple(self._slots)


# --- layer vector -------------------------------------------------------------------------
_layer = _Declaring()
# An operation of the array: a (grouped) convolution, or a weightless window operation
# (pooling, element-wise add) run the same way. FC is a 1x1 convolution on a 1x1 map.
L_KIND = _layer.add("kind", "KIND_CONV or KIND_WINDOW")
L_G = _layer.add("g", "groups")
L_CGI = _layer.add("cgi", "input channels per group (Ci / G)")
L_CGO = _layer.add("cgo", "output channels per group (Co / G)")
L_H = _layer.add("h", "input height (unpadded)")
L_W = _layer.add("w", "input width (unpadded)")
L_KH = _layer.add("kh", "kernel height (its whole span when dilated)")
L_KW = _layer.add("kw", "kernel width")
L_SH = _layer.add("sh", "vertical stride")
L_SW = _layer.add("sw", "horizontal stride")
L_PH = _layer.add("ph", "padding before the first row")
L_PW = _layer.add("pw", "padding before the first column")
L_HO = _layer.add("ho", "output height")
L_WO = _layer.add("wo", "output width")
# Post-operations fused into the output path of a conv (docs/model.md §3a).
L_RES = _layer.add("res", "extra operands added element-wise to the final output (0: none)")
L_PKH = _layer.add("pkh", "fused pooling kernel height (0: no pooling)")
L_PKW = _layer.add("pkw", "fused pooling kernel width")
L_PSH = _layer.add("psh", "fused pooling vertical stride")
L_PSW = _layer.add("psw", "fused pooling horizontal stride")
L_PPH = _layer.add("pph", "fused pooling padding, top")
L_PPW = _layer.add("ppw", "fused pooling padding, left")
L_PHO = _layer.add("pho", "pooled output height")
L_PWO = _layer.add("pwo", "pooled output width")
# Run state (docs/model.md §5, "Batch"): the first tile's weights are already in the buffer,
# left there by the previous image of a batch (0: they are fetched).
L_WRES = _layer.add("wres", "1: the first tile's weights are already in the buffer")
# The output path's work of the transformer's kinds (docs/model.md §1b, §3a): lane cycles of
# exp, divide, rsqrt and the adds and compares around them, done as a final tile is stored.
L_VE = _layer.add("ve", "output-path lane cycles per output element (0: none)")
L_VR = _layer.add("vr", "output-path lane cycles per output pixel of a final tile: a row's "
                        "reciprocal or rsqrt (0: none)")
# An upsample (docs/model.md §1a) runs on its output grid, but its DMA fetches the source
# values its outputs read, each once a tile: the rows (columns) a tile's output rows read are
# those of the source grid, `size / factor` of them.
L_UH = _layer.add("uh", "upsample factor along rows: output rows per source row (0: none)")
L_UW = _layer.add("uw", "upsample factor along columns")
L_UN = _layer.add("un", "source values an upsample output reads along each axis: 1 (nearest) "
                        "or 2 (linear)")
LAYER_SLOTS = _layer.slots
L_LEN = len(LAYER_SLOTS)

KIND_CONV = 0  # weights from DRAM, MACs, zero weights skippable in OS
KIND_WINDOW = 1  # no weights: every window element is one ALU op (pooling, add)

# --- hardware vector ----------------------------------------------------------------------
# name: the Hardware attribute Hardware.vector reads; test: what the strategies draw.
_hardware = _Declaring()
H_PR = _hardware.add("Pr", "PE rows", range(1, 17))
H_PC = _hardware.add("Pc", "PE columns", range(1, 17))
H_PORT = _hardware.add(
    "port_words",
    "the array's input bus, words per cycle (weight loads in WS, windows in OS)",
    range(1, 17),
)
H_RF_PSUMS = _hardware.add(
    "rf_psums", "partial sums one PE holds in OS (output channels per chunk)", range(1, 9)
)
H_WORD = _hardware.add("word_bytes", "bytes of an activation or weight (2: 16-bit)", (2, 2, 1))
H_PSUM = _hardware.add(
    "psum_bytes", "bytes of a partial sum in the buffer and when spilled to DRAM", (2, 4)
)
H_LAT = _hardware.add("dram_latency_cycles", "DRAM latency, cycles per transfer", range(0, 121))
H_BW = _hardware.add("dram_bytes_per_cycle", "DRAM bandwidth, bytes per cycle", range(1, 33))
H_DNUM = _hardware.add("density.numerator", "weight density (1 - sparsity) = DNUM / DDEN, exact")
H_DDEN = _hardware.add("density.denominator", "its denominator")
H_BUF = _hardware.add("buffer_bytes", "global buffer capacity, bytes")
H_OUT = _hardware.add(
    "dma_outstanding",
    "DMA requests that may be in flight at once (their latencies overlap)",
    (1, 1, 2, 3, 8),
)
H_RD = _hardware.add(
    "read_port_words",
    "the buffer's read port on the array side, words per cycle (a partial sum: PSUM/WORD)",
)
H_WR = _hardware.add("write_port_words", "its write port on the array side, words per cycle")
H_ALU = _hardware.add(
    "output_alu_ops", "ALU operations the output path does per cycle (fused add and pooling, §3a)"
)
HARDWARE_SLOTS = _hardware.slots
H_LEN = len(HARDWARE_SLOTS)

# --- mapping vector -----------------------------------------------------------------------
M_DATAFLOW = 0  # DF_WS or DF_OS
M_ORDER = 1  # M_ORDER..M_ORDER+3: tile loops outermost first, each one of LOOP_*
M_TX = 5  # tile sizes: output columns, output rows, input channels per group, output channels
M_TY = 6
M_TC = 7
M_TK = 8
M_LEN = 9

DF_WS = 0
DF_OS = 1

LOOP_X = 0
LOOP_Y = 1
LOOP_C = 2
LOOP_K = 3
LOOP_NAMES = "xyck"

# --- counts vector ------------------------------------------------------------------------
_counts = _Declaring()
C_CYCLES = _counts.add("cycles", "total cycles of the layer")
C_COMPUTE = _counts.add("compute_cycles", "cycles the array is busy (sum of tile compute times)")
C_STALL = _counts.add("stall_cycles", "C_CYCLES - C_COMPUTE: the array waits for the DMA")
C_OPS = _counts.add(
    "pe_ops", "MACs (or ALU ops) performed by PEs; skipped zero weights are not performed"
)
C_RF = _counts.add("rf_accesses", "register-file accesses, 16-bit")
C_ARRAY = _counts.add("array_transfers", "PE-to-PE / bus transfers inside the array, 16-bit")
C_BUF_RD = _counts.add(
    "buffer_reads", "global buffer reads, 16-bit words (array side and DMA side)"
)
C_BUF_WR = _counts.add(
    "buffer_writes", "global buffer writes, 16-bit words (array side and DMA side)"
)
C_DRAM_RD = _counts.add("dram_read_bytes", "bytes read from DRAM")
C_DRAM_WR = _counts.add("dram_write_bytes", "bytes written to DRAM")
C_TILES = _counts.add("tiles", "number of tiles executed")
C_ALU = _counts.add("alu_ops", "ALU operations of the output path (fused add and pooling, §3a)")
COUNT_SLOTS = _counts.slots
C_LEN = len(COUNT_SLOTS)


#: The counts' column names, in slot order.
COUNT_NAMES = tuple(s.name for s in COUNT_SLOTS)

del _layer, _hardware, _counts  # declaring is over: only the frozen tables remain
