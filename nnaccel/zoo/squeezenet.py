"""SqueezeNet v1.0 and v1.1 (forresti/SqueezeNet, Caffe): Fire modules, no batch norm."""

from __future__ import annotations

from nnaccel.network import INPUT, Network
from nnaccel.zoo._builder import NetBuilder
from nnaccel.zoo.paper import paper_figures

#: (squeeze, expand1x1, expand3x3) of fire2 .. fire9, the same in both versions.
FIRES = ((16, 64, 64), (16, 64, 64), (32, 128, 128), (32, 128, 128),
         (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256))


def _fire(b: NetBuilder, index: int, x: str) -> str:
    squeeze, e1, e3 = FIRES[index - 2]
    p = f"fire{index}"
    x = b.conv(f"{p}_squeeze1x1", x, squeeze, 1, bias=True, batch_norm=False)
    left = b.conv(f"{p}_expand1x1", x, e1, 1, bias=True, batch_norm=False)
    right = b.conv(f"{p}_expand3x3", x, e3, 3, padding=1, bias=True, batch_norm=False)
    return b.concat(f"{p}_concat", left, right)


def _squeezenet(name: str, size: int, conv1: tuple[int, int], pool_after: tuple[int, ...],
                source: str, notes: str) -> Network:
    b = NetBuilder((3, size, size))
    channels, kernel = conv1
    x = b.conv("conv1", INPUT, channels, kernel, 2, bias=True, batch_norm=False)
    x = b.maxpool("pool1", x, 3, 2, ceil_mode=True)
    for index in range(2, 10):
        x = _fire(b, index, x)
        if index in pool_after:
            x = b.maxpool(f"pool{index}", x, 3, 2, ceil_mode=True)
    # conv10 with pad 0: see the v1.0 notes.
    x = b.conv("conv10", x, 1000, 1, bias=True, batch_norm=False)
    b.global_avgpool("pool10", x)
    return b.network(name, source, paper_figures(name), notes)


def squeezenet_v10() -> Network:
    return _squeezenet(
        "SqueezeNet v1.0", 227, (96, 7), (4, 8),
        "forresti/SqueezeNet: SqueezeNet_v1.0/train_val.prototxt",
        "conv10 has pad 0 as in osmr/imgclsmob pytorchcv squeezenet.py; the official "
        "prototxt's pad 1 gives a 15x15 conv10 (115.2M MACs instead of 86.5M), and the "
        "paper's 837M MACs match pad 0.")


def squeezenet_v11() -> Network:
    return _squeezenet(
        "SqueezeNet v1.1", 224, (64, 3), (3, 5),
        "forresti/SqueezeNet: SqueezeNet_v1.1/train_val.prototxt",
        "Input 224, as the paper counts it (its 352M MACs).")
