"""The structures torchvision's models export to, built with onnx.helper (tests/onnx_build.py),
with the framework's published counts: parameters exactly, and conv + linear MACs in GMACs at
the precision torchvision's model documentation gives them ("GFLOPS", which are MACs)."""

from __future__ import annotations

import numpy as np
from onnx_build import Net


def _div8(v: float, d: int = 8) -> int:
    new = max(d, int(v + d / 2) // d * d)
    return new + d if new < 0.9 * v else new


def inverted_residual(n: Net, x: str, c: int, exp: int, co: int, k: int, s: int, act: str,
                      se: tuple[int, str, str] | None = None) -> str:
    """MobileNetV2's block, and MobileNetV3's, MnasNet's and EfficientNet's variants of it:
    expand (unless exp = c), depthwise, squeeze-and-excitation (se: squeeze, act, gate),
    project, and the residual add where the shape allows."""
    y = n.cba(x, exp, 1, act=act) if exp != c else x
    y = n.cba(y, exp, k, s, g=exp, act=act)
    if se:
        y = n.se(y, *se)
    y = n.bn(n.conv(y, co, 1))
    return n.add(y, x) if s == 1 and c == co else y


def resnet(depth: int) -> Net:
    n = Net(name=f"resnet{depth}")
    x = n.maxpool(n.cba("input", 64, 7, 2), 3, 2, 1)
    blocks = {18: [2, 2, 2, 2], 50: [3, 4, 6, 3]}[depth]
    c_in = 64
    for stage, (count, width) in enumerate(zip(blocks, (64, 128, 256, 512), strict=True)):
        for i in range(count):
            s = 2 if i == 0 and stage > 0 else 1
            out = width * (1 if depth == 18 else 4)
            if depth == 18:
                y = n.bn(n.conv(n.cba(x, width, 3, s), width, 3))
            else:  # the bottleneck strides on its 3x3 (torchvision's v1.5)
                y = n.bn(n.conv(n.cba(n.cba(x, width, 1), width, 3, s), out, 1))
            short = n.bn(n.conv(x, out, 1, s)) if s != 1 or c_in != out else x
            x = n.act(n.add(y, short))
            c_in = out
    n.out = n.gemm(n.flatten(n.gap(x)), 1000)
    return n


def mobilenet_v2() -> Net:
    n = Net(name="mobilenet_v2")
    x = n.cba("input", 32, 3, 2, act="relu6")
    c = 32
    for t, co, reps, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                           (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(reps):
            x = inverted_residual(n, x, c, c * t, co, 3, s if i == 0 else 1, "relu6")
            c = co
    x = n.cba(x, 1280, 1, act="relu6")
    n.out = n.gemm(n.flatten(n.gap(x)), 1000)
    return n


def mobilenet_v3_large() -> Net:
    n = Net(name="mobilenet_v3_large")
    x = n.cba("input", 16, 3, 2, act="hswish")
    c = 16
    for k, exp, co, se, act, s in (
            (3, 16, 16, 0, "relu", 1), (3, 64, 24, 0, "relu", 2), (3, 72, 24, 0, "relu", 1),
            (5, 72, 40, 1, "relu", 2), (5, 120, 40, 1, "relu", 1), (5, 120, 40, 1, "relu", 1),
            (3, 240, 80, 0, "hswish", 2), (3, 200, 80, 0, "hswish", 1),
            (3, 184, 80, 0, "hswish", 1), (3, 184, 80, 0, "hswish", 1),
            (3, 480, 112, 1, "hswish", 1), (3, 672, 112, 1, "hswish", 1),
            (5, 672, 160, 1, "hswish", 2), (5, 960, 160, 1, "hswish", 1),
            (5, 960, 160, 1, "hswish", 1)):
        x = inverted_residual(n, x, c, exp, co, k, s, act,
                              (_div8(exp // 4), "relu", "hsigmoid") if se else None)
        c = co
    x = n.cba(x, 960, 1, act="hswish")
    x = n.act(n.gemm(n.flatten(n.gap(x)), 1280), "hswish")
    n.out = n.gemm(x, 1000)
    return n


def squeezenet(version: str) -> Net:
    n = Net(name=f"squeezenet{version}")

    def fire(x: str, sq: int, e1: int, e3: int) -> str:
        s = n.act(n.conv(x, sq, 1, bias=True))
        return n.concat([n.act(n.conv(s, e1, 1, bias=True)), n.act(n.conv(s, e3, 3, bias=True))])

    if version == "1_0":
        x = n.maxpool(n.act(n.conv("input", 96, 7, 2, p=0, bias=True)), 3, 2, ceil=True)
        plan = [(16, 64), (16, 64), (32, 128), "M", (32, 128), (48, 192), (48, 192), (64, 256),
                "M", (64, 256)]
    else:
        x = n.maxpool(n.act(n.conv("input", 64, 3, 2, p=0, bias=True)), 3, 2, ceil=True)
        plan = [(16, 64), (16, 64), "M", (32, 128), (32, 128), "M", (48, 192), (48, 192),
                (64, 256), (64, 256)]
    for item in plan:
        x = n.maxpool(x, 3, 2, ceil=True) if item == "M" else fire(x, item[0], item[1], item[1])
    x = n.act(n.conv(n.node("Dropout", [x], n.dims[x]), 1000, 1, bias=True))
    n.out = n.flatten(n.gap(x))
    return n


def shufflenet_v2() -> Net:
    n = Net(name="shufflenet_v2_x1_0")
    x = n.maxpool(n.cba("input", 24, 3, 2), 3, 2, 1)
    c = 24
    for reps, co in ((4, 116), (8, 232), (4, 464)):
        bf = co // 2
        for i in range(reps):
            if i == 0:
                b1 = n.cba(n.bn(n.conv(x, c, 3, 2, g=c)), bf, 1)
                b2 = n.cba(n.bn(n.conv(n.cba(x, bf, 1), bf, 3, 2, g=bf)), bf, 1)
                x = n.concat([b1, b2])
            else:
                x1, x2 = n.split(x, [bf, bf])
                b2 = n.cba(n.bn(n.conv(n.cba(x2, bf, 1), bf, 3, 1, g=bf)), bf, 1)
                x = n.concat([x1, b2])
            x = n.shuffle(x, 2)
            c = co
    x = n.cba(x, 1024, 1)
    n.out = n.gemm(n.mean_hw(x), 1000)
    return n


def densenet121() -> Net:
    n = Net(name="densenet121")
    x = n.maxpool(n.cba("input", 64, 7, 2), 3, 2, 1)
    for b, layers in enumerate((6, 12, 24, 16)):
        feats = [x]
        for _ in range(layers):
            cat = n.concat(feats) if len(feats) > 1 else feats[0]
            y = n.conv(n.act(n.bn(cat)), 128, 1)  # pre-activation: BN on the concat
            feats.append(n.conv(n.act(n.bn(y)), 32, 3))
        x = n.concat(feats)
        if b < 3:
            x = n.avgpool(n.conv(n.act(n.bn(x)), n.c(x) // 2, 1), 2, 2)
    x = n.act(n.bn(x))
    n.out = n.gemm(n.flatten(n.gap(x)), 1000)
    return n


def googlenet(transform_input: bool = True) -> Net:
    """With its pretrained weights torchvision's GoogLeNet renormalizes each input channel:
    x[:, i] (a Gather), unsqueezed, scaled and shifted by scalars, concatenated again."""
    n = Net(name="googlenet")
    x = "input"
    if transform_input:
        chans = []
        for i, (std, mean) in enumerate(((0.229, 0.485), (0.224, 0.456), (0.225, 0.406))):
            g = n.node("Gather", [x, n.init(i, np.int64)], (1, 224, 224), axis=1)
            u = n.node("Unsqueeze", [g, n.init([1], np.int64)], (1, 1, 224, 224))
            m = n.node("Mul", [u, n.init(std / 0.5)], (1, 1, 224, 224))
            chans.append(n.node("Add", [m, n.init((mean - 0.5) / 0.5)], (1, 1, 224, 224)))
        x = n.concat(chans)

    def inception(x: str, c1: int, c3r: int, c3: int, c5r: int, c5: int, pp: int) -> str:
        b1 = n.cba(x, c1, 1)
        b2 = n.cba(n.cba(x, c3r, 1), c3, 3)
        b3 = n.cba(n.cba(x, c5r, 1), c5, 3)  # torchvision's 3x3 in place of the 5x5
        b4 = n.cba(n.maxpool(x, 3, 1, 1, ceil=True), pp, 1)
        return n.concat([b1, b2, b3, b4])

    x = n.maxpool(n.cba(x, 64, 7, 2), 3, 2, ceil=True)
    x = n.maxpool(n.cba(n.cba(x, 64, 1), 192, 3), 3, 2, ceil=True)
    x = inception(inception(x, 64, 96, 128, 16, 32, 32), 128, 128, 192, 32, 96, 64)
    x = n.maxpool(x, 3, 2, ceil=True)
    for cfg in ((192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64),
                (128, 128, 256, 24, 64, 64), (112, 144, 288, 32, 64, 64),
                (256, 160, 320, 32, 128, 128)):
        x = inception(x, *cfg)
    x = n.maxpool(x, 2, 2, ceil=True)
    x = inception(inception(x, 256, 160, 320, 32, 128, 128), 384, 192, 384, 48, 128, 128)
    n.out = n.gemm(n.flatten(n.gap(x)), 1000)
    return n


def mnasnet() -> Net:
    n = Net(name="mnasnet1_0")
    x = n.cba(n.cba("input", 32, 3, 2), 32, 3, 1, g=32)
    x = n.bn(n.conv(x, 16, 1))
    c = 16
    for co, k, s, e, reps in ((24, 3, 2, 3, 3), (40, 5, 2, 3, 3), (80, 5, 2, 6, 3),
                              (96, 3, 1, 6, 2), (192, 5, 2, 6, 4), (320, 3, 1, 6, 1)):
        for i in range(reps):
            x = inverted_residual(n, x, c, c * e, co, k, s if i == 0 else 1, "relu")
            c = co
    x = n.cba(x, 1280, 1)
    n.out = n.gemm(n.mean_hw(x), 1000)
    return n


def efficientnet_b0() -> Net:
    n = Net(name="efficientnet_b0")
    x = n.cba("input", 32, 3, 2, act="silu")
    c = 32
    for e, k, s, co, reps in ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2),
                              (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4),
                              (6, 3, 1, 320, 1)):
        for i in range(reps):
            x = inverted_residual(n, x, c, c * e, co, k, s if i == 0 else 1, "silu",
                                  (max(1, c // 4), "silu", "sigmoid"))
            c = co
    x = n.cba(x, 1280, 1, act="silu")
    n.out = n.gemm(n.flatten(n.gap(x)), 1000)
    return n


def alexnet() -> Net:
    n = Net(name="alexnet")
    x = n.maxpool(n.act(n.conv("input", 64, 11, 4, p=2, bias=True)), 3, 2)
    x = n.maxpool(n.act(n.conv(x, 192, 5, bias=True)), 3, 2)
    x = n.act(n.conv(n.act(n.conv(x, 384, 3, bias=True)), 256, 3, bias=True))
    x = n.maxpool(n.act(n.conv(x, 256, 3, bias=True)), 3, 2)
    x = n.avgpool(x, 1, 1)  # AdaptiveAvgPool2d((6, 6)) on a 6x6 map, as exported
    x = n.act(n.gemm(n.flatten(x), 4096))
    n.out = n.gemm(n.act(n.gemm(x, 4096)), 1000)
    return n


def vgg16() -> Net:
    n = Net(name="vgg16")
    x = "input"
    for item in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                 512, 512, 512, "M"):
        x = n.maxpool(x, 2, 2) if item == "M" else n.act(n.conv(x, item, 3, bias=True))
    x = n.avgpool(x, 1, 1)
    x = n.act(n.gemm(n.flatten(x), 4096))
    n.out = n.gemm(n.act(n.gemm(x, 4096)), 1000)
    return n


def regnet_y_400mf() -> Net:
    n = Net(name="regnet_y_400mf")
    x = n.cba("input", 32, 3, 2)
    c = 32
    for depth, width in ((1, 48), (3, 104), (6, 208), (6, 440)):
        for i in range(depth):
            s = 2 if i == 0 else 1
            y = n.cba(n.cba(x, width, 1), width, 3, s, g=width // 8)
            y = n.se(y, int(round(0.25 * c)), "relu", "sigmoid")
            y = n.bn(n.conv(y, width, 1))
            short = n.bn(n.conv(x, width, 1, s)) if s != 1 or c != width else x
            x = n.act(n.add(short, y))
            c = width
    n.out = n.gemm(n.flatten(n.gap(x)), 1000)
    return n


#: name -> (builder, torchvision's parameters, its GMACs as published)
MODELS = {
    "resnet18": (lambda: resnet(18), 11_689_512, 1.81),
    "resnet50": (lambda: resnet(50), 25_557_032, 4.09),
    "mobilenet_v2": (mobilenet_v2, 3_504_872, 0.30),
    "mobilenet_v3_large": (mobilenet_v3_large, 5_483_032, 0.22),
    "squeezenet1_0": (lambda: squeezenet("1_0"), 1_248_424, 0.82),
    "squeezenet1_1": (lambda: squeezenet("1_1"), 1_235_496, 0.35),
    "shufflenet_v2_x1_0": (shufflenet_v2, 2_278_604, 0.14),
    "densenet121": (densenet121, 7_978_856, 2.83),
    "googlenet": (googlenet, 6_624_904, 1.50),
    "mnasnet1_0": (mnasnet, 4_383_312, 0.31),
    "efficientnet_b0": (efficientnet_b0, 5_288_548, 0.39),
    "alexnet": (alexnet, 61_100_840, 0.71),
    "vgg16": (vgg16, 138_357_544, 15.47),
    "regnet_y_400mf": (regnet_y_400mf, 4_344_144, 0.40),
}
