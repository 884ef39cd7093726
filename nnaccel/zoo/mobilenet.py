"""MobileNet v1 1.0-224 (shicai/MobileNet-Caffe): depthwise-separable pairs with BN."""

from __future__ import annotations

from nnaccel.network import INPUT, Network
from nnaccel.zoo._builder import NetBuilder
from nnaccel.zoo.paper import paper_figures

#: (Caffe name, pointwise output channels, stride of the depthwise conv).
PAIRS = (("conv2_1", 64, 1), ("conv2_2", 128, 2), ("conv3_1", 128, 1),
         ("conv3_2", 256, 2), ("conv4_1", 256, 1), ("conv4_2", 512, 2),
         ("conv5_1", 512, 1), ("conv5_2", 512, 1), ("conv5_3", 512, 1),
         ("conv5_4", 512, 1), ("conv5_5", 512, 1), ("conv5_6", 1024, 2),
         ("conv6", 1024, 1))


def mobilenet() -> Network:
    b = NetBuilder((3, 224, 224))
    x = b.conv("conv1", INPUT, 32, 3, 2, padding=1)
    for name, out, stride in PAIRS:
        channels = b.shape(x)[0]
        x = b.conv(f"{name}/dw", x, channels, 3, stride, padding=1, groups=channels)
        x = b.conv(f"{name}/sep", x, out, 1)
    x = b.global_avgpool("pool6", x)
    # Caffe writes the classifier as a 1x1 conv "fc7" on the 1x1 map; it is an FC.
    b.fc("fc7", x, 1000, bias=True)
    return b.network("MobileNet", "shicai/MobileNet-Caffe: mobilenet_deploy.prototxt",
                     paper_figures("MobileNet"))
