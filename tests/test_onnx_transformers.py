"""Transformers and modern convnets from ONNX: small seeded graphs written the way torch.onnx
exports ViT, Swin, ConvNeXt, BERT, GPT-2 (prefill and a decode step with its KV cache as
inputs) and a Llama-style decoder (tests/onnx_tokens.py). Each imports to the layer kinds of
docs/network-format.md with the framework's parameter and MAC counts, exactly (the formulas
are the frameworks', written out in the builders); ONNX's own shape inference agrees with every
tensor on the way (the importer checks it)."""

from __future__ import annotations

import collections

import pytest

pytest.importorskip("onnx")

import onnx_tokens  # noqa: E402

from nnaccel.errors import NnaccelError  # noqa: E402
from nnaccel.onnxio.importer import import_model  # noqa: E402

BUILDERS = {
    "bert": onnx_tokens.bert,
    "gpt2-prefill": onnx_tokens.gpt2,
    "gpt2-decode": lambda: onnx_tokens.gpt2(t=1, past=7),
    "gpt2-dynamo": lambda: onnx_tokens.gpt2(vocab=2100, dynamo=True),
    "llama": onnx_tokens.llama,
    "vit": onnx_tokens.vit,
    "convnext": onnx_tokens.convnext,
    "swin": onnx_tokens.swin,
}


def imported(name: str):
    model, params, macs = BUILDERS[name]()
    return import_model(f"{name}.onnx", model=model), params, macs


def kinds(network) -> collections.Counter:
    return collections.Counter(layer.type for layer in network.layers)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_params_and_macs_are_the_frameworks(name):
    network, params, macs = imported(name)
    assert (network.params, network.macs) == (params, macs)


def test_bert_layers_and_names():
    network, _, _ = imported("bert")
    k = kinds(network)
    assert (k["embedding"], k["layernorm"], k["softmax"], k["matmul"]) == (3, 5, 2, 4)
    functions = collections.Counter(la.function for la in network.layers
                                    if la.type == "activation")
    assert functions == {"gelu": 2, "scale": 2, "tanh": 1}  # GELU from Div-Erf-Add-Mul-Mul
    gelu = [la for la in network.layers if la.type == "activation" and la.function == "gelu"]
    assert [la.name for la in gelu] == [f"encoder.layer.{i}.intermediate.intermediate_act_fn"
                                        ".gelu" for i in range(2)]
    scores = [la for la in network.layers if la.type == "matmul" and la.transpose_b]
    assert [la.input_shapes for la in scores] == [((4, 8, 8), (4, 8, 8))] * 2  # K as stored
    assert network.layer("encoder.layer.1.attention.self.query").type == "linear"
    assert network.layer("encoder.layer.1.attention.self.query").bias
    assert network.name == "bert"  # 'main_graph' says nothing: the file's name
    assert network.input_shape == (8,)
    # position and token-type ids are constants: their tables still count, as rows gathered
    pos = network.layer("embeddings.position_embeddings")
    assert (pos.type, pos.vocab, pos.output_shape) == ("embedding", 16, (8, 32))


def test_gpt2_decode_step_reads_its_cache_as_inputs():
    network, _, _ = imported("gpt2-decode")
    assert network.input_shape == (1,)
    assert dict(network.inputs) == {f"past_{kv}.{i}": (4, 7, 8) for i in range(2)
                                    for kv in ("key", "value")}
    present = [la for la in network.layers if la.type == "concat"]
    assert [la.inputs[0] for la in present] == ["past_key.0", "past_value.0", "past_key.1",
                                                "past_value.1"]
    assert all(la.axis == 1 and la.output_shape == (4, 8, 8) for la in present)
    head = network.layer("lm_head")
    assert head.tied and head.params == 0  # the table is counted once, at the embedding
    assert {la.function for la in network.layers if la.type == "activation"} >= {"gelu_tanh"}


def test_gpt2_as_the_dynamo_exporter_writes_it():
    """The LM head reads the table through a Transpose node (a view, never folded: a real
    table is 38.6 M elements, above the folding limit) and is tied by that; layers are named
    from the name scopes in the nodes' metadata."""
    network, _, _ = imported("gpt2-dynamo")
    assert network.layer("lm_head").tied
    assert network.layer("transformer.h.1.attn.c_attn").type == "linear"
    assert network.layer("transformer.h.1.ln_2").type == "layernorm"


def test_gpt2_prefill_mask_is_a_fixed_constant():
    network, _, _ = imported("gpt2-prefill")
    masks = [la for la in network.layers if la.type == "constant"]
    assert masks and all(not la.learned and la.params == 0 for la in masks)


def test_llama_norms_rotary_and_grouped_heads():
    network, _, _ = imported("llama")
    k = kinds(network)
    assert k["rmsnorm"] == 5 and k["layernorm"] == 0
    assert network.layer("model.layers.0.input_layernorm").type == "rmsnorm"
    functions = collections.Counter(la.function for la in network.layers
                                    if la.type == "activation")
    assert functions["silu"] == 2
    rotary = [la for la in network.layers if la.type == "constant"]
    assert rotary and not any(la.learned for la in rotary)  # cos/sin and the mask: computed
    repeats = [la for la in network.layers if la.type == "concat" and len(la.inputs) == 2 and
               la.inputs[0] == la.inputs[1]]
    assert len(repeats) == 4  # k and v heads repeated for their query heads, per layer


def test_vit_class_token_and_position_embedding_are_learned_constants():
    network, _, _ = imported("vit")
    learned = {la.output_shape for la in network.layers
               if la.type == "constant" and la.learned}
    assert learned == {(1, 32), (17, 32)}
    assert network.layer("heads.head").output_shape == (10,)


def test_convnext_channels_last_block():
    network, _, _ = imported("convnext")
    k = kinds(network)
    assert (k["conv"], k["linear"], k["layernorm"], k["fc"]) == (2, 4, 3, 1)
    scales = [la for la in network.layers if la.type == "constant"]
    assert [(la.output_shape, la.params) for la in scales] == [((16, 1, 1), 16)] * 2
    assert network.layer("features.1.0.block.0").type == "conv"
    assert network.layer("features.1.0.block.3").bias


def test_swin_window_attention():
    network, _, _ = imported("swin")
    table = [la for la in network.layers if la.type == "embedding"]
    assert [(la.vocab, la.output_shape) for la in table] == [(49, (256, 2))]
    assert any(la.type == "transpose" and len(la.perm) == 5 for la in network.layers)
    rolls = [(la.shifts, la.axes) for la in network.layers if la.type == "roll"]
    assert rolls == [((2,), (0,)), ((2,), (1,)), ((6,), (0,)), ((6,), (1,))]  # shift, back


@pytest.mark.parametrize("name", ["bert", "gpt2-decode", "llama"])
def test_a_dynamic_sequence_length_is_one_line(name):
    model, _, _ = BUILDERS[name]()
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "sequence"
    with pytest.raises(NnaccelError) as err:
        import_model("m.onnx", model=model)
    assert "dynamic sequence length 1 ('sequence')" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_numpy_reference_and_onnxruntime_agree_with_the_import(tmp_path, name):
    """`validate --reference`'s two engines: numpy runs every layer (shapes and MACs by doing
    the work) and onnxruntime runs the model; every tensor the network models has the shape
    onnxruntime computes, and the parameters are the tensors' elements."""
    pytest.importorskip("onnxruntime")
    import onnx

    from nnaccel.onnxio import check_with_onnxruntime
    from nnaccel.reference import run_reference

    model, params, _ = BUILDERS[name]()
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    network = import_model(path)
    run = run_reference(network)
    assert run.ok, run.problems[:1]
    check = check_with_onnxruntime(path, network)
    assert check.ok, check.problems[:1]
    assert check.params == params and check.tensors > len(network.layers) // 2
