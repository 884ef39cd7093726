"""The JSON Schema of network files, generated from the loader's own field tables.

``nnaccel/network.schema.json`` (``SCHEMA_PATH``, shipped with the package) is written from
here (``python -m nnaccel.zoo``) and a test checks the file is current, so the schema cannot
drift from what ``load_network`` accepts. The schema covers the structure and the per-value
limits (`nnaccel.limits`); the loader also checks what a schema cannot say (shapes follow from
the parameters, inputs come earlier, groups divide the channels, a shape's elements and a
layer's work stay within their limits).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nnaccel import limits
from nnaccel.netformat import (
    COMMON_LAYER_FIELDS,
    OPTIONAL,
    PAPER_FIELDS,
    TOP_FIELDS,
    TYPE_FIELDS,
)
from nnaccel.shapes import (
    ACTIVATIONS,
    LAYER_TYPES,
    MAX_RANK,
    MULTI_INPUT_TYPES,
    TWO_INPUT_TYPES,
    UPSAMPLE_MODES,
)

#: The published schema, inside the package (networks/ holds networks only).
SCHEMA_PATH = Path(__file__).resolve().parent / "network.schema.json"

DESCRIPTIONS = {
    "name": "The network's name as the paper writes it (e.g. 1.0-SqNxt-23v5).",
    "input_shape": "The network input: an image [C, H, W], or token ids [T].",
    "inputs": "The network's other inputs (a decode step's past keys and values): name -> "
              "shape. They live in DRAM.",
    "source": "Where the definition comes from (repository: path), or 'inferred: <rule>'.",
    "notes": "Free text: quirks of the definition, how close an inferred network comes.",
    "paper": "The paper's figures for this network (Tables 1-3).",
    "layers": "The layers in topological order.",
    "layer.name": "Unique layer name; 'input' is reserved for the network input.",
    "layer.type": "The layer type.",
    "layer.inputs": "Names of the producer layers, or 'input'; add/concat take two or more.",
    "layer.input_shapes": "The shape of each input ([C, H, W], [T, D], ...), in the order of "
                          "'inputs'.",
    "layer.output_shape": "The shape of the output; an fc layer's is [Co, 1, 1].",
    "layer.axis": "concat, slice: the axis they join or cut (0: channels of an image).",
    "layer.perm": "transpose: output axis i is input axis perm[i].",
    "layer.shifts": "roll: the shift along each of 'axes'.",
    "layer.axes": "roll: the axes rolled.",
    "layer.transpose_b": "matmul: the second operand is stored [..., E, D] (attention's keys).",
    "layer.function": "activation: the element-wise function.",
    "layer.vocab": "embedding: the rows of the table.",
    "layer.learned": "constant: a learned tensor (counted as parameters), not a fixed table.",
    "layer.tied": "linear: its weights are an embedding's table, counted there (GPT-2's head).",
    "layer.kernel": "[kh, kw].",
    "layer.stride": "[sh, sw].",
    "layer.padding": "[ph, pw], added on both sides, or [top, left, bottom, right].",
    "layer.groups": "conv: channel groups; both channel counts divide by it (depthwise: = C). "
                    "shuffle: the groups whose channels it interleaves.",
    "layer.dilation": "[dh, dw]: spacing of the kernel taps.",
    "layer.sparsity": "Fraction of zero weights of this layer; the hardware's when absent.",
    "layer.channels": "[start, end): the range the slice keeps along its axis.",
    "layer.scale": "[sh, sw]: integer upsampling factors.",
    "layer.mode": "Upsampling interpolation: nearest or linear.",
    "layer.bias": "The layer has a bias per output channel (a layernorm: its shift).",
    "layer.batch_norm": "A batch norm (learned scale and shift per channel) follows, folded.",
    "layer.ceil_mode": "Pooling rounds the output size up, as Caffe does.",
    "paper.params_m": "Parameters, millions.",
    "paper.macs_m": "MACs, millions (Table 3).",
    "paper.top1": "ImageNet top-1 accuracy, %.",
    "paper.top5": "ImageNet top-5 accuracy, %.",
    "paper.depth": "Blocks per stage (Table 3).",
    "paper.time_8x8_32KB": "Table 3: inference time, normalized, 8x8 PEs and 32KB.",
    "paper.energy_8x8_32KB": "Table 3: energy, 8x8 PEs and 32KB.",
    "paper.time_16x16_128KB": "Table 3: inference time, normalized, 16x16 PEs and 128KB.",
    "paper.energy_16x16_128KB": "Table 3: energy, 16x16 PEs and 128KB.",
}


def _int(low: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": limits.MAX_DIM}


def _ints(n: int, low: int) -> dict[str, Any]:
    return {"type": "array", "items": _int(low), "minItems": n, "maxItems": n}


def _shape() -> dict[str, Any]:
    return {"type": "array", "items": _int(1), "minItems": 1, "maxItems": MAX_RANK}


def _kind(kind: str) -> dict[str, Any]:
    text = {"type": "string", "minLength": 1, "maxLength": limits.MAX_TEXT}
    axis = {"type": "integer", "minimum": 0, "maximum": MAX_RANK - 1}
    return {
        "string": text,
        "shape": _shape(),
        "axis": axis,
        "axes": {"type": "array", "items": axis, "minItems": 1, "maxItems": MAX_RANK},
        "shifts": {"type": "array", "items": {"type": "integer", "minimum": -limits.MAX_DIM,
                                              "maximum": limits.MAX_DIM},
                   "minItems": 1, "maxItems": MAX_RANK},
        "function": {"enum": list(ACTIVATIONS)},
        "inputs": {"type": "object", "minProperties": 1,
                   "propertyNames": {"minLength": 1, "maxLength": limits.MAX_TEXT,
                                     "not": {"const": "input"}},
                   "additionalProperties": _shape()},
        "pair": _ints(2, 1),
        "padding": {"anyOf": [_ints(2, 0), _ints(4, 0)]},
        "range": _ints(2, 0),
        "fraction": {"type": "number", "minimum": 0, "maximum": limits.MAX_SPARSITY},
        "mode": {"enum": list(UPSAMPLE_MODES)},
        "positive integer": _int(1),
        "boolean": {"type": "boolean"},
        "number": {"type": "number", "minimum": 0, "maximum": limits.MAX_PAPER_NUMBER},
        "names": {"type": "array", "items": text, "minItems": 1},
        "shapes": {"type": "array", "items": _shape(), "minItems": 1},
        "depth": {"type": "array", "items": _int(1), "minItems": 1},
    }[kind]


def _described(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": DESCRIPTIONS[key], **schema}


def _layer_schema(ltype: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        key: _described(f"layer.{key}", _kind(kind)) for key, kind in COMMON_LAYER_FIELDS.items()
    }
    props["type"] = _described("layer.type", {"const": ltype})
    required = list(COMMON_LAYER_FIELDS)
    for key, (kind, default) in TYPE_FIELDS[ltype].items():
        schema = _described(f"layer.{key}", _kind(kind))
        if default is None:
            required.append(key)
        elif default is not OPTIONAL:
            schema["default"] = list(default) if isinstance(default, tuple) else default
        props[key] = schema
    if ltype in MULTI_INPUT_TYPES:
        props["inputs"] = {**props["inputs"], "minItems": 2}
    elif ltype == "constant":
        for key in ("inputs", "input_shapes"):
            props[key] = {k: v for k, v in props[key].items() if k != "minItems"}
            props[key]["maxItems"] = 0
    elif ltype in TWO_INPUT_TYPES:
        props["inputs"] = {**props["inputs"], "minItems": 2, "maxItems": 2}
    else:
        props["inputs"] = {**props["inputs"], "maxItems": 1}
    if ltype != "constant":
        props["input_shapes"] = {**props["input_shapes"], "minItems": 1}
    return {"title": f"{ltype} layer", "type": "object", "properties": props,
            "required": required, "additionalProperties": False}


def json_schema() -> dict[str, Any]:
    """The schema of a network file, as a JSON-ready dict."""
    paper = {key: _described(f"paper.{key}", _kind(kind)) for key, kind in PAPER_FIELDS.items()}
    props: dict[str, Any] = {}
    for key, (kind, _) in TOP_FIELDS.items():
        if key == "paper":
            schema = {"type": "object", "properties": paper, "additionalProperties": False}
        elif key == "layers":
            schema = {"type": "array", "minItems": 1, "maxItems": limits.MAX_LAYERS,
                      "items": {"oneOf": [_layer_schema(t) for t in LAYER_TYPES]}}
        else:
            schema = _kind(kind)
        props[key] = _described(key, schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "nnaccel network file",
        "description": "Layer shapes of a neural network, for nnaccel. See "
                       "docs/network-format.md; the loader checks more than this schema can.",
        "type": "object",
        "properties": props,
        "required": [key for key, (_, required) in TOP_FIELDS.items() if required],
        "additionalProperties": False,
    }


def dumps_schema() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"
