"""Shape rules: the output shape of every layer type, as Caffe (and ONNX) compute it.

A shape is a tuple of 1 to 6 sizes (docs/network-format.md, "Shapes"): an image is
``(C, H, W)``, a token sequence ``(T, D)``, heads ``(heads, T, Dh)``; the token ids a network
reads are ``(T,)``. The image layers (conv, fc, pooling, affine, shuffle, upsample) need an image;
the transformer's layers work on the last axis (or the last two) of any rank.

These are the rules the loader checks a file against and the zoo and the ONNX importer build
with. The numpy reference (``nnaccel.reference``) deliberately does not use them: it finds
shapes by doing the work, so a test can hold the two against each other.
"""

from __future__ import annotations

import math

Shape = tuple[int, ...]

#: The most axes a shape may have: Swin's window partition has five without the batch.
MAX_RANK = 6

#: Every layer type a network file may use.
LAYER_TYPES = ("conv", "fc", "maxpool", "avgpool", "global_avgpool", "add", "concat",
               "mul", "affine", "slice", "shuffle", "upsample",
               # transformers (docs/network-format.md, "Tokens and transformers")
               "linear", "matmul", "layernorm", "rmsnorm", "softmax", "activation",
               "reshape", "transpose", "roll", "embedding", "constant")
#: Types that read an image [C, H, W] and nothing else.
IMAGE_TYPES = ("conv", "fc", "maxpool", "avgpool", "global_avgpool", "affine", "shuffle",
               "upsample")
#: Types whose work is on the output path: a reduction over the last axis and/or an
#: element-wise function (docs/model.md, "Transformers").
VECTOR_TYPES = ("layernorm", "rmsnorm", "softmax", "activation")
#: Layout changes: the same values in another order.
LAYOUT_TYPES = ("reshape", "transpose", "roll")
#: The element-wise functions an ``activation`` layer applies.
ACTIVATIONS = ("relu", "gelu", "gelu_tanh", "silu", "sigmoid", "tanh", "scale")
#: Types with weights (and MACs).
WEIGHTED_TYPES = ("conv", "fc", "linear")
#: Types that slide a window and so take kernel, stride and padding.
WINDOW_TYPES = ("conv", "maxpool", "avgpool")
POOL_TYPES = ("maxpool", "avgpool")
#: Types that read two or more tensors.
MULTI_INPUT_TYPES = ("add", "concat", "mul")
#: Types that read exactly two tensors: a product of two activations.
TWO_INPUT_TYPES = ("matmul",)
#: Element-wise arithmetic per output element (``elementwise_ops``), beside conv/fc MACs.
ELEMENTWISE_TYPES = ("add", "mul", "affine", "upsample")
UPSAMPLE_MODES = ("nearest", "linear")


class ShapeError(ValueError):
    """A layer whose parameters give no valid output; ``field`` names the culprit."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def pads(padding: tuple[int, ...]) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, left), (bottom, right)) of a padding [ph, pw] or [top, left, bottom, right]."""
    if len(padding) == 4:
        return (padding[0], padding[1]), (padding[2], padding[3])
    return (padding[0], padding[1]), (padding[0], padding[1])


def conv_output_size(size: int, kernel: int, stride: int, pad: int, pad_end: int | None = None,
                     dilation: int = 1) -> int:
    """Convolution output length along one axis; Caffe and ONNX round down."""
    pad_end = pad if pad_end is None else pad_end
    return (size + pad + pad_end - dilation * (kernel - 1) - 1) // stride + 1


def pool_output_size(size: int, kernel: int, stride: int, pad: int, ceil_mode: bool,
                     pad_end: int | None = None) -> int:
    """Pooling output length along one axis.

    Caffe rounds up (``ceil_mode``) and then drops a last window that would start in the
    far padding, so that every window touches the image or the near padding. Caffe drops it
    only when pad > 0; we (like PyTorch and ONNX) always do. The two agree whenever the kernel
    is at least the stride; otherwise Caffe would pool an empty window past the edge.
    """
    pad_end = pad if pad_end is None else pad_end
    span = size + pad + pad_end - kernel
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + pad:
        out -= 1
    return out


def output_shape(
    type: str,
    input_shapes: tuple[Shape, ...],
    out_channels: int,
    kernel: tuple[int, int] = (1, 1),
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, ...] = (0, 0),
    ceil_mode: bool = False,
    dilation: tuple[int, int] = (1, 1),
    channels: tuple[int, int] = (0, 0),
    scale: tuple[int, int] = (1, 1),
    axis: int = 0,
    perm: tuple[int, ...] = (),
    shifts: tuple[int, ...] = (),
    axes: tuple[int, ...] = (),
    transpose_b: bool = False,
    target: Shape | None = None,
) -> Shape:
    """The output shape a layer must have, given its inputs and parameters.

    ``out_channels`` is only read for conv, fc (output channels), linear (output features,
    the last axis) and embedding (the vector width), whose output width is a parameter; a
    reshape's output is its ``target`` when the element count agrees.
    Raises ShapeError when the parameters give an empty or ill-defined output.
    """
    if type in IMAGE_TYPES:
        for shape in input_shapes:
            if len(shape) != 3:
                raise ShapeError("input_shapes", f"a {type} layer reads an image [C, H, W], "
                                 f"got a shape of rank {len(shape)} {list(shape)}")
    elif type not in LAYER_TYPES:
        raise ShapeError("type", f"unknown layer type '{type}'")
    if type in _TENSOR_RULES or (type in ("concat", "slice") and (
            axis != 0 or any(len(s) != 3 for s in input_shapes))):
        return _tensor_shape(type, input_shapes, out_channels, axis=axis, channels=channels,
                             perm=perm, shifts=shifts, axes=axes, transpose_b=transpose_b,
                             target=target)
    if type == "fc":
        return (out_channels, 1, 1)
    if type in MULTI_INPUT_TYPES:
        return _merge_shape(type, input_shapes)
    c, h, w = input_shapes[0]
    if type == "global_avgpool":
        return (c, 1, 1)
    if type in ("affine", "shuffle"):
        return (c, h, w)
    if type == "slice":
        start, end = channels
        if not start < end <= c:
            raise ShapeError("channels", f"channels {list(channels)} is not a range [start, "
                             f"end) with start < end <= {c}, the input's channels")
        return (end - start, h, w)
    if type == "upsample":
        return (c, h * scale[0], w * scale[1])
    (ph, pw), (qh, qw) = pads(padding)
    if type == "conv":
        ho = conv_output_size(h, kernel[0], stride[0], ph, qh, dilation[0])
        wo = conv_output_size(w, kernel[1], stride[1], pw, qw, dilation[1])
        c = out_channels
    elif type in POOL_TYPES:
        if max(ph, qh) >= kernel[0] or max(pw, qw) >= kernel[1]:
            raise ShapeError("padding", f"pooling padding {list(padding)} must be smaller "
                             f"than the kernel {list(kernel)}")
        ho = pool_output_size(h, kernel[0], stride[0], ph, ceil_mode, qh)
        wo = pool_output_size(w, kernel[1], stride[1], pw, ceil_mode, qw)
    else:
        raise ShapeError("type", f"unknown layer type '{type}'")
    if ho < 1 or wo < 1:
        raise ShapeError("kernel", f"kernel {list(kernel)} with padding {list(padding)} does "
                         f"not fit the {h}x{w} input")
    return (c, ho, wo)


def broadcasts(shape: Shape, to: Shape) -> bool:
    """Whether ``shape`` broadcasts to ``to`` as numpy aligns them (from the last axis; every
    size equal or 1) without growing ``to``."""
    if len(shape) > len(to):
        return False
    return all(a in (1, b) for a, b in zip(reversed(shape), reversed(to), strict=False))


def _merge_shape(type: str, input_shapes: tuple[Shape, ...]) -> Shape:
    first = input_shapes[0]
    shown = " and ".join(str(list(s)) for s in input_shapes)
    if type == "add":
        for shape in input_shapes[1:]:
            # the later operands may broadcast to the first (a mask over heads, a bias per
            # feature), as ONNX's Add does; the output is the first's shape
            if not broadcasts(shape, first):
                raise ShapeError("input_shapes", f"add needs inputs of one shape (or shapes "
                                 f"that broadcast to the first's), got {shown}")
        return first
    if type == "mul":
        # The squeeze-and-excitation multiply: a [C, 1, 1] operand scales each channel.
        for shape in input_shapes[1:]:
            if shape != (first[0], 1, 1) and not broadcasts(shape, first):
                raise ShapeError("input_shapes", "mul needs inputs of the first one's shape "
                                 f"or [C, 1, 1] (one factor per channel), or shapes that "
                                 f"broadcast to the first's, got {shown}")
        return first
    for shape in input_shapes[1:]:
        if shape[1:] != first[1:]:
            raise ShapeError("input_shapes", f"concat needs inputs of one spatial size, got {shown}")
    return (sum(s[0] for s in input_shapes), first[1], first[2])


_TENSOR_RULES = ("linear", "matmul", "layernorm", "rmsnorm", "softmax", "activation",
                 "reshape", "transpose", "roll", "embedding", "constant")


def _tensor_shape(type: str, input_shapes: tuple[Shape, ...], width: int, *, axis: int,
                  channels: tuple[int, int], perm: tuple[int, ...], shifts: tuple[int, ...],
                  axes: tuple[int, ...], transpose_b: bool, target: Shape | None) -> Shape:
    """Shape rules of the token layers and of concat/slice along any axis."""
    if type == "constant":
        if target is None:
            raise ShapeError("output_shape", "a constant needs its shape")
        return target
    first = input_shapes[0]
    rank = len(first)
    if type in ("layernorm", "rmsnorm", "softmax", "activation"):
        return first
    if type == "linear":
        return (*first[:-1], width)
    if type == "embedding":
        if len(first) >= MAX_RANK:
            raise ShapeError("input_shapes", f"token ids of rank {len(first)} give vectors of "
                             f"rank {len(first) + 1}, more than {MAX_RANK}")
        return (*first, width)
    if type == "reshape":
        if target is None or math.prod(target) != math.prod(first):
            got = "no shape" if target is None else f"{list(target)} ({math.prod(target):,})"
            raise ShapeError("output_shape", f"a reshape keeps the element count: "
                             f"{list(first)} has {math.prod(first):,} elements, {got}")
        return target
    if type == "transpose":
        if sorted(perm) != list(range(rank)):
            raise ShapeError("perm", f"perm {list(perm)} is not an order of the input's "
                             f"{rank} axes 0..{rank - 1}")
        return tuple(first[p] for p in perm)
    if type == "roll":
        if len(shifts) != len(axes) or not axes:
            raise ShapeError("axes", f"roll needs one shift per axis, got shifts "
                             f"{list(shifts)} and axes {list(axes)}")
        if max(axes) >= rank or len(set(axes)) != len(axes):
            raise ShapeError("axes", f"axes {list(axes)} are not distinct axes of the "
                             f"input's {rank}")
        return first
    if type == "matmul":
        return _matmul_shape(input_shapes, transpose_b)
    if axis >= rank:
        raise ShapeError("axis", f"axis {axis} is not an axis of the input's {rank}")
    if type == "slice":
        start, end = channels
        if not start < end <= first[axis]:
            raise ShapeError("channels", f"channels {list(channels)} is not a range [start, "
                             f"end) with start < end <= {first[axis]}, the input's size "
                             f"along axis {axis}")
        return (*first[:axis], end - start, *first[axis + 1:])
    # concat along `axis`
    shown = " and ".join(str(list(s)) for s in input_shapes)
    for shape in input_shapes[1:]:
        if len(shape) != rank or shape[:axis] + shape[axis + 1:] != first[:axis] + first[axis + 1:]:
            raise ShapeError("input_shapes", f"concat along axis {axis} needs inputs that "
                             f"agree on every other axis, got {shown}")
    return (*first[:axis], sum(s[axis] for s in input_shapes), *first[axis + 1:])


def _matmul_shape(input_shapes: tuple[Shape, ...], transpose_b: bool) -> Shape:
    """A [..., T, D] x B [..., D, E] (or B [..., E, D] with transpose_b) -> [..., T, E].

    The leading (head) axes of B equal A's or divide them: grouped-query attention shares a
    key/value head among A's heads ``h`` with ``h // (A's / B's)``.
    """
    a, b = input_shapes
    shown = f"{list(a)} and {list(b)}"
    if len(a) < 2 or len(a) != len(b):
        raise ShapeError("input_shapes", f"matmul needs two operands of one rank, at least 2 "
                         f"([..., T, D] and [..., D, E]), got {shown}")
    d_b, e = (b[-1], b[-2]) if transpose_b else (b[-2], b[-1])
    if a[-1] != d_b:
        what = "last" if transpose_b else "second-to-last"
        raise ShapeError("input_shapes", f"matmul's operands disagree on the reduced axis: "
                         f"{a[-1]} (A's last) and {d_b} (B's {what}), got {shown}")
    for ha, hb in zip(a[:-2], b[:-2], strict=True):
        if ha % hb:
            raise ShapeError("input_shapes", f"matmul's heads do not agree: B's {hb} must "
                             f"equal or divide A's {ha}, got {shown}")
    return (*a[:-2], a[-2], e)
