"""The hardware description: PE array, global buffer, DRAM, sparsity and the energy table.

Paper §3 ("Hardware Simulation Setup") fixes the array (8x8 or 16x16 PEs), the buffer (32KB or
128KB), 16-bit MACs, DRAM latency (100 cycles) and effective bandwidth (16 GB/s) and the 40%
weight sparsity. Everything else the paper leaves open is a field here with the default chosen
in docs/model.md ("Constants"). A `Hardware` is validated once, at construction.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from fractions import Fraction
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np

from . import limits
from .assumptions import DEFAULT_SPARSITY
from .engines import layout
from .errors import HardwareError, did_you_mean
from .paths import file_problem
from .sparsity import density

KIB = 1024
# The paper's "32KB" means 32·1024 bytes; KB, KiB and K are all binary here, and so are MB/MiB.
_SIZE_UNITS = {
    "": 1, "B": 1,
    "K": KIB, "KB": KIB, "KIB": KIB,
    "M": KIB**2, "MB": KIB**2, "MIB": KIB**2,
    "G": KIB**3, "GB": KIB**3, "GIB": KIB**3,
}


@dataclass(frozen=True)
class EnergyTable:
    """Energy of one 16-bit access per level (docs/design.md §2: Eyeriss' normalized costs).

    `unit` is what the numbers are in: "mac" (multiples of one MAC, as the paper's Table 3) or "pJ".
    """

    mac: float = 1.0
    rf: float = 1.0
    array: float = 2.0
    buffer: float = 6.0
    dram: float = 200.0
    unit: str = "mac"

    def __post_init__(self) -> None:
        for f in ("mac", "rf", "array", "buffer", "dram"):
            v = getattr(self, f)
            if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                    or not 0 <= v <= limits.MAX_ENERGY):
                raise HardwareError(f"energy.{f} must be a number from 0 to {limits.MAX_ENERGY:g}"
                                    f" (docs/model.md, 'Limits'), got {v!r}")
        if self.unit not in ("mac", "pJ"):
            raise HardwareError(f"energy.unit must be 'mac' or 'pJ', got {self.unit!r}")


@dataclass(frozen=True)
class AreaTable:
    """Silicon area of the parts, in one technology node (docs/model.md §12).

    Defaults: TSMC 45 nm, from one source, EIE (Han et al., ISCA 2016, Table II: one PE's area
    by module): `mac_um2` a 16-bit multiply-accumulate unit, `sram_um2_per_kb` the large SRAMs'
    area per KB, `rf_um2_per_byte` the smallest memory's (2KB of register file) per byte.
    `leakage_per_mm2_cycle` is static energy per mm² per clock cycle in the energy table's unit;
    EIE gives no leakage figure, so it is 0 unless set. `sram_port_factor`: the area an SRAM
    gains per port beyond its first, as a fraction of the single-ported array (Dhakad and
    Vishvakarma, "Configurable Multi-Port Memory Architecture for High-Speed Data
    Communication", arXiv:2407.20628, 2024: a dual-port 8T SRAM takes 1.3x and a quad-port
    12T 2x the area of their single-array design, about 1/3 more per added port).
    `sram_port_bit_cells`: the column periphery (sense amplifier or write driver, precharge,
    column multiplexer, I/O latch) that one bit of one port's width adds, in bit cells of
    the same SRAM (IHP's open 130 nm SRAM macros, docs/model.md §12: 163).
    """

    mac_um2: float = 3110.0
    mac_bits: int = 16  # the word width `mac_um2` is for; a multiplier grows with its square
    rf_um2_per_byte: float = 18934.0 / 2048
    sram_um2_per_kb: float = 594786.0 / 162
    leakage_per_mm2_cycle: float = 0.0
    sram_port_factor: float = 1.0 / 3
    sram_port_bit_cells: float = 163.0

    def __post_init__(self) -> None:
        for f in ("mac_um2", "rf_um2_per_byte", "sram_um2_per_kb", "leakage_per_mm2_cycle",
                  "sram_port_factor", "sram_port_bit_cells"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise HardwareError(f"area.{f} must be a non-negative number, got {v!r}")
        _int_in("area.mac_bits", self.mac_bits, 1, 128)


@dataclass(frozen=True)
class Hardware:
    """One accelerator configuration (paper §3, Figure 5). Sizes in bytes, times in cycles."""

    Pr: int = 8
    Pc: int = 8
    buffer_bytes: int = 32 * KIB
    word_bytes: int = 2
    psum_bytes: int = 4
    clock_hz: float = 1e9
    dram_latency_cycles: int = 100
    dram_bandwidth_bytes_per_s: float = 16e9
    sparsity: float = DEFAULT_SPARSITY  # the paper's figure (§3)
    buffer_port_words: int = 0  # the array's input bus; 0: one word per PE column (Pc)
    buffer_banks: int = 0  # SRAM banks of the global buffer; 0: one per PE column (Pc)
    buffer_bank_bits: int = 64  # width of each bank's ports, bits (docs/model.md §9)
    buffer_read_port_words: int = 0  # array-side read port; 0: every bank's width, in words
    buffer_write_port_words: int = 0  # array-side write port; 0: every bank's width, in words
    output_alu_ops_per_cycle: int = 0  # the output path's lanes (add, compare, multiply); 0: Pc
    # Lane cycles of the output path's costly operations (docs/model.md §1b, "Constants")
    exp_cycles: int = 4
    divide_cycles: int = 5
    rsqrt_cycles: int = 7
    rf_psums: int = 16
    dma_outstanding: int = 1  # DMA requests in flight at once (1: the paper's model), see docs/model.md
    batch: int = 1  # images run through each layer one after another (docs/model.md §5, "Batch")
    fuse_pool: bool = True  # pooling after a conv runs in its output path (docs/model.md §3a)
    fuse_add: bool = True  # so does a residual add
    fuse_activation: bool = True  # and an activation after a product (docs/model.md §1b)
    energy: EnergyTable = field(default_factory=EnergyTable)
    name: str = "custom"
    area: AreaTable = field(default_factory=AreaTable)

    def __post_init__(self) -> None:
        for f, (low, high) in limits.HW_INT_RANGES.items():
            _int_in(f, getattr(self, f), low, high)
        for f in ("clock_hz", "dram_bandwidth_bytes_per_s"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or not math.isfinite(v):
                raise HardwareError(f"{f} must be a positive number, got {v!r}")
        low, high = limits.CLOCK_HZ
        if not low <= self.clock_hz <= high:
            raise HardwareError(f"clock_hz must be from {low:g} to {high:g} Hz (docs/model.md,"
                                f" 'Limits'), got {self.clock_hz!r}")
        most = limits.HW_INT_RANGES["buffer_read_port_words"][1]
        derived = not (self.buffer_read_port_words and self.buffer_write_port_words)
        if derived and not 1 <= self.bank_port_words <= most:
            raise HardwareError(
                f"buffer_banks x buffer_bank_bits ({self.banks} x {self.buffer_bank_bits} bits)"
                f" must carry from 1 to {most:,} words of {8 * self.word_bytes} bits a cycle"
                " (docs/model.md, 'Limits')"
            )
        if self.psum_bytes % self.word_bytes:
            raise HardwareError(
                f"psum_bytes ({self.psum_bytes}) must be a multiple of word_bytes ({self.word_bytes})"
            )
        bpc = self.dram_bandwidth_bytes_per_s / self.clock_hz
        low, high = limits.DRAM_BYTES_PER_CYCLE
        if abs(bpc - round(bpc)) > 1e-9 or not low <= round(bpc) <= high:
            raise HardwareError(
                f"DRAM bandwidth {self.dram_bandwidth_bytes_per_s:g} B/s at clock {self.clock_hz:g} Hz"
                f" is {bpc:g} bytes per cycle; it must be a whole number from {low} to {high:,}"
                " (docs/model.md, 'Limits')"
            )
        s = self.sparsity
        if (isinstance(s, bool) or not isinstance(s, (int, float))
                or not 0 <= s <= limits.MAX_SPARSITY):
            raise HardwareError(f"sparsity must be a number from 0 to {limits.MAX_SPARSITY!r}"
                                f" (a density of at least 1e-6, docs/model.md), got {s!r}")
        for f in ("fuse_pool", "fuse_add", "fuse_activation"):
            if not isinstance(getattr(self, f), bool):
                raise HardwareError(f"{f} must be true or false, got {getattr(self, f)!r}")
        if not isinstance(self.energy, EnergyTable):
            raise HardwareError("energy must be an EnergyTable")
        if not isinstance(self.area, AreaTable):
            raise HardwareError("area must be an AreaTable")

    # -- derived quantities -----------------------------------------------------------------
    @property
    def pes(self) -> int:
        return self.Pr * self.Pc

    @property
    def dram_bytes_per_cycle(self) -> int:
        return round(self.dram_bandwidth_bytes_per_s / self.clock_hz)

    @property
    def port_words(self) -> int:
        return self.buffer_port_words or self.Pc

    @property
    def psum_words(self) -> int:
        """Words a partial sum takes through a buffer port."""
        return -(-self.psum_bytes // self.word_bytes)

    @property
    def banks(self) -> int:
        """SRAM banks of the global buffer; default one per PE column (docs/model.md §9)."""
        return self.buffer_banks or self.Pc

    @property
    def bank_port_words(self) -> int:
        """Whole words a cycle through the ports of all banks together: `banks` macros of
        `buffer_bank_bits` each (a word wider than a bank spans banks)."""
        return self.banks * self.buffer_bank_bits // (8 * self.word_bytes)

    @property
    def read_port_words(self) -> int:
        """Default: every bank's read port at once, `banks · bank_bits` bits (the design point
        of docs/model.md §9: Pc banks of 64 bits), in words."""
        return self.buffer_read_port_words or self.bank_port_words

    @property
    def output_alu_ops(self) -> int:
        """Default: one adder/comparator per buffer bank."""
        return self.output_alu_ops_per_cycle or self.banks

    @property
    def write_port_words(self) -> int:
        """Default: every bank's write port at once, as the read port."""
        return self.buffer_write_port_words or self.bank_port_words

    @property
    def density(self) -> Fraction:
        """1 - sparsity as an exact fraction, so both engines round nonzeros identically."""
        return density(self.sparsity)

    @property
    def array_label(self) -> str:
        return f"{self.Pr}x{self.Pc}"

    @property
    def buffer_label(self) -> str:
        return format_size(self.buffer_bytes)

    def vector(self) -> np.ndarray:
        """The int64 hardware vector the engines take: each slot of ``layout.HARDWARE_SLOTS``
        read from the attribute it names."""
        return np.array([attrgetter(slot.name)(self) for slot in layout.HARDWARE_SLOTS],
                        dtype=np.int64)

    def with_(self, **changes: Any) -> Hardware:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["dram_bytes_per_cycle"] = self.dram_bytes_per_cycle
        d["buffer_port_words"] = self.port_words
        d["buffer_read_port_words"] = self.read_port_words
        d["buffer_write_port_words"] = self.write_port_words
        d["buffer_banks"] = self.banks
        d["output_alu_ops_per_cycle"] = self.output_alu_ops
        return d


def check_int_field(name: str, v: Any) -> None:
    """Raise HardwareError unless `v` is in the range limits.py gives the integer field `name`."""
    _int_in(name, v, *limits.HW_INT_RANGES[name])


def _int_in(name: str, v: Any, low: int, high: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        shown = repr(v) if len(repr(v)) <= 30 else repr(v)[:27] + "..."
        raise HardwareError(f"{name} must be a whole number from {low:,} to {high:,}"
                            f" (docs/model.md, 'Limits'), got {shown}")


PRESETS: dict[str, Hardware] = {
    "paper-8x8": Hardware(Pr=8, Pc=8, buffer_bytes=32 * KIB, name="paper-8x8"),
    "paper-16x16": Hardware(Pr=16, Pc=16, buffer_bytes=128 * KIB, name="paper-16x16"),
}


def preset(name: str) -> Hardware:
    try:
        return PRESETS[name]
    except KeyError:
        raise HardwareError(
            f"unknown hardware preset {name!r}; known: {', '.join(PRESETS)}"
            f"{did_you_mean(name, list(PRESETS))}"
        ) from None


def parse_array(text: str) -> tuple[int, int]:
    """'8x8' -> (8, 8): rows x columns, both at least 1."""
    m = re.fullmatch(r"\s*(\d{1,30})\s*[xX×]\s*(\d{1,30})\s*", str(text))
    if not m:
        raise HardwareError(f"array {str(text)[:40]!r} is not ROWSxCOLS, e.g. 8x8 or 16x16")
    r, c = int(m.group(1)), int(m.group(2))
    low, high = limits.HW_INT_RANGES["Pr"]
    if not (low <= r <= high and low <= c <= high):
        raise HardwareError(f"array {text!r}: rows and columns must be from {low} to {high:,}"
                            " (docs/model.md, 'Limits')")
    return r, c


def parse_size(text: str | int) -> int:
    """'32KB', '128KiB', '1MB', '4096' -> bytes. KB means 1024 bytes, as the paper means it."""
    if isinstance(text, int) and not isinstance(text, bool):
        n = text
    else:
        m = re.fullmatch(r"\s*(\d{1,30}(?:\.\d{1,30})?)\s*([A-Za-z]*)\s*", str(text))
        unit = m.group(2).upper() if m else None
        if not m or unit not in _SIZE_UNITS:
            raise HardwareError(
                f"size {str(text)[:40]!r} is not a number with a unit B, KB, KiB, MB, MiB, GB or GiB"
                " (e.g. 32KB; all binary: KB = 1024 bytes)"
            )
        value = Fraction(m.group(1)) * _SIZE_UNITS[unit]
        if value.denominator != 1:
            raise HardwareError(f"size {text!r} is not a whole number of bytes")
        n = int(value)
    low, high = limits.HW_INT_RANGES["buffer_bytes"]
    if not low <= n <= high:
        raise HardwareError(f"size {text!r} must be from {low} byte to {format_size(high)}"
                            " (docs/model.md, 'Limits')")
    return n


def format_size(n: int) -> str:
    for unit, scale in (("GB", KIB**3), ("MB", KIB**2), ("KB", KIB)):
        if n >= scale and n % scale == 0:
            return f"{n // scale}{unit}"
    return f"{n}B"


_TABLES = {"energy": EnergyTable, "area": AreaTable}
_TOML_SCALARS = {f.name for f in fields(Hardware)} - set(_TABLES)
_TOML_ALIASES = {"array": None, "buffer": None, "preset": None}


#: Nesting of a TOML file's tables and arrays: a hardware or sweep file needs three.
MAX_TOML_DEPTH = 32
#: TOML's integers are 64-bit (the TOML spec); Python would take any size.
TOML_INT_RANGE = (-(2**63), 2**63 - 1)
_TOML_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'')
_DOTTED_TOO_DEEP = re.compile(r"(?<![\w-])(?:[\w-]++\s*+\.\s*+){" + str(MAX_TOML_DEPTH) + ",}")


def read_toml(path: Path, what: str, error: type[Exception]) -> dict[str, Any]:
    """The table of a TOML file; `error` naming the file for a missing, unreadable, too large
    or bad one, or one beyond the limits of TOML files (docs/model.md, "Limits": nesting
    `MAX_TOML_DEPTH`, integers of 64 bits)."""
    problem = file_problem(path, limits.MAX_FILE_BYTES)
    if problem is not None:
        raise error(f"{path}: {'no such ' + what if problem == 'no such file' else problem}")
    try:
        text = path.read_text(encoding="utf-8")
        if _DOTTED_TOO_DEEP.search(_TOML_STRING.sub("s", text)):
            # a key dotted thousands deep takes tomllib quadratic time and memory: refuse it
            # before parsing
            raise RecursionError
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{path}: cannot read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise error(f"{path}: not valid TOML: {e}") from None
    except (RecursionError, MemoryError):
        raise error(f"{path}: not a usable TOML file: nested more than {MAX_TOML_DEPTH} deep"
                    " (docs/model.md, 'Limits')") from None
    except ValueError:  # Python's guard against integers of thousands of digits
        raise error(f"{path}: not a usable TOML file: an integer of more than 4,300 digits;"
                    " TOML integers are 64-bit") from None
    bad = _toml_problem(data, 1)
    if bad is not None:
        raise error(f"{path}: {bad} (docs/model.md, 'Limits')")
    return data


def _toml_problem(value: Any, depth: int) -> str | None:
    """What puts a parsed TOML value beyond the limits (too deep, an integer above 64 bits)."""
    if depth > MAX_TOML_DEPTH:
        return f"nested more than {MAX_TOML_DEPTH} deep"
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = TOML_INT_RANGE
        if not low <= value <= high:
            return (f"the integer {str(value)[:20]}... does not fit 64 bits, as every TOML"
                    " integer must")
        return None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:
        bad = _toml_problem(item, depth + 1)
        if bad is not None:
            return bad
    return None


def load_toml(path: str | Path, base: Hardware | None = None) -> Hardware:
    """A hardware description from a TOML file: flat keys named as the fields of `Hardware`, or
    `preset`, `array = "8x8"`, `buffer = "32KB"`, and an `[energy]` table; keys not given
    keep their value in `base` (default: the defaults of `Hardware`)."""
    path = Path(path)
    data = read_toml(path, "hardware file", HardwareError)
    try:
        return from_mapping(data, base)
    except HardwareError as e:
        raise HardwareError(f"{path}: {e}") from None


def from_mapping(data: dict[str, Any], base: Hardware | None = None) -> Hardware:
    unknown = sorted(set(data) - _TOML_SCALARS - set(_TOML_ALIASES) - set(_TABLES))
    if unknown:
        raise HardwareError(
            f"unknown key {_short(unknown[0])}; known keys: "
            + ", ".join(sorted(_TOML_SCALARS | set(_TOML_ALIASES) | set(_TABLES)))
        )
    hw = base or Hardware()
    if "preset" in data:
        hw = preset(_typed("preset", data["preset"], str))
    changes: dict[str, Any] = {}
    if "array" in data:
        changes["Pr"], changes["Pc"] = parse_array(_typed("array", data["array"], str))
    if "buffer" in data:
        b = data["buffer"]
        changes["buffer_bytes"] = parse_size(b if isinstance(b, (str, int)) else repr(b))
    types = {f.name: f.type for f in fields(Hardware)}
    for key in sorted(set(data) & _TOML_SCALARS):
        want = types[key]
        value = data[key]
        if want in ("int",):
            changes[key] = _typed(key, value, int)
        elif want == "bool":
            changes[key] = _typed(key, value, bool)
        elif want in ("float",):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise HardwareError(f"{key} must be a number, got {value!r}")
            changes[key] = value
        else:
            changes[key] = _typed(key, value, str)
    for table in sorted(set(data) & set(_TABLES)):
        e = data[table]
        if not isinstance(e, dict):
            raise HardwareError(f"{table} must be a table, e.g. [energy] with dram = 200")
        known = {f.name for f in fields(_TABLES[table])}
        bad = sorted(set(e) - known)
        if bad:
            raise HardwareError(f"unknown key '{table}.{bad[0]}'; known: {', '.join(sorted(known))}")
        changes[table] = replace(getattr(hw, table), **e)
    return replace(hw, **changes)


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def _typed(key: str, value: Any, want: type) -> Any:
    if (isinstance(value, bool) and want is not bool) or not isinstance(value, want):
        raise HardwareError(f"{key} must be a {want.__name__}, got {value!r}")
    return value
