"""A small valid network file, and every way the tests break it (shared by two test files)."""

from __future__ import annotations

import copy

GOOD = {
    "name": "tiny",
    "input_shape": [3, 8, 8],
    "source": "tests",
    "paper": {"params_m": 0.001, "depth": [1, 1]},
    "layers": [
        {"name": "c1", "type": "conv", "inputs": ["input"], "input_shapes": [[3, 8, 8]],
         "output_shape": [4, 8, 8], "kernel": [3, 3], "padding": [1, 1], "batch_norm": True},
        {"name": "c2", "type": "conv", "inputs": ["c1"], "input_shapes": [[4, 8, 8]],
         "output_shape": [4, 8, 8], "kernel": [1, 1], "groups": 2},
        {"name": "p1", "type": "maxpool", "inputs": ["c1"], "input_shapes": [[4, 8, 8]],
         "output_shape": [4, 5, 5], "kernel": [3, 3], "stride": [2, 2], "padding": [1, 1],
         "ceil_mode": True},  # ceil(7 / 2) + 1 = 5; rounding down would give 4
        {"name": "sum", "type": "add", "inputs": ["c1", "c2"],
         "input_shapes": [[4, 8, 8], [4, 8, 8]], "output_shape": [4, 8, 8]},
        {"name": "cat", "type": "concat", "inputs": ["c1", "sum"],
         "input_shapes": [[4, 8, 8], [4, 8, 8]], "output_shape": [8, 8, 8]},
        {"name": "gap", "type": "global_avgpool", "inputs": ["cat"],
         "input_shapes": [[8, 8, 8]], "output_shape": [8, 1, 1]},
        {"name": "fc", "type": "fc", "inputs": ["p1"], "input_shapes": [[4, 5, 5]],
         "output_shape": [10, 1, 1], "bias": True},
    ],
}
C1, C2, P1, SUM, CAT, GAP, FC = range(7)


def mutate(fn):
    data = copy.deepcopy(GOOD)
    fn(data)
    return data


def setl(i, key, value):
    return lambda d: d["layers"][i].__setitem__(key, value)


def dell(i, key):
    return lambda d: d["layers"][i].pop(key)


# (case id, mutation of GOOD, layer named in the error, field named, words of the message)
BAD = [
    ("unknown-top-field", lambda d: d.__setitem__("author", "x"), None, "author",
     "unknown field"),
    ("missing-top-field", lambda d: d.pop("source"), None, "source", "missing"),
    ("empty-layers", lambda d: d.__setitem__("layers", []), None, "layers",
     "non-empty list"),
    ("bad-input-shape", lambda d: d.__setitem__("input_shape", [3, 0, 8]), None,
     "input_shape", ">= 1"),
    ("paper-unknown", lambda d: d["paper"].__setitem__("flops", 1), None, "paper.flops",
     "unknown field"),
    ("paper-type", lambda d: d["paper"].__setitem__("top1", "59"), None, "paper.top1",
     "number"),
    ("layer-not-object", lambda d: d["layers"].insert(0, 5), "#0", None, "expected an object"),
    ("unknown-type", setl(C1, "type", "deconv"), "c1", "type", "unknown layer type"),
    ("type-not-string", setl(C1, "type", ["conv"]), "c1", "type", "unknown layer type"),
    ("unknown-layer-field", setl(C1, "atrous", [1, 1]), "c1", "atrous", "unknown field"),
    ("field-of-other-type", setl(SUM, "kernel", [1, 1]), "sum", "kernel",
     "unknown field for a add layer"),
    ("missing-kernel", dell(C1, "kernel"), "c1", "kernel", "missing"),
    ("missing-output", dell(C2, "output_shape"), "c2", "output_shape", "missing"),
    ("missing-type", dell(C1, "type"), "c1", "type", "missing"),
    ("missing-name", dell(C1, "name"), "#0", "name", "missing"),
    ("kernel-string", setl(C1, "kernel", "3"), "c1", "kernel", "list of 2 integers"),
    ("kernel-three", setl(C1, "kernel", [3, 3, 3]), "c1", "kernel", "list of 2 integers"),
    ("groups-float", setl(C2, "groups", 1.5), "c2", "groups", "positive integer"),
    ("groups-bool", setl(C2, "groups", True), "c2", "groups", "positive integer"),
    ("bias-string", setl(FC, "bias", "yes"), "fc", "bias", "true or false"),
    ("inputs-string", setl(C2, "inputs", "c1"), "c2", "inputs", "list of layer names"),
    ("zero-channels", setl(C2, "output_shape", [0, 8, 8]), "c2", "output_shape", ">= 1"),
    ("zero-stride", setl(C1, "stride", [0, 1]), "c1", "stride", ">= 1"),
    ("zero-groups", setl(C2, "groups", 0), "c2", "groups", "positive integer"),
    ("negative-padding", setl(C1, "padding", [-1, 0]), "c1", "padding", ">= 0"),
    ("padding-three", setl(C1, "padding", [1, 1, 1]), "c1", "padding", "list of 2 integers"),
    ("sparsity-one", setl(C1, "sparsity", 1.0), "c1", "sparsity", "in [0, 1)"),
    ("sparsity-string", setl(C1, "sparsity", "0.4"), "c1", "sparsity", "in [0, 1)"),
    ("zero-dilation", setl(C1, "dilation", [0, 1]), "c1", "dilation", ">= 1"),
    ("input-missing", setl(C2, "inputs", ["nope"]), "c2", "inputs",
     "'nope' is not a layer"),
    ("input-later", setl(C2, "inputs", ["sum"]), "c2", "inputs", "comes later"),
    ("input-self", setl(C2, "inputs", ["c2"]), "c2", "inputs", "its own output"),
    ("two-inputs-to-conv", setl(C2, "inputs", ["c1", "input"]), "c2", "inputs",
     "exactly one input"),
    ("one-input-to-add", setl(SUM, "inputs", ["c1"]), "sum", "inputs", "at least two"),
    ("shapes-count", setl(SUM, "input_shapes", [[4, 8, 8]]), "sum", "input_shapes",
     "2 inputs"),
    ("input-shape-disagrees", setl(C2, "input_shapes", [[4, 8, 9]]), "c2", "input_shapes",
     "'c1' outputs [4, 8, 8]"),
    ("duplicate-name", setl(C2, "name", "c1"), "c1", "name", "comes earlier"),
    ("reserved-name", setl(C1, "name", "input"), "input", "name", "reserved"),
    ("conv-output-wrong", setl(C1, "output_shape", [4, 7, 8]), "c1", "output_shape",
     "rounding down) give [4, 8, 8]"),
    ("pool-rounding-wrong", setl(P1, "ceil_mode", False), "p1", "output_shape",
     "is [4, 5, 5] but kernel, stride, padding and ceil_mode give [4, 4, 4]"),
    ("pool-padding-too-big", setl(P1, "padding", [3, 3]), "p1", "padding",
     "smaller than the kernel"),
    ("kernel-too-big", setl(C2, "kernel", [9, 9]), "c2", "kernel", "does not fit"),
    ("groups-dont-divide", setl(C2, "groups", 3), "c2", "groups",
     "4 input channels do not divide into 3 groups"),
    ("groups-dont-divide-out",
     lambda d: (d["layers"][C2].update(groups=2, output_shape=[3, 8, 8])), "c2", "groups",
     "3 output channels"),
    ("add-shapes-differ",
     lambda d: d["layers"][SUM].update(inputs=["c1", "input"],
                                       input_shapes=[[4, 8, 8], [3, 8, 8]]),
     "sum", "input_shapes", "add needs inputs of one shape"),
    ("concat-sizes-differ",
     lambda d: d["layers"][CAT].update(inputs=["c1", "p1"],
                                       input_shapes=[[4, 8, 8], [4, 5, 5]]),
     "cat", "input_shapes", "one spatial size"),
    ("concat-channels-wrong", setl(CAT, "output_shape", [4, 8, 8]), "cat", "output_shape",
     "concat sums their channels"),
    ("fc-output-not-flat", setl(FC, "output_shape", [10, 2, 1]), "fc", "output_shape",
     "[Co, 1, 1]"),
    ("gap-output-wrong", setl(GAP, "output_shape", [8, 2, 2]), "gap", "output_shape",
     "[C, 1, 1]"),
]


