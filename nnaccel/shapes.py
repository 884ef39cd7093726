"""Shape rules: the output shape of every layer type, as Caffe (and ONNX) compute it.

These are the rules the loader checks a file against and the zoo and the ONNX importer build
with. The numpy reference (``nnaccel.reference``) deliberately does not use them: it finds
shapes by doing the work, so a test can hold the two against each other.
"""

from __future__ import annotations

Shape = tuple[int, int, int]

#: Every layer type a network file may use.
LAYER_TYPES = ("conv", "fc", "maxpool", "avgpool", "global_avgpool", "add", "concat",
               "mul", "affine", "slice", "shuffle", "upsample")
#: Types with weights (and MACs).
WEIGHTED_TYPES = ("conv", "fc")
#: Types that slide a window and so take kernel, stride and padding.
WINDOW_TYPES = ("conv", "maxpool", "avgpool")
POOL_TYPES = ("maxpool", "avgpool")
#: Types that read two or more tensors.
MULTI_INPUT_TYPES = ("add", "concat", "mul")
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
) -> Shape:
    """The output shape (C, H, W) a layer must have, given its inputs and parameters.

    ``out_channels`` is only read for conv and fc, whose output width is a parameter.
    Raises ShapeError when the parameters give an empty or ill-defined output.
    """
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


def _merge_shape(type: str, input_shapes: tuple[Shape, ...]) -> Shape:
    first = input_shapes[0]
    shown = " and ".join(str(list(s)) for s in input_shapes)
    if type == "add":
        for shape in input_shapes[1:]:
            if shape != first:
                raise ShapeError("input_shapes", f"add needs inputs of one shape, got {shown}")
        return first
    if type == "mul":
        # The squeeze-and-excitation multiply: a [C, 1, 1] operand scales each channel.
        for shape in input_shapes[1:]:
            if shape != first and shape != (first[0], 1, 1):
                raise ShapeError("input_shapes", "mul needs inputs of the first one's shape "
                                 f"or [C, 1, 1] (one factor per channel), got {shown}")
        return first
    for shape in input_shapes[1:]:
        if shape[1:] != first[1:]:
            raise ShapeError("input_shapes", f"concat needs inputs of one spatial size, got {shown}")
    return (sum(s[0] for s in input_shapes), first[1], first[2])
