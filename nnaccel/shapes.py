"""Shape rules: the output shape of every layer type, as Caffe computes it.

These are the rules the loader checks a file against and the zoo builds with. The numpy
reference (``nnaccel.reference``) deliberately does not use them: it finds shapes by doing
the work, so a test can hold the two against each other.
"""

from __future__ import annotations

Shape = tuple[int, int, int]

#: Every layer type a network file may use.
LAYER_TYPES = ("conv", "fc", "maxpool", "avgpool", "global_avgpool", "add", "concat")
#: Types with weights (and MACs).
WEIGHTED_TYPES = ("conv", "fc")
#: Types that slide a window and so take kernel, stride and padding.
WINDOW_TYPES = ("conv", "maxpool", "avgpool")
POOL_TYPES = ("maxpool", "avgpool")


class ShapeError(ValueError):
    """A layer whose parameters give no valid output; ``field`` names the culprit."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def conv_output_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """Convolution output length along one axis; Caffe rounds down."""
    return (size + 2 * pad - kernel) // stride + 1


def pool_output_size(size: int, kernel: int, stride: int, pad: int, ceil_mode: bool) -> int:
    """Pooling output length along one axis.

    Caffe rounds up (``ceil_mode``) and then drops a last window that would start in the
    far padding, so that every window touches the image or the near padding. Caffe drops it
    only when pad > 0; we (like PyTorch) always do. The two agree whenever the kernel is at
    least the stride; otherwise Caffe would pool an empty window past the edge.
    """
    span = size + 2 * pad - kernel
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
    padding: tuple[int, int] = (0, 0),
    ceil_mode: bool = False,
) -> Shape:
    """The output shape (C, H, W) a layer must have, given its inputs and parameters.

    ``out_channels`` is only read for conv and fc, whose output width is a parameter.
    Raises ShapeError when the parameters give an empty or ill-defined output.
    """
    if type == "fc":
        return (out_channels, 1, 1)
    if type in ("add", "concat"):
        return _merge_shape(type, input_shapes)
    c, h, w = input_shapes[0]
    if type == "global_avgpool":
        return (c, 1, 1)
    if type == "conv":
        ho = conv_output_size(h, kernel[0], stride[0], padding[0])
        wo = conv_output_size(w, kernel[1], stride[1], padding[1])
        c = out_channels
    elif type in POOL_TYPES:
        if padding[0] >= kernel[0] or padding[1] >= kernel[1]:
            raise ShapeError("padding", f"pooling padding {list(padding)} must be smaller "
                             f"than the kernel {list(kernel)}")
        ho = pool_output_size(h, kernel[0], stride[0], padding[0], ceil_mode)
        wo = pool_output_size(w, kernel[1], stride[1], padding[1], ceil_mode)
    else:
        raise ShapeError("type", f"unknown layer type '{type}'")
    if ho < 1 or wo < 1:
        raise ShapeError("kernel", f"kernel {list(kernel)} with padding {list(padding)} does "
                         f"not fit the {h}x{w} input")
    return (c, ho, wo)


def _merge_shape(type: str, input_shapes: tuple[Shape, ...]) -> Shape:
    first = input_shapes[0]
    if type == "add":
        for shape in input_shapes[1:]:
            if shape != first:
                raise ShapeError("input_shapes", f"add needs inputs of one shape, got "
                                 f"{' and '.join(str(list(s)) for s in input_shapes)}")
        return first
    for shape in input_shapes[1:]:
        if shape[1:] != first[1:]:
            raise ShapeError("input_shapes", "concat needs inputs of one spatial size, got "
                             f"{' and '.join(str(list(s)) for s in input_shapes)}")
    return (sum(s[0] for s in input_shapes), first[1], first[2])
