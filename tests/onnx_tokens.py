"""Transformer and modern-convnet graphs built with onnx.helper the way torch.onnx's TorchScript
exporter (opset 17) writes them, small and seeded: node names scoped by module
(``/encoder/layer.0/attention/self/query/MatMul``), Linear as MatMul by a transposed weight plus
an Add of the bias, GELU as Div-Erf-Add-Mul-Mul, GPT-2's as a Pow-Tanh chain, SiLU as
Sigmoid·x, RMSNorm as Pow-ReduceMean-Add-Sqrt-Reciprocal-Mul, heads split by Reshape and
Transpose, masks and rotary tables computed from constants (Range, ConstantOfShape, Where,
Expand, Cos/Sin, ...), torchvision's batch-first attention with its batch axis moved, Swin's
roll as Slice+Concat and its window partition, and ConvNeXt's channels-last blocks. The
expected counts are the frameworks' formulas, written out in each builder.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class TNet:
    def __init__(self, seed: int = 0):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.rng = np.random.default_rng(seed)
        self.n = 0

    # --- plumbing --------------------------------------------------------------------------
    def init(self, array, name: str | None = None, dtype=np.float32) -> str:
        name = name or f"onnx::c{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(np.asarray(array, dtype), name))
        return name

    def weight(self, shape, name: str | None = None) -> str:
        return self.init(self.rng.standard_normal(shape).astype(np.float32) * 0.02, name)

    def ints(self, values) -> str:
        return self.init(np.asarray(values, np.int64), dtype=np.int64)

    def input(self, name: str, dims, dtype=TensorProto.FLOAT) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, dtype, list(dims)))
        return name

    def op(self, scope: str, op: str, ins: list[str], n_out: int = 1, **attrs):
        self.n += 1
        name = f"{scope}/{op}" if not any(f"{scope}/{op}" == x.name for x in self.nodes) \
            else f"{scope}/{op}_{self.n}"
        outs = [f"{name}_output_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op, ins, outs, name=name, **attrs))
        return outs[0] if n_out == 1 else outs

    def model(self, *outs: str, name: str = "main_graph") -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, name, self.inputs,
            [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs],
            self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                  ir_version=8)
        graph = onnx.shape_inference.infer_shapes(model, data_prop=True).graph
        inferred = {v.name: v for v in [*graph.value_info, *graph.output]}
        for out in model.graph.output:  # the exporter writes each output's shape
            out.type.CopyFrom(inferred[out.name].type)
        return model

    # --- modules as torch.onnx writes them --------------------------------------------------
    def linear(self, scope: str, x: str, din: int, dout: int, bias: bool = True,
               weight: str | None = None) -> str:
        w = weight or self.weight((din, dout))
        y = self.op(scope, "MatMul", [x, w])
        if bias:
            y = self.op(scope, "Add", [self.init(np.zeros(dout), f"{scope[1:]}.bias"), y])
        return y

    def layer_norm(self, scope: str, x: str, d: int) -> str:
        return self.op(scope, "LayerNormalization",
                       [x, self.init(np.ones(d), f"{scope[1:]}.weight"),
                        self.init(np.zeros(d), f"{scope[1:]}.bias")], axis=-1, epsilon=1e-5)

    def rms_norm(self, scope: str, x: str, d: int) -> str:
        sq = self.op(scope, "Pow", [x, self.init(2.0)])
        mean = self.op(scope, "ReduceMean", [sq], axes=[-1], keepdims=1)
        eps = self.op(scope, "Add", [mean, self.init(1e-6)])
        r = self.op(scope, "Reciprocal", [self.op(scope, "Sqrt", [eps])])
        y = self.op(scope, "Mul", [x, r])
        return self.op(scope, "Mul", [self.init(np.ones(d), f"{scope[1:]}.weight"), y])

    def gelu_erf(self, scope: str, x: str) -> str:
        e = self.op(scope, "Erf", [self.op(scope, "Div", [x, self.init(1.4142135)])])
        y = self.op(scope, "Mul", [x, self.op(scope, "Add", [e, self.init(1.0)])])
        return self.op(scope, "Mul", [y, self.init(0.5)])

    def gelu_tanh(self, scope: str, x: str) -> str:
        cube = self.op(scope, "Mul", [self.op(scope, "Pow", [x, self.init(3.0)]),
                                      self.init(0.044715)])
        inner = self.op(scope, "Mul", [self.op(scope, "Add", [x, cube]), self.init(0.7978846)])
        t = self.op(scope, "Add", [self.op(scope, "Tanh", [inner]), self.init(1.0)])
        return self.op(scope, "Mul", [self.op(scope, "Mul", [x, self.init(0.5)]), t])

    def silu(self, scope: str, x: str) -> str:
        return self.op(scope, "Mul", [x, self.op(scope, "Sigmoid", [x])])

    def reshape(self, scope: str, x: str, dims) -> str:
        return self.op(scope, "Reshape", [x, self.ints(dims)])

    def reshape_by_shape(self, scope: str, x: str, keep: int, tail) -> str:
        """Reshape to x.shape[:keep] + tail, the target computed from Shape (a shape subgraph
        to fold)."""
        head = self.op(scope, "Slice", [self.op(scope, "Shape", [x]), self.ints([0]),
                                        self.ints([keep])])
        return self.op(scope, "Reshape", [x, self.op(scope, "Concat", [head, self.ints(tail)],
                                                     axis=0)])

    def transpose(self, scope: str, x: str, perm) -> str:
        return self.op(scope, "Transpose", [x], perm=list(perm))

    def attention(self, scope: str, q: str, k: str, v: str, dh: int, mask: str | None = None,
                  mask_where: bool = False) -> str:
        """softmax(q·kᵀ/√dh [+ mask])·v on [1, h, T, dh] operands."""
        s = self.op(scope, "MatMul", [q, self.transpose(scope, k, (0, 1, 3, 2))])
        s = self.op(scope, "Div", [s, self.init(float(np.sqrt(dh)))])
        if mask is not None and mask_where:
            s = self.op(scope, "Where", [mask, s, self.init(-1e9)])
        elif mask is not None:
            s = self.op(scope, "Add", [s, mask])
        return self.op(scope, "MatMul", [self.op(scope, "Softmax", [s], axis=-1), v])


def bert(layers: int = 2, d: int = 32, heads: int = 4, t: int = 8, vocab: int = 50,
         positions: int = 16) -> tuple[onnx.ModelProto, int, int]:
    """BERT as transformers exports it: ids in, three embeddings (positions and token types
    by constant indices), post-norm blocks, pooler. Returns (model, params, MACs)."""
    n, dh, mlp = TNet(), d // heads, 4 * d
    ids = n.input("input_ids", (1, t), TensorProto.INT64)
    e = n.op("/embeddings/word_embeddings", "Gather",
             [n.weight((vocab, d), "embeddings.word_embeddings.weight"), ids])
    buffer = n.ints(np.zeros((1, positions)))
    pos_ids = n.ints(np.arange(t).reshape(1, t))
    tt = n.op("/embeddings", "GatherElements", [n.op("/embeddings", "Expand", [
        buffer, n.ints([1, positions])]), pos_ids], axis=1)
    e = n.op("/embeddings", "Add", [e, n.op("/embeddings/token_type_embeddings", "Gather", [
        n.weight((2, d), "embeddings.token_type_embeddings.weight"), tt])])
    e = n.op("/embeddings", "Add", [e, n.op("/embeddings/position_embeddings", "Gather", [
        n.weight((positions, d), "embeddings.position_embeddings.weight"), pos_ids])])
    x = n.layer_norm("/embeddings/LayerNorm", e, d)
    for i in range(layers):
        p = f"/encoder/layer.{i}"
        a = f"{p}/attention/self"

        def heads_of(y: str, key: bool = False, a: str = a) -> str:
            y = n.reshape_by_shape(a, y, 2, [heads, dh])
            return n.transpose(a, y, (0, 2, 3, 1) if key else (0, 2, 1, 3))

        q = heads_of(n.linear(f"{a}/query", x, d, d))
        k = heads_of(n.linear(f"{a}/key", x, d, d), key=True)
        v = heads_of(n.linear(f"{a}/value", x, d, d))
        s = n.op(a, "Mul", [n.op(a, "MatMul", [q, k]), n.init(1 / np.sqrt(dh))])
        c = n.op(a, "MatMul", [n.op(a, "Softmax", [s], axis=-1), v])
        c = n.reshape(a, n.transpose(a, c, (0, 2, 1, 3)), [1, t, d])
        c = n.linear(f"{p}/attention/output/dense", c, d, d)
        x = n.layer_norm(f"{p}/attention/output/LayerNorm",
                         n.op(f"{p}/attention/output", "Add", [c, x]), d)
        h = n.gelu_erf(f"{p}/intermediate/intermediate_act_fn",
                       n.linear(f"{p}/intermediate/dense", x, d, mlp))
        h = n.linear(f"{p}/output/dense", h, mlp, d)
        x = n.layer_norm(f"{p}/output/LayerNorm", n.op(f"{p}/output", "Add", [h, x]), d)
    first = n.op("/pooler", "Gather", [x, n.ints(0)], axis=1)
    pooled = n.op("/pooler/activation", "Tanh", [n.op("/pooler/dense", "Gemm", [
        first, n.weight((d, d), "pooler.dense.weight"), n.init(np.zeros(d), "pooler.dense.bias")],
        transB=1)])
    params = (vocab + positions + 2) * d + 2 * d + layers * (
        4 * (d * d + d) + 2 * 2 * d + 2 * d * mlp + mlp + d) + d * d + d
    macs = layers * (4 * t * d * d + 2 * heads * t * t * dh + 2 * t * d * mlp) + d * d
    return n.model(x, pooled), params, macs


def gpt2(layers: int = 2, d: int = 32, heads: int = 4, t: int = 8, past: int = 0,
         vocab: int = 50, positions: int = 32,
         dynamo: bool = False) -> tuple[onnx.ModelProto, int, int]:
    """GPT-2 as transformers exports it: a prefill of `t` tokens with a causal mask (Where), or
    with `past` > 0 a decode step whose past keys and values are inputs; the LM head is the
    token embedding's table, written again transposed (TorchScript) or, `dynamo`, the table
    itself through a Transpose node, with node names like ``node_MatMul_12`` and the modules
    in each node's ``pkg.torch.onnx.name_scopes`` (the dynamo exporter)."""
    n, dh = TNet(), d // heads
    ids = n.input("input_ids", (1, t), TensorProto.INT64)
    wte = n.rng.standard_normal((vocab, d)).astype(np.float32)
    tok = n.op("/transformer/wte", "Gather", [n.init(wte, "transformer.wte.weight"), ids])
    pos = n.ints(np.arange(past, past + t).reshape(1, t))
    x = n.op("/transformer", "Add", [tok, n.op("/transformer/wpe", "Gather", [
        n.weight((positions, d), "transformer.wpe.weight"), pos])])
    mask = None
    if t > 1:  # the causal mask from constants: Range, compare, as transformers computes it
        r = n.op("/transformer", "Range", [n.ints(0), n.ints(t), n.ints(1)])
        col = n.op("/transformer", "Unsqueeze", [r, n.ints([0])])
        row = n.op("/transformer", "Unsqueeze", [r, n.ints([1])])
        mask = n.op("/transformer", "LessOrEqual", [col, row])
    for i in range(layers):
        p = f"/transformer/h.{i}"
        h = n.layer_norm(f"{p}/ln_1", x, d)
        qkv = n.linear(f"{p}/attn/c_attn", h, d, 3 * d)
        q, k, v = n.op(f"{p}/attn", "Split", [qkv, n.ints([d, d, d])], n_out=3, axis=2)
        q, k, v = (n.transpose(f"{p}/attn", n.reshape(f"{p}/attn", y, [1, t, heads, dh]),
                               (0, 2, 1, 3)) for y in (q, k, v))
        if past:
            k = n.op(f"{p}/attn", "Concat", [n.input(f"past_key.{i}", (1, heads, past, dh)), k],
                     axis=2)
            v = n.op(f"{p}/attn", "Concat", [n.input(f"past_value.{i}", (1, heads, past, dh)),
                                             v], axis=2)
        a = n.attention(f"{p}/attn", q, k, v, dh, mask, mask_where=True)
        a = n.reshape(f"{p}/attn", n.transpose(f"{p}/attn", a, (0, 2, 1, 3)), [1, t, d])
        x = n.op(p, "Add", [x, n.linear(f"{p}/attn/c_proj", a, d, d)])
        h = n.gelu_tanh(f"{p}/mlp/act", n.linear(f"{p}/mlp/c_fc", n.layer_norm(
            f"{p}/ln_2", x, d), d, 4 * d))
        x = n.op(p, "Add", [x, n.linear(f"{p}/mlp/c_proj", h, 4 * d, d)])
    x = n.layer_norm("/transformer/ln_f", x, d)
    head = n.op("", "Transpose", [n.inits[0].name], perm=[1, 0]) if dynamo else \
        n.init(wte.T.copy())
    logits = n.linear("/lm_head", x, d, vocab, bias=False, weight=head)
    if dynamo:
        for node in n.nodes:
            parts = node.name.strip("/").split("/")
            scopes = [""] + [".".join(parts[:i + 1]) for i in range(len(parts) - 1)] + \
                [parts[-1].lower()]
            node.metadata_props.add(key="pkg.torch.onnx.name_scopes", value=repr(scopes))
            node.name = f"node_{node.op_type}_{n.nodes.index(node)}"
    params = (vocab + positions) * d + layers * (
        4 * d + 3 * d * d + 3 * d + d * d + d + 4 * d * d + 4 * d + 4 * d * d + d) + 2 * d
    macs = layers * (t * d * 3 * d + 2 * heads * t * (past + t) * dh + t * d * d +
                     8 * t * d * d) + t * d * vocab
    return n.model(logits), params, macs


def llama(layers: int = 2, d: int = 32, heads: int = 4, kv_heads: int = 2, t: int = 8,
          mlp: int = 48, vocab: int = 50) -> tuple[onnx.ModelProto, int, int]:
    """A Llama-style decoder as transformers exports it: RMSNorm spelled out, rotary tables
    computed from inv_freq (MatMul, Concat, Cos, Sin of constants), rotate_half by Slice-Neg-
    Concat, grouped-query attention repeating key/value heads by Unsqueeze-Expand-Reshape, an
    additive causal mask, a SiLU-gated MLP, no biases, an untied head."""
    n, dh = TNet(), d // heads
    group = heads // kv_heads
    ids = n.input("input_ids", (1, t), TensorProto.INT64)
    x = n.op("/model/embed_tokens", "Gather", [n.weight((vocab, d), "model.embed_tokens.weight"),
                                               ids])
    inv = n.init((1.0 / 10000 ** (np.arange(0, dh, 2) / dh)).reshape(1, dh // 2, 1))
    angles = n.op("/model/rotary_emb", "Transpose", [n.op("/model/rotary_emb", "MatMul", [
        inv, n.init(np.arange(t, dtype=np.float32).reshape(1, 1, t))])], perm=[0, 2, 1])
    emb = n.op("/model/rotary_emb", "Concat", [angles, angles], axis=-1)
    cos = n.op("/model/rotary_emb", "Unsqueeze", [n.op("/model/rotary_emb", "Cos", [emb]),
                                                  n.ints([1])])
    sin = n.op("/model/rotary_emb", "Unsqueeze", [n.op("/model/rotary_emb", "Sin", [emb]),
                                                  n.ints([1])])
    causal = n.op("/model", "Mul", [n.op("/model", "Trilu", [n.op("/model", "ConstantOfShape", [
        n.ints([t, t])], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]))],
        upper=1), n.init(-1e9)])

    def rotary(scope: str, y: str) -> str:
        lo = n.op(scope, "Slice", [y, n.ints([0]), n.ints([dh // 2]), n.ints([3])])
        hi = n.op(scope, "Slice", [y, n.ints([dh // 2]), n.ints([2**62]), n.ints([3])])
        rot = n.op(scope, "Concat", [n.op(scope, "Neg", [hi]), lo], axis=-1)
        return n.op(scope, "Add", [n.op(scope, "Mul", [y, cos]), n.op(scope, "Mul", [rot, sin])])

    def repeat(scope: str, y: str) -> str:
        y = n.op(scope, "Expand", [n.op(scope, "Unsqueeze", [y, n.ints([2])]),
                                   n.ints([1, kv_heads, group, t, dh])])
        return n.reshape(scope, y, [1, heads, t, dh])

    for i in range(layers):
        p = f"/model/layers.{i}"
        a = f"{p}/self_attn"
        h = n.rms_norm(f"{p}/input_layernorm", x, d)
        q = n.linear(f"{a}/q_proj", h, d, d, bias=False)
        k = n.linear(f"{a}/k_proj", h, d, kv_heads * dh, bias=False)
        v = n.linear(f"{a}/v_proj", h, d, kv_heads * dh, bias=False)
        q, k, v = (n.transpose(a, n.reshape(a, y, [1, t, hh, dh]), (0, 2, 1, 3))
                   for y, hh in ((q, heads), (k, kv_heads), (v, kv_heads)))
        q, k = rotary(a, q), rotary(a, k)
        o = n.attention(a, q, repeat(a, k), repeat(a, v), dh, causal)
        o = n.reshape(a, n.transpose(a, o, (0, 2, 1, 3)), [1, t, d])
        x = n.op(p, "Add", [x, n.linear(f"{a}/o_proj", o, d, d, bias=False)])
        h = n.rms_norm(f"{p}/post_attention_layernorm", x, d)
        m = f"{p}/mlp"
        gate = n.silu(f"{m}/act_fn", n.linear(f"{m}/gate_proj", h, d, mlp, bias=False))
        up = n.op(m, "Mul", [gate, n.linear(f"{m}/up_proj", h, d, mlp, bias=False)])
        x = n.op(p, "Add", [x, n.linear(f"{m}/down_proj", up, mlp, d, bias=False)])
    logits = n.linear("/lm_head", n.rms_norm("/model/norm", x, d), d, vocab, bias=False)
    params = 2 * vocab * d + layers * (2 * d * d + 2 * d * kv_heads * dh + 3 * d * mlp + 2 * d) \
        + d
    macs = layers * (t * (2 * d * d + 2 * d * kv_heads * dh) + 2 * heads * t * t * dh +
                     3 * t * d * mlp) + t * d * vocab
    return n.model(logits), params, macs


def vit(layers: int = 2, d: int = 32, heads: int = 4, image: int = 32, patch: int = 8,
        classes: int = 10) -> tuple[onnx.ModelProto, int, int]:
    """torchvision's ViT: a patch conv, Reshape-Transpose to tokens, the class token expanded
    and concatenated, the position embedding added; nn.MultiheadAttention with its batch axis
    moved ([T, 1, D]), the fused in_proj cut by Unsqueeze-Transpose-Squeeze-Gather, q and kᵀ
    each scaled by dh^-1/4; the head on token 0."""
    n, dh, mlp = TNet(), d // heads, 4 * d
    x = n.input("image", (1, 3, image, image))
    g = image // patch
    tokens = g * g + 1
    x = n.op("/conv_proj", "Conv", [x, n.weight((d, 3, patch, patch), "conv_proj.weight"),
                                    n.init(np.zeros(d), "conv_proj.bias")],
             kernel_shape=[patch, patch], strides=[patch, patch])
    x = n.transpose("", n.reshape("", x, [1, d, g * g]), (0, 2, 1))
    cls = n.op("", "Expand", [n.weight((1, 1, d), "class_token"), n.ints([1, 1, 1])])
    x = n.op("", "Concat", [cls, x], axis=1)
    x = n.op("/encoder", "Add", [x, n.weight((1, tokens, d), "encoder.pos_embedding")])
    scale = n.init(float(dh) ** -0.25)
    for i in range(layers):
        p = f"/encoder/layers/encoder_layer_{i}"
        a = f"{p}/self_attention"
        h = n.transpose(a, n.layer_norm(f"{p}/ln_1", x, d), (1, 0, 2))  # [T, 1, D]
        qkv = n.linear(a, h, d, 3 * d)
        qkv = n.op(a, "Squeeze", [n.transpose(a, n.op(a, "Unsqueeze", [
            n.reshape(a, qkv, [tokens, 1, 3, d]), n.ints([0])]), (3, 1, 2, 0, 4)), n.ints([3])])
        q, k, v = (n.reshape(a, n.transpose(a, n.reshape(a, n.op(a, "Gather", [
            qkv, n.ints(j)], axis=0), [tokens, heads, dh]), (1, 0, 2)), [1, heads, tokens, dh])
            for j in range(3))
        s = n.op(a, "MatMul", [n.op(a, "Mul", [q, scale]), n.op(a, "Mul", [
            n.transpose(a, k, (0, 1, 3, 2)), scale])])
        c = n.op(a, "MatMul", [n.op(a, "Softmax", [s], axis=-1), v])
        c = n.reshape(a, n.transpose(a, c, (2, 0, 1, 3)), [tokens, d])
        c = n.op(a, "Gemm", [c, n.weight((d, d)), n.init(np.zeros(d))], transB=1)
        c = n.transpose(a, n.reshape(a, c, [tokens, 1, d]), (1, 0, 2))
        x = n.op(p, "Add", [c, x])
        h = n.gelu_erf(f"{p}/mlp/mlp.1", n.linear(f"{p}/mlp/mlp.0", n.layer_norm(
            f"{p}/ln_2", x, d), d, mlp))
        x = n.op(p, "Add", [x, n.linear(f"{p}/mlp/mlp.3", h, mlp, d)])
    x = n.layer_norm("/encoder/ln", x, d)
    first = n.op("", "Gather", [x, n.ints(0)], axis=1)
    out = n.op("/heads/head", "Gemm", [first, n.weight((classes, d), "heads.head.weight"),
                                       n.init(np.zeros(classes), "heads.head.bias")], transB=1)
    params = d * 3 * patch * patch + d + d + tokens * d + layers * (
        4 * d + 3 * d * d + 3 * d + d * d + d + 2 * d * mlp + mlp + d) + 2 * d + \
        d * classes + classes
    macs = d * 3 * patch * patch * g * g + layers * (
        tokens * 4 * d * d + 2 * heads * tokens * tokens * dh + 2 * tokens * d * mlp) + \
        d * classes
    return n.model(out, name="vit_small"), params, macs


def convnext(c: int = 16, size: int = 14, blocks: int = 2) -> tuple[onnx.ModelProto, int, int]:
    """torchvision's ConvNeXt blocks: depthwise 7x7, Transpose to channels-last, LayerNorm,
    Linear 4C, GELU, Linear C, Transpose back, layer scale [C, 1, 1], residual; a
    channels-last LayerNorm2d and the classifier."""
    n = TNet()
    x = n.input("image", (1, c, size, size))
    for i in range(blocks):
        p = f"/features/features.1/features.1.{i}"
        b = f"{p}/block"
        y = n.op(f"{b}/block.0", "Conv", [x, n.weight((c, 1, 7, 7)), n.init(np.zeros(c))],
                 kernel_shape=[7, 7], pads=[3, 3, 3, 3], group=c)
        y = n.layer_norm(f"{b}/block.2", n.transpose(f"{b}/block.1", y, (0, 2, 3, 1)), c)
        y = n.gelu_erf(f"{b}/block.4", n.linear(f"{b}/block.3", y, c, 4 * c))
        y = n.transpose(f"{b}/block.6", n.linear(f"{b}/block.5", y, 4 * c, c), (0, 3, 1, 2))
        y = n.op(p, "Mul", [n.init(np.full((c, 1, 1), 1e-6)), y])
        x = n.op(p, "Add", [y, x])
    x = n.op("/avgpool", "GlobalAveragePool", [x])
    x = n.transpose("/classifier/classifier.0", n.layer_norm(
        "/classifier/classifier.0", n.transpose("/classifier/classifier.0", x, (0, 2, 3, 1)),
        c), (0, 3, 1, 2))
    x = n.op("/classifier/classifier.2", "Gemm", [n.op("/classifier/classifier.1", "Flatten", [
        x], axis=1), n.weight((10, c)), n.init(np.zeros(10))], transB=1)
    params = blocks * (49 * c + c + 2 * c + 4 * c * c + 4 * c + 4 * c * c + c + c) + 2 * c + \
        10 * c + 10
    macs = blocks * (49 * c * size * size + 8 * c * c * size * size) + 10 * c
    return n.model(x, name="convnext_small"), params, macs


def swin(c: int = 8, size: int = 8, window: int = 4, heads: int = 2,
         shift: int = 2) -> tuple[onnx.ModelProto, int, int]:
    """torchvision's Swin block (shifted windows) and patch merging on a channels-last map:
    roll as Slice+Concat, window partition by Reshape-Transpose-Reshape, attention with a
    relative position bias gathered from a learned table by constant indices, a shift mask
    computed from constants, windows merged back, and PatchMerging's strided slices."""
    n = TNet()
    dh, w2, nw = c // heads, window * window, (size // window) ** 2
    x = n.input("x", (1, size, size, c))
    p = "/features/features.1/features.1.0"
    a = f"{p}/attn"
    h = n.layer_norm(f"{p}/norm1", x, c)

    def roll(y: str, k: int) -> str:
        for axis in (1, 2):
            lo = n.op(a, "Slice", [y, n.ints([-k]), n.ints([2**62]), n.ints([axis])])
            hi = n.op(a, "Slice", [y, n.ints([0]), n.ints([-k]), n.ints([axis])])
            y = n.op(a, "Concat", [lo, hi], axis=axis)
        return y

    h = roll(h, shift)
    g = size // window
    h = n.reshape(a, n.transpose(a, n.reshape(a, h, [1, g, window, g, window, c]),
                                 (0, 1, 3, 2, 4, 5)), [nw, w2, c])
    qkv = n.transpose(a, n.reshape(a, n.linear(f"{a}/qkv", h, c, 3 * c), [nw, w2, 3, heads, dh]),
                      (2, 0, 3, 1, 4))
    q, k, v = (n.op(a, "Gather", [qkv, n.ints(j)], axis=0) for j in range(3))
    q = n.op(a, "Mul", [q, n.init(dh ** -0.5)])
    s = n.op(a, "MatMul", [q, n.transpose(a, k, (0, 1, 3, 2))])
    table = n.weight(((2 * window - 1) ** 2, heads), f"{a[1:]}.relative_position_bias_table")
    index = n.ints(n.rng.integers(0, (2 * window - 1) ** 2, w2 * w2))
    bias = n.transpose(a, n.reshape(a, n.op(a, "Gather", [table, index]), [w2, w2, heads]),
                       (2, 0, 1))
    s = n.op(a, "Add", [s, n.op(a, "Unsqueeze", [bias, n.ints([0])])])
    ids = n.op(a, "Mul", [n.op(a, "ConstantOfShape", [n.ints([nw, 1, w2, w2])]), n.init(
        -100.0)])
    s = n.reshape(a, n.op(a, "Add", [n.reshape(a, s, [1, nw, heads, w2, w2]), n.op(
        a, "Unsqueeze", [ids, n.ints([0])])]), [nw, heads, w2, w2])
    o = n.op(a, "MatMul", [n.op(a, "Softmax", [s], axis=-1), v])
    o = n.linear(f"{a}/proj", n.reshape(a, n.transpose(a, o, (0, 2, 1, 3)), [nw, w2, c]), c, c)
    o = n.reshape(a, n.transpose(a, n.reshape(a, o, [1, g, g, window, window, c]),
                                 (0, 1, 3, 2, 4, 5)), [1, size, size, c])
    x = n.op(p, "Add", [x, roll(o, size - shift)])
    m = n.gelu_erf(f"{p}/mlp/mlp.1", n.linear(f"{p}/mlp/mlp.0", n.layer_norm(
        f"{p}/norm2", x, c), c, 4 * c))
    x = n.op(p, "Add", [x, n.linear(f"{p}/mlp/mlp.3", m, 4 * c, c)])
    merge = "/features/features.2"
    parts = [n.op(merge, "Slice", [x, n.ints([i, j]), n.ints([2**62, 2**62]), n.ints([1, 2]),
                                   n.ints([2, 2])]) for i, j in ((0, 0), (1, 0), (0, 1), (1, 1))]
    y = n.layer_norm(f"{merge}/norm", n.op(merge, "Concat", parts, axis=-1), 4 * c)
    y = n.linear(f"{merge}/reduction", y, 4 * c, 2 * c, bias=False)
    tokens = size * size
    params = 2 * c + 3 * c * c + 3 * c + (2 * window - 1) ** 2 * heads + c * c + c + 2 * c + \
        2 * 4 * c * c + 4 * c + c + 2 * 4 * c + 8 * c * c
    macs = tokens * 3 * c * c + 2 * nw * heads * w2 * w2 * dh + tokens * c * c + \
        tokens * 8 * c * c + (tokens // 4) * 8 * c * c
    return n.model(y, name="swin_block"), params, macs
