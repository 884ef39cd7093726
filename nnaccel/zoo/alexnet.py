"""AlexNet as BVLC Caffe defines it: conv2, conv4 and conv5 split into two groups."""

from __future__ import annotations

from nnaccel.network import INPUT, Network
from nnaccel.zoo._builder import NetBuilder
from nnaccel.zoo.paper import paper_figures


def alexnet() -> Network:
    b = NetBuilder((3, 227, 227))
    conv = {"bias": True, "batch_norm": False}
    # LRN (after conv1 and conv2), ReLU and dropout have no weights and no MACs: left out.
    x = b.conv("conv1", INPUT, 96, 11, 4, **conv)
    x = b.maxpool("pool1", x, 3, 2)
    x = b.conv("conv2", x, 256, 5, padding=2, groups=2, **conv)
    x = b.maxpool("pool2", x, 3, 2)
    x = b.conv("conv3", x, 384, 3, padding=1, **conv)
    x = b.conv("conv4", x, 384, 3, padding=1, groups=2, **conv)
    x = b.conv("conv5", x, 256, 3, padding=1, groups=2, **conv)
    x = b.maxpool("pool5", x, 3, 2)
    x = b.fc("fc6", x, 4096)
    x = b.fc("fc7", x, 4096)
    b.fc("fc8", x, 1000)
    return b.network("AlexNet", "BVLC/caffe: models/bvlc_alexnet/deploy.prototxt",
                     paper_figures("AlexNet"))
