"""SqueezeNext, in the geometry of the official Caffe release (amirgholami/SqueezeNext).

One builder covers every variant of the paper: width multiplier, depth list, conv1 kernel,
block layout (v1: a parallel projection shortcut in each stage's first block; v5: a shared
transition conv instead), grouped convolutions (G-SqNxt) and iterative deep aggregation (IDA).
docs/design.md §8 lists the facts each choice rests on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from nnaccel.network import INPUT, Network
from nnaccel.zoo._builder import NetBuilder
from nnaccel.zoo.paper import paper_figures

#: Stage widths at 1.0x. Only these scale with the width multiplier; the official 2.0 files
#: keep conv1 at 64 channels and the final conv at 128 (docs/design.md §8).
BASE_WIDTHS = (32, 64, 128, 256)
CONV1_CHANNELS = 64
FINAL_CHANNELS = 128
CLASSES = 1000


@dataclass(frozen=True)
class SqnxtSpec:
    """Everything that tells one SqueezeNext apart from another."""

    width: float = 1.0
    depth: tuple[int, ...] = (6, 6, 8, 1)
    conv1_kernel: int = 7
    layout: str = "v1"  # 'v1' (parallel projection) or 'v5' (transition conv)
    groups: int = 1  # >1: G-SqNxt, grouping the first squeeze and both separable convs
    ida: bool = False  # add iterative deep aggregation nodes between stages
    input_size: int = 227

    def __post_init__(self) -> None:
        if len(self.depth) != len(BASE_WIDTHS) or any(
                isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in self.depth):
            raise ValueError(f"depth must list {len(BASE_WIDTHS)} stages of at least one block,"
                             f" got {list(self.depth)}")
        if not self.width > 0 or min(self.widths) < 4:
            raise ValueError(f"width multiplier {self.width} leaves a stage under 4 channels")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        if self.conv1_kernel < 1 or self.conv1_kernel >= self.input_size:
            raise ValueError(f"conv1 kernel {self.conv1_kernel} does not fit a"
                             f" {self.input_size}x{self.input_size} input")
        if self.groups < 1 or any((w // 2) % self.groups or (w // 4) % self.groups
                                  for w in self.widths):
            raise ValueError(f"groups {self.groups} do not divide every stage's squeeze widths"
                             f" {[w // 2 for w in self.widths]}")

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(int(round(self.width * w)) for w in BASE_WIDTHS)

    @property
    def label(self) -> str:
        """A name that tells the spec apart, in the paper's style: 1.0-SqNxt[2,4,14,1]-v5-k5."""
        depth = ",".join(map(str, self.depth))
        name = f"{self.width:.1f}-SqNxt[{depth}]-{self.layout}-k{self.conv1_kernel}"
        if self.groups > 1:
            name += f"-g{self.groups}"
        if self.ida:
            name += "-IDA"
        return name + (f"-{self.input_size}px" if self.input_size != 227 else "")


#: Block layouts: v1 has a parallel projection shortcut in each stage's first block; v5 a
#: shared transition conv instead (paper §5).
LAYOUTS = ("v1", "v5")


def depth_lists(blocks: int, minimum: int = 1) -> list[tuple[int, ...]]:
    """Every depth list of len(BASE_WIDTHS) stages with `blocks` blocks in all and at least
    `minimum` per stage, in lexicographic order: the paper's §5 search space (its v2-v5 are
    four of the lists with 21 blocks)."""
    stages = len(BASE_WIDTHS)

    def rest(n: int, k: int) -> list[tuple[int, ...]]:
        if k == 1:
            return [(n,)] if n >= minimum else []
        return [(d, *tail) for d in range(minimum, n - minimum * (k - 1) + 1)
                for tail in rest(n - d, k - 1)]

    return rest(blocks, stages)


#: How a network built from a spec (not one of the paper's files) names its source.
FAMILY_SOURCE = "built: nnaccel.zoo.squeezenext"


def build_spec(spec: SqnxtSpec) -> Network:
    """A SqueezeNext of any spec, named by its label (no paper figures: it is a new network)."""
    return build_squeezenext(spec.label, spec, f"{FAMILY_SOURCE} {spec}", {})


def _branch(b: NetBuilder, prefix: str, x: str, width: int, stride: int, groups: int,
            sep_3x1_first: bool) -> str:
    """The residual branch: two squeezes, a separable 3x3, an expansion."""
    half, quarter = width // 2, width // 4
    x = b.conv(f"{prefix}_sq1", x, half, 1, stride, groups=groups)
    x = b.conv(f"{prefix}_sq2", x, quarter, 1)
    first, second = ((3, 1), (1, 3)) if sep_3x1_first else ((1, 3), (3, 1))
    for kernel in (first, second):
        pad = (kernel[0] // 2, kernel[1] // 2)
        x = b.conv(f"{prefix}_sep{kernel[0]}x{kernel[1]}", x, half, kernel, 1, pad,
                   groups=groups)
    return b.conv(f"{prefix}_exp", x, width, 1)


def _block(b: NetBuilder, spec: SqnxtSpec, prefix: str, x: str, width: int, stride: int,
           first_in_stage: bool, block_index: int) -> str:
    # The separable pair alternates over the whole net: odd blocks (1st, 3rd, ...) put 3x1
    # first, as the official prototxt does.
    sep_3x1_first = block_index % 2 == 1
    if first_in_stage and spec.layout == "v5":
        x = b.conv(f"{prefix}_trans", x, width, 1, stride)
        branch = _branch(b, prefix, x, width, 1, spec.groups, sep_3x1_first)
        return b.add(f"{prefix}_add", x, branch)
    branch = _branch(b, prefix, x, width, stride, spec.groups, sep_3x1_first)
    shortcut = b.conv(f"{prefix}_proj", x, width, 1, stride) if first_in_stage else x
    return b.add(f"{prefix}_add", branch, shortcut)


def _aggregate(b: NetBuilder, stage: int, previous: str, current: str, width: int) -> str:
    """An IDA node, built the way Deep Layer Aggregation (ucbdrive/dla, ``Tree``) builds one.

    The previous aggregate (which was also this stage's input) is max-pooled down to this
    stage's resolution (DLA's ``downsample``) and brought to this stage's width by a 1x1 conv
    + BN (DLA's ``project``, which DLA applies on the residual path; here it feeds the node);
    the node (DLA's ``Root``) concatenates it with the stage's output and mixes the two with a
    1x1 conv + BN + ReLU. Its output is the next stage's input. The projection is our choice:
    without it the nodes add 130K params, with it 217K, against the paper's 0.18M for
    1.0-SqNxt-23-IDA (and about 0.3M for -34/-44).
    """
    if b.shape(previous)[1:] != b.shape(current)[1:]:
        previous = b.maxpool(f"ida{stage}_down", previous, 2, 2, ceil_mode=True)
    if b.shape(previous)[0] != width:
        previous = b.conv(f"ida{stage}_proj", previous, width, 1)
    joined = b.concat(f"ida{stage}_cat", previous, current)
    return b.conv(f"ida{stage}_root", joined, width, 1)


def build_squeezenext(name: str, spec: SqnxtSpec, source: str, paper: dict,
                      notes: str = "") -> Network:
    """A SqueezeNext network; ``name`` is the paper's name for it."""
    b = NetBuilder((3, spec.input_size, spec.input_size))
    x = b.conv("conv1", INPUT, CONV1_CHANNELS, spec.conv1_kernel, 2)
    x = b.maxpool("pool1", x, 3, 2, ceil_mode=True)
    block_index = 0
    aggregate = None
    for stage, (blocks, width) in enumerate(zip(spec.depth, spec.widths, strict=True), 1):
        for i in range(1, blocks + 1):
            block_index += 1
            stride = 2 if stage > 1 and i == 1 else 1
            x = _block(b, spec, f"s{stage}b{i}", x, width, stride, i == 1, block_index)
        if spec.ida:
            aggregate = x if aggregate is None else _aggregate(b, stage, aggregate, x, width)
            x = aggregate
    x = b.conv("conv_final", x, FINAL_CHANNELS, 1)
    x = b.global_avgpool("pool5", x)
    b.fc("fc1000", x, CLASSES, bias=False)
    return b.network(name, source, paper, notes)


_OFFICIAL = "amirgholami/SqueezeNext: {}/train_val.prototxt"
_V5 = {"layout": "v5", "conv1_kernel": 5}
#: Depth lists for -34 and -44: no public definition; these best fit the paper's params at
#: widths 1.0/1.5/2.0 (``nnaccel.zoo.fit``, checked by a test).
DEPTH_34 = (3, 13, 15, 1)
DEPTH_44 = (6, 16, 19, 1)
_IDA_RULE = ("plus IDA nodes in the manner of Deep Layer Aggregation: after stages 2-4, the "
             "previous aggregate is max-pooled 2x2, projected by a 1x1 conv to the stage's "
             "width, concatenated with the stage output and mixed by a 1x1 conv + BN; the "
             "node feeds the next stage")
_FIT_RULE = ("v1 layout (as 1.0-SqNxt-23) with depth {}, the list of {} blocks [a,b,c,1] whose "
             "largest params deviation from the paper over widths 1.0/1.5/2.0 is smallest")
_WIDTH_RULE = ("stage widths x{} ({}), conv1 (64) and final conv (128) fixed as in the "
               "official 2.0 files")

#: (file stem, paper name, spec, source). Sources starting 'inferred' mark the networks no
#: public file defines; each gives the rule it was built by.
VARIANTS: tuple[tuple[str, str, SqnxtSpec, str], ...] = (
    ("sqnxt23", "1.0-SqNxt-23", SqnxtSpec(), _OFFICIAL.format("1.0-SqNxt-23")),
    ("sqnxt23v2", "1.0-SqNxt-23v2", SqnxtSpec(depth=(6, 6, 8, 1), **_V5),
     "inferred: v5 layout (transition conv, 5x5 conv1) with v2's depth [6,6,8,1]"),
    ("sqnxt23v3", "1.0-SqNxt-23v3", SqnxtSpec(depth=(4, 8, 8, 1), **_V5),
     "inferred: v5 layout (transition conv, 5x5 conv1) with v3's depth [4,8,8,1]"),
    ("sqnxt23v4", "1.0-SqNxt-23v4", SqnxtSpec(depth=(2, 10, 8, 1), **_V5),
     "inferred: v5 layout (transition conv, 5x5 conv1) with v4's depth [2,10,8,1]"),
    ("sqnxt23v5", "1.0-SqNxt-23v5", SqnxtSpec(depth=(2, 4, 14, 1), **_V5),
     _OFFICIAL.format("1.0-SqNxt-23v5")),
    ("g-sqnxt23", "1.0-G-SqNxt-23", SqnxtSpec(groups=2), _OFFICIAL.format("1.0-G-SqNxt-23")),
    ("sqnxt23-ida", "1.0-SqNxt-23-IDA", SqnxtSpec(ida=True),
     "inferred: 1.0-SqNxt-23 " + _IDA_RULE),
    ("sqnxt34", "1.0-SqNxt-34", SqnxtSpec(depth=DEPTH_34),
     "inferred: " + _FIT_RULE.format(list(DEPTH_34), 32)),
    ("sqnxt34-ida", "1.0-SqNxt-34-IDA", SqnxtSpec(depth=DEPTH_34, ida=True),
     "inferred: 1.0-SqNxt-34 " + _IDA_RULE),
    ("sqnxt44", "1.0-SqNxt-44", SqnxtSpec(depth=DEPTH_44),
     "inferred: " + _FIT_RULE.format(list(DEPTH_44), 42)),
    ("sqnxt44-ida", "1.0-SqNxt-44-IDA", SqnxtSpec(depth=DEPTH_44, ida=True),
     "inferred: 1.0-SqNxt-44 " + _IDA_RULE),
    ("sqnxt23-w1.5", "1.5-SqNxt-23", SqnxtSpec(width=1.5),
     "inferred: 1.0-SqNxt-23 with " + _WIDTH_RULE.format(1.5, "48/96/192/384")),
    ("sqnxt34-w1.5", "1.5-SqNxt-34", SqnxtSpec(width=1.5, depth=DEPTH_34),
     "inferred: 1.0-SqNxt-34 with " + _WIDTH_RULE.format(1.5, "48/96/192/384")),
    ("sqnxt44-w1.5", "1.5-SqNxt-44", SqnxtSpec(width=1.5, depth=DEPTH_44),
     "inferred: 1.0-SqNxt-44 with " + _WIDTH_RULE.format(1.5, "48/96/192/384")),
    ("sqnxt23-w2", "2.0-SqNxt-23", SqnxtSpec(width=2.0), _OFFICIAL.format("2.0-SqNxt-23")),
    ("sqnxt34-w2", "2.0-SqNxt-34", SqnxtSpec(width=2.0, depth=DEPTH_34),
     "inferred: 1.0-SqNxt-34 with " + _WIDTH_RULE.format(2.0, "64/128/256/512")),
    ("sqnxt44-w2", "2.0-SqNxt-44", SqnxtSpec(width=2.0, depth=DEPTH_44),
     "inferred: 1.0-SqNxt-44 with " + _WIDTH_RULE.format(2.0, "64/128/256/512")),
    ("sqnxt23v4-w2", "2.0-SqNxt-23v4", SqnxtSpec(width=2.0, depth=(2, 10, 8, 1), **_V5),
     "inferred: 2.0-SqNxt-23v5's layout (official) with v4's depth [2,10,8,1]"),
    ("sqnxt23v5-w2", "2.0-SqNxt-23v5", SqnxtSpec(width=2.0, depth=(2, 4, 14, 1), **_V5),
     _OFFICIAL.format("2.0-SqNxt-23v5")),
)


def fit_note(params: int, paper_params_m: float | None) -> str:
    """How close an inferred network comes to the paper's parameter count."""
    if paper_params_m is None:
        return ""
    deviation = 100 * (params / (paper_params_m * 1e6) - 1)
    return (f"Inferred: {params:,} params against the paper's {paper_params_m}M "
            f"({deviation:+.1f}%).")


def build_variant(stem: str) -> Network:
    """The SqueezeNext whose file is ``networks/<stem>.json``."""
    for file_stem, name, spec, source in VARIANTS:
        if file_stem == stem:
            paper = paper_figures(name)
            network = build_squeezenext(name, spec, source, paper)
            if not network.inferred:
                return network
            return replace(network, notes=fit_note(network.params, paper.get("params_m")))
    raise KeyError(stem)
