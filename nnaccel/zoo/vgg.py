"""VGG-19 (configuration E), as osmr/imgclsmob's pytorchcv defines it."""

from __future__ import annotations

from nnaccel.network import INPUT, Network
from nnaccel.zoo._builder import NetBuilder
from nnaccel.zoo.paper import paper_figures

#: Convs per block and their width; a 2x2 max-pool closes each block.
BLOCKS = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))


def vgg19() -> Network:
    b = NetBuilder((3, 224, 224))
    x = INPUT
    for block, (convs, width) in enumerate(BLOCKS, 1):
        for i in range(1, convs + 1):
            x = b.conv(f"conv{block}_{i}", x, width, 3, padding=1, bias=True,
                       batch_norm=False)
        x = b.maxpool(f"pool{block}", x, 2, 2, ceil_mode=False)
    x = b.fc("fc6", x, 4096)
    x = b.fc("fc7", x, 4096)
    b.fc("fc8", x, 1000)
    return b.network(
        "VGG-19", "osmr/imgclsmob: pytorch/pytorchcv/models/vgg.py (vgg19)",
        paper_figures("VGG-19"),
        "The paper's 138M params are VGG-16's count; VGG-19 has 143.7M.")
