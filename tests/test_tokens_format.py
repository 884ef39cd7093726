"""The format's token tensors and transformer kinds: shapes, parameters and MACs worked by hand,
the bundled transformers against their published parameter counts, and bad input as one line."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from click.testing import CliRunner

from nnaccel.cli import main
from nnaccel.errors import NetworkError
from nnaccel.loader import load_network, networks_dir, transformer_networks
from nnaccel.netwrite import dumps_network
from nnaccel.shapes import ShapeError, output_shape
from nnaccel.zoo import TRANSFORMERS

# A one-block attention over 4 tokens of width 8, 2 heads, with a decode-style cache input.
TINY = {
    "name": "tiny attention",
    "input_shape": [4],
    "source": "tests",
    "inputs": {"past_key": [2, 3, 4]},
    "layers": [
        {"name": "emb", "type": "embedding", "inputs": ["input"], "input_shapes": [[4]],
         "output_shape": [4, 8], "vocab": 100},
        {"name": "ln", "type": "layernorm", "inputs": ["emb"], "input_shapes": [[4, 8]],
         "output_shape": [4, 8]},
        {"name": "q", "type": "linear", "inputs": ["ln"], "input_shapes": [[4, 8]],
         "output_shape": [4, 8], "bias": True},
        {"name": "q.split", "type": "reshape", "inputs": ["q"], "input_shapes": [[4, 8]],
         "output_shape": [4, 2, 4]},
        {"name": "q.heads", "type": "transpose", "inputs": ["q.split"],
         "input_shapes": [[4, 2, 4]], "output_shape": [2, 4, 4], "perm": [1, 0, 2]},
        {"name": "k", "type": "concat", "inputs": ["past_key", "q.heads"],
         "input_shapes": [[2, 3, 4], [2, 4, 4]], "output_shape": [2, 7, 4], "axis": 1},
        {"name": "scores", "type": "matmul", "inputs": ["q.heads", "k"],
         "input_shapes": [[2, 4, 4], [2, 7, 4]], "output_shape": [2, 4, 7],
         "transpose_b": True},
        {"name": "mask", "type": "constant", "inputs": [], "input_shapes": [],
         "output_shape": [4, 7], "learned": False},
        {"name": "masked", "type": "add", "inputs": ["scores", "mask"],
         "input_shapes": [[2, 4, 7], [4, 7]], "output_shape": [2, 4, 7]},
        {"name": "p", "type": "softmax", "inputs": ["masked"], "input_shapes": [[2, 4, 7]],
         "output_shape": [2, 4, 7]},
        {"name": "g", "type": "activation", "inputs": ["p"], "input_shapes": [[2, 4, 7]],
         "output_shape": [2, 4, 7], "function": "gelu"},
    ],
}


def _write(tmp_path, data):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_tiny_attention_loads_with_hand_counts(tmp_path):
    net = load_network(_write(tmp_path, TINY))
    by = {layer.name: layer for layer in net.layers}
    assert net.inputs == (("past_key", (2, 3, 4)),)
    assert by["emb"].params == 100 * 8 and by["emb"].macs == 0
    assert by["ln"].params == 16 and by["ln"].elementwise_ops == 6 * 32
    assert by["q"].params == 8 * 8 + 8 and by["q"].macs == 4 * 8 * 8
    # 2 heads x 4 queries x 7 keys, each a dot product of 4
    assert by["scores"].macs == 2 * 4 * 7 * 4 and by["scores"].params == 0
    assert by["mask"].params == 0 and by["k"].output_shape == (2, 7, 4)
    assert net.params == 800 + 16 + 72
    assert net.macs == 256 + 224
    # the file comes back byte for byte, the top-level inputs with it
    again = json.loads(dumps_network(net))
    assert again["inputs"] == {"past_key": [2, 3, 4]}
    assert again["layers"][5]["axis"] == 1


@pytest.mark.parametrize("kind, shapes, kw, out", [
    ("linear", ((5, 7, 16),), {"out_channels": 3}, (5, 7, 3)),
    ("matmul", ((12, 197, 64), (12, 64, 197)), {}, (12, 197, 197)),
    ("matmul", ((8, 16, 64), (2, 16, 64)), {"transpose_b": True}, (8, 16, 16)),  # GQA
    ("transpose", ((3, 4, 5),), {"perm": (2, 0, 1)}, (5, 3, 4)),
    ("reshape", ((768, 14, 14),), {"target": (768, 196)}, (768, 196)),
    ("roll", ((56, 56, 96),), {"shifts": (-3, -3), "axes": (0, 1)}, (56, 56, 96)),
    ("embedding", ((128,),), {"out_channels": 768}, (128, 768)),
    ("slice", ((128, 2304),), {"channels": (768, 1536), "axis": 1}, (128, 768)),
    ("concat", ((12, 127, 64), (12, 1, 64)), {"axis": 1}, (12, 128, 64)),
    ("add", ((12, 5, 5), (5, 5)), {}, (12, 5, 5)),
    ("mul", ((8, 16, 64), (16, 64)), {}, (8, 16, 64)),
])
def test_shape_rules(kind, shapes, kw, out):
    width = kw.pop("out_channels", 0)
    assert output_shape(kind, shapes, width, **kw) == out


@pytest.mark.parametrize("kind, shapes, kw, field, words", [
    ("reshape", ((4, 6),), {"target": (5, 5)}, "output_shape", "keeps the element count"),
    ("matmul", ((12, 4, 64), (5, 64, 4)), {}, "input_shapes", "heads do not agree"),
    ("matmul", ((2, 4, 64), (2, 32, 4)), {}, "input_shapes", "reduced axis"),
    ("matmul", ((4, 64), (2, 64, 4)), {}, "input_shapes", "one rank"),
    ("transpose", ((3, 4, 5),), {"perm": (0, 0, 1)}, "perm", "not an order"),
    ("roll", ((3, 4),), {"shifts": (1,), "axes": (2,)}, "axes", "not distinct axes"),
    ("conv", ((16, 8),), {}, "input_shapes", "reads an image"),
    ("add", ((4, 8), (3, 8)), {}, "input_shapes", "broadcast"),
    ("concat", ((2, 3, 4), (2, 3, 5)), {"axis": 1}, "input_shapes", "every other axis"),
])
def test_bad_shapes_name_the_field(kind, shapes, kw, field, words):
    with pytest.raises(ShapeError) as err:
        output_shape(kind, shapes, 4, **kw)
    assert err.value.field == field and words in str(err.value)


def _bad(fn):
    data = copy.deepcopy(TINY)
    fn(data)
    return data


BAD = [
    ("reshape-count", lambda d: d["layers"][3].update(output_shape=[4, 3, 4]), "q.split",
     "keeps the element count"),
    ("unknown-kind", lambda d: d["layers"][1].update(type="groupnorm"), "ln",
     "unknown layer type"),
    ("cache-heads", lambda d: (d["inputs"].update(past_key=[3, 3, 4]),
                               d["layers"][5]["input_shapes"].__setitem__(0, [3, 3, 4])),
     "k", "every other axis"),
    ("heads", lambda d: (d["inputs"].update(other=[3, 3, 4]),
                         d["layers"][6].update(inputs=["q.heads", "other"],
                                               input_shapes=[[2, 4, 4], [3, 3, 4]])),
     "scores", "heads do not agree"),
    ("activation", lambda d: d["layers"][10].update(function="swish"), "g", "expected one of"),
    ("constant-reads", lambda d: d["layers"][7].update(inputs=["emb"]), "mask", "reads nothing"),
    ("input-named-input", lambda d: d.update(inputs={"input": [2]}), None, "other than"),
    ("rank-7", lambda d: d["inputs"].update(past_key=[1] * 7), None, "1 to 6"),
]


@pytest.mark.parametrize("case, fn, layer, words", BAD, ids=[b[0] for b in BAD])
def test_bad_transformer_input_is_one_line_and_status_2(tmp_path, case, fn, layer, words):
    path = _write(tmp_path, _bad(fn))
    with pytest.raises(NetworkError) as err:
        load_network(path)
    assert words in str(err.value)
    if layer:
        assert f"layer '{layer}'" in str(err.value)
    result = CliRunner().invoke(main, ["validate", str(path)], catch_exceptions=False)
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


# Published parameter counts: torchvision's vit_b_16, transformers' BertModel (with pooler)
# and GPT2LMHeadModel (head tied to the token embedding). The Llama-style decoder's by hand:
# 2·32000·512 (embedding and head) + 8·(2·512² + 2·512·128 + 3·512·1408 + 2·512) + 512.
PARAMS = {"vit-b16": 86_567_656, "bert-base-128": 109_482_240, "gpt2-prefill-128": 124_439_808,
          "gpt2-decode-127": 124_439_808, "llama-small-128": 55_321_088}
# MACs by hand, per encoder block then the ends:
# ViT: T=197: qkv 197·768·2304 + QK, PV 2·12·197·197·64 + proj 197·768² + MLP 2·197·768·3072
#      = 1,453,954,560; 12 blocks, the patch conv 768·3·16·16·196, the head 768·1000.
# BERT: T=128: 4·128·768² + 2·12·128²·64 + 2·128·768·3072 = 931,135,488; 12 blocks; pooler 768².
# GPT-2 prefill: the same blocks as BERT's (c_attn is Q, K, V at once) + the head 128·768·50257.
# GPT-2 decode: T=1 over 128 keys: 4·768² + 2·12·128·64 + 2·768·3072 = 7,274,496; head 768·50257.
# Llama-style: T=128: q, o 2·128·512² + k, v 2·128·512·128 + MLP 3·128·512·1408
#      + 2·8·128²·64 = 377,487,360 per layer; 8 layers; head 128·512·32000.
MACS = {"vit-b16": 12 * 1_453_954_560 + 115_605_504 + 768_000,
        "bert-base-128": 12 * 931_135_488 + 589_824,
        "gpt2-prefill-128": 12 * 931_135_488 + 4_940_464_128,
        "gpt2-decode-127": 12 * 7_274_496 + 38_597_376,
        "llama-small-128": 8 * 377_487_360 + 2_097_152_000}


@pytest.mark.parametrize("stem", sorted(PARAMS))
def test_bundled_transformers_have_the_published_counts(stem):
    net = load_network(stem)
    assert net.params == PARAMS[stem]
    if stem in MACS:
        assert net.macs == MACS[stem]


def test_the_transformer_files_are_current():
    assert sorted(p.stem for p in transformer_networks()) == sorted(s for s, _ in TRANSFORMERS)
    for stem, build in TRANSFORMERS:
        text = (networks_dir() / "transformers" / f"{stem}.json").read_text(encoding="utf-8")
        assert text == dumps_network(build()), "run `python -m nnaccel.zoo` to regenerate"


def test_the_decode_step_reads_its_cache_as_inputs():
    net = load_network("gpt2-decode-127")
    assert net.input_shape == (1,) and len(net.inputs) == 24  # + the ids: the 25 inputs
    assert all(shape == (12, 127, 64) for _, shape in net.inputs)
    present = net.layer("transformer.h.0.attn.present_key")
    assert present.output_shape == (12, 128, 64) and present.inputs[0] == "past_key.0"


def test_the_reference_runs_every_transformer_kind(tmp_path):
    from nnaccel.reference import run_reference

    net = load_network(_write(tmp_path, TINY))
    run = run_reference(net)
    assert run.ok, run.problems
    assert run.macs == net.macs == 256 + 224
    # the softmax's rows sum to 1 (the GELU after it keeps them positive and below 1)
    assert np.all((run.output > 0) & (run.output < 1))
    data = copy.deepcopy(TINY)
    data["layers"] = data["layers"][:10]  # up to the softmax
    soft = run_reference(load_network(_write(tmp_path, data))).output
    assert soft.shape == (2, 4, 7) and np.allclose(soft.sum(axis=-1), 1, atol=1e-5)


@pytest.mark.slow
def test_the_reference_checks_a_bundled_transformer():
    from nnaccel.reference import run_reference

    run = run_reference(load_network("llama-small-128"))
    assert run.ok, run.problems
    assert run.macs == 5_117_050_880


def test_the_transformer_files_pass_the_schema():
    import jsonschema

    from nnaccel.netschema import SCHEMA_PATH

    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    # two of the five (a schema's oneOf over every kind is slow on 300 layers): the decode
    # step's top-level inputs and concat on an axis, the Llama-style decoder's rmsnorm, silu,
    # fixed constants and grouped heads
    for stem in ("gpt2-decode-127", "llama-small-128"):
        path = networks_dir() / "transformers" / f"{stem}.json"
        assert [e.message for e in validator.iter_errors(json.loads(path.read_text()))] == []
    assert validator.is_valid(TINY)
    assert not validator.is_valid(_bad(lambda d: d["layers"][10].update(function="swish")))
