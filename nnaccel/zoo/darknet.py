"""Tiny Darknet (pjreddie/darknet cfg/tiny.cfg): 3x3/1x1 convs with BN, 2x2 max-pools."""

from __future__ import annotations

from nnaccel.network import INPUT, Network
from nnaccel.zoo._builder import NetBuilder
from nnaccel.zoo.paper import paper_figures

#: The convolutions as (filters, size), with 'M' for a 2x2 stride-2 max-pool.
LAYOUT = ((16, 3), "M", (32, 3), "M",
          (16, 1), (128, 3), (16, 1), (128, 3), "M",
          (32, 1), (256, 3), (32, 1), (256, 3), "M",
          (64, 1), (512, 3), (64, 1), (512, 3), (128, 1))


def tiny_darknet() -> Network:
    b = NetBuilder((3, 224, 224))
    x, conv, pool = INPUT, 0, 0
    for item in LAYOUT:
        if item == "M":
            pool += 1
            # Darknet's maxpool pads size-1 on the far side, i.e. it rounds up like Caffe.
            x = b.maxpool(f"pool{pool}", x, 2, 2, ceil_mode=True)
            continue
        filters, size = item
        conv += 1
        # Darknet's pad=1 means size/2, so the 1x1 convs have no padding.
        x = b.conv(f"conv{conv}", x, filters, size, padding=size // 2)
    # The classifier conv is linear, with a bias and no batch norm.
    x = b.conv(f"conv{conv + 1}", x, 1000, 1, bias=True, batch_norm=False)
    b.global_avgpool("avgpool", x)
    return b.network("Tiny Darknet", "pjreddie/darknet: cfg/tiny.cfg",
                     paper_figures("Tiny Darknet"))
