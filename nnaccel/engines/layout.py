"""The plain-number interface shared by the two engines (docs/model.md, "Engine interface").

The engines see int64 arrays, never objects: a *layer* vector, a *hardware* vector, a
*mapping* vector (or a 2-D array of them, one row per candidate) and they return a *counts*
vector per mapping. This module only names the slots; it holds no arithmetic, so the
``step`` and ``fast`` engines share the description of a mapping and nothing else.
"""

from __future__ import annotations

# --- layer vector -------------------------------------------------------------------------
# An operation of the array: a (grouped) convolution, or a weightless window operation
# (pooling, element-wise add) run the same way. FC is a 1x1 convolution on a 1x1 map.
L_KIND = 0  # KIND_CONV or KIND_WINDOW
L_G = 1  # groups
L_CGI = 2  # input channels per group (Ci / G)
L_CGO = 3  # output channels per group (Co / G)
L_H = 4  # input height (unpadded)
L_W = 5  # input width (unpadded)
L_KH = 6
L_KW = 7
L_SH = 8
L_SW = 9
L_PH = 10
L_PW = 11
L_HO = 12  # output height
L_WO = 13  # output width
# Post-operations fused into the output path of a conv (docs/model.md §3a).
L_RES = 14  # extra operands added element-wise to the final output (0: none)
L_PKH = 15  # fused pooling kernel (0: no pooling), stride, padding
L_PKW = 16
L_PSH = 17
L_PSW = 18
L_PPH = 19
L_PPW = 20
L_PHO = 21  # pooled output height and width
L_PWO = 22
# Run state (docs/model.md §5, "Batch"): the first tile's weights are already in the buffer,
# left there by the previous image of a batch (0: they are fetched).
L_WRES = 23
L_LEN = 24

KIND_CONV = 0  # weights from DRAM, MACs, zero weights skippable in OS
KIND_WINDOW = 1  # no weights: every window element is one ALU op (pooling, add)

# --- hardware vector ----------------------------------------------------------------------
H_PR = 0  # PE rows
H_PC = 1  # PE columns
H_PORT = 2  # the array's input bus, words per cycle (weight loads in WS, windows in OS)
H_RF_PSUMS = 3  # partial sums one PE holds in OS (output channels per chunk)
H_WORD = 4  # bytes of an activation or weight (2: 16-bit)
H_PSUM = 5  # bytes of a partial sum in the buffer and when spilled to DRAM
H_LAT = 6  # DRAM latency, cycles per transfer
H_BW = 7  # DRAM bandwidth, bytes per cycle
H_DNUM = 8  # weight density (1 - sparsity) = DNUM / DDEN, exact
H_DDEN = 9
H_BUF = 10  # global buffer capacity, bytes
H_OUT = 11  # DMA requests that may be in flight at once (their latencies overlap)
H_RD = 12  # the buffer's read port on the array side, words per cycle (a partial sum: PSUM/WORD)
H_WR = 13  # its write port on the array side, words per cycle
H_ALU = 14  # ALU operations the output path does per cycle (fused add and pooling, §3a)
H_LEN = 15

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
C_CYCLES = 0  # total cycles of the layer
C_COMPUTE = 1  # cycles the array is busy (sum of tile compute times)
C_STALL = 2  # C_CYCLES - C_COMPUTE: the array waits for the DMA
C_OPS = 3  # MACs (or ALU ops) performed by PEs; skipped zero weights are not performed
C_RF = 4  # register-file accesses, 16-bit
C_ARRAY = 5  # PE-to-PE / bus transfers inside the array, 16-bit
C_BUF_RD = 6  # global buffer reads, 16-bit words (array side and DMA side)
C_BUF_WR = 7  # global buffer writes, 16-bit words (array side and DMA side)
C_DRAM_RD = 8  # bytes read from DRAM
C_DRAM_WR = 9  # bytes written to DRAM
C_TILES = 10  # number of tiles executed
C_ALU = 11  # ALU operations of the output path (fused add and pooling, §3a)
C_LEN = 12

COUNT_NAMES = (
    "cycles",
    "compute_cycles",
    "stall_cycles",
    "pe_ops",
    "rf_accesses",
    "array_transfers",
    "buffer_reads",
    "buffer_writes",
    "dram_read_bytes",
    "dram_write_bytes",
    "tiles",
    "alu_ops",
)
