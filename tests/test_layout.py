"""The engines' slots are declared once (nnaccel/engines/layout.py) and everything else derives
from that declaration: these tests hold the derivations to it."""

from __future__ import annotations

from fractions import Fraction

from nnaccel.engines import layout as L
from nnaccel.hardware import Hardware


def test_slots_are_numbered_in_declaration_order_without_gaps() -> None:
    for table, length in ((L.LAYER_SLOTS, L.L_LEN), (L.HARDWARE_SLOTS, L.H_LEN),
                          (L.COUNT_SLOTS, L.C_LEN)):
        assert [s.index for s in table] == list(range(length))
        assert len({s.name for s in table}) == length  # no slot declared twice


def test_the_module_constants_are_the_declared_slots() -> None:
    by_constant = {k: v for k, v in vars(L).items() if k[:2] in ("L_", "H_", "C_")
                   and not k.endswith("_LEN")}
    declared = {("L_", s.index) for s in L.LAYER_SLOTS} | {("H_", s.index) for s in L.HARDWARE_SLOTS} \
        | {("C_", s.index) for s in L.COUNT_SLOTS}
    assert {(k[:2], v) for k, v in by_constant.items()} == declared


def test_hardware_vector_reads_every_slot_from_its_attribute() -> None:
    hw = Hardware(Pr=4, Pc=6, buffer_bytes=65536, sparsity=0.4, dram_latency_cycles=37,
                  dma_outstanding=3, buffer_read_port_words=5)
    v = hw.vector()
    # By hand from the fields above: density 3/5, 16 B/cycle at the default 16 GB/s and 1 GHz,
    # the write port's default 6 banks (one per column) of 64 bits at 16-bit words = 24 words.
    expected = {L.H_PR: 4, L.H_PC: 6, L.H_BUF: 65536, L.H_DNUM: 3, L.H_DDEN: 5, L.H_LAT: 37,
                L.H_OUT: 3, L.H_RD: 5, L.H_BW: 16, L.H_WR: 24}
    assert {k: int(v[k]) for k in expected} == expected
    assert Fraction(int(v[L.H_DNUM]), int(v[L.H_DDEN])) == hw.density
