"""Transformers: ViT-B/16, BERT-base, GPT-2 small (prefill and one decode step) and a small
Llama-style decoder, written with the layer kinds of docs/network-format.md ("Tokens and
transformers") in the order their reference implementations run them.

Layouts follow the exports: a tensor of tokens is ``[T, D]``; attention splits ``D`` into heads
by a reshape to ``[T, heads, Dh]`` and a transpose to ``[heads, T, Dh]`` (the last axis stays
last, so the move is addressing, docs/model.md), and merges them back the same way.
"""

from __future__ import annotations

import math

from nnaccel.network import INPUT, Network
from nnaccel.zoo._builder import NetBuilder


def _heads(b: NetBuilder, name: str, x: str, heads: int) -> str:
    """[T, heads·Dh] -> [heads, T, Dh]."""
    t, d = b.shape(x)
    x = b.reshape(f"{name}.split", x, (t, heads, d // heads))
    return b.transpose(f"{name}.heads", x, (1, 0, 2))


def _merge(b: NetBuilder, name: str, x: str) -> str:
    """[heads, T, Dh] -> [T, heads·Dh]."""
    heads, t, dh = b.shape(x)
    x = b.transpose(f"{name}.tokens", x, (1, 0, 2))
    return b.reshape(f"{name}.merge", x, (t, heads * dh))


def _attention(b: NetBuilder, p: str, q: str, k: str, v: str, mask: str | None = None,
               scale_q: bool = False) -> str:
    """softmax(Q·Kᵀ / sqrt(Dh) [+ mask])·V on [heads, T, Dh] operands; returns [heads, T, Dh]."""
    if scale_q:  # torchvision's MultiheadAttention scales Q before the product
        q = b.activation(f"{p}.q_scale", q, "scale")
    s = b.matmul(f"{p}.scores", q, k, transpose_b=True)
    if not scale_q:
        s = b.activation(f"{p}.scale", s, "scale")
    if mask is not None:
        s = b.add(f"{p}.mask", s, mask)
    s = b.softmax(f"{p}.softmax", s)
    return b.matmul(f"{p}.context", s, v)


def _qkv_fused(b: NetBuilder, p: str, x: str, heads: int, name: str = "qkv") -> tuple[str, ...]:
    """One linear to 3·D, cut into Q, K, V along the features (GPT-2's c_attn, torchvision's
    in_proj); each split into heads."""
    d = b.shape(x)[-1]
    qkv = b.linear(f"{p}.{name}", x, 3 * d)
    return tuple(_heads(b, f"{p}.{n}", b.slice(f"{p}.{n}", qkv, i * d, (i + 1) * d, axis=1),
                        heads) for i, n in enumerate("qkv"))


def _mlp(b: NetBuilder, p: str, x: str, hidden: int, function: str,
         names: tuple[str, str] = ("fc1", "fc2")) -> str:
    d = b.shape(x)[-1]
    h = b.linear(f"{p}.{names[0]}", x, hidden)
    h = b.activation(f"{p}.{function}", h, function)
    return b.linear(f"{p}.{names[1]}", h, d)


def vit_b16() -> Network:
    """torchvision's vit_b_16: 16x16 patches of a 224x224 image, 12 pre-norm blocks."""
    d, heads, depth, mlp = 768, 12, 12, 3072
    b = NetBuilder((3, 224, 224))
    x = b.conv("conv_proj", INPUT, d, 16, 16, bias=True, batch_norm=False)
    x = b.reshape("patches", x, (d, 14 * 14))
    x = b.transpose("tokens", x, (1, 0))  # [196, 768]: the last axis moves, a timed move
    cls = b.constant("class_token", (1, d))
    x = b.concat_axis("with_class", 0, cls, x)
    pos = b.constant("encoder.pos_embedding", (197, d))
    x = b.add("encoder.add_pos", x, pos)
    for i in range(depth):
        p = f"encoder.layers.encoder_layer_{i}"
        h = b.layernorm(f"{p}.ln_1", x)
        q, k, v = _qkv_fused(b, f"{p}.self_attention", h, heads, "in_proj")
        a = _attention(b, f"{p}.self_attention", q, k, v, scale_q=True)
        a = b.linear(f"{p}.self_attention.out_proj", _merge(b, f"{p}.self_attention", a), d)
        x = b.add(f"{p}.add_1", x, a)
        h = b.layernorm(f"{p}.ln_2", x)
        x = b.add(f"{p}.add_2", x, _mlp(b, f"{p}.mlp", h, mlp, "gelu", ("0", "3")))
    x = b.layernorm("encoder.ln", x)
    x = b.slice("class_out", x, 0, 1, axis=0)
    b.linear("heads.head", x, 1000)
    return b.network(
        "ViT-B/16", "pytorch/vision: torchvision/models/vision_transformer.py (vit_b_16)", {},
        "86,567,656 parameters (torchvision's count): the class token and the position "
        "embedding are learned constants.")


def bert_base(tokens: int = 128) -> Network:
    """BERT-base (uncased): 12 post-norm blocks, with its pooler; one segment, no padding."""
    d, heads, depth, mlp, vocab = 768, 12, 12, 3072, 30522
    b = NetBuilder((tokens,))
    e = [b.embedding("embeddings.word_embeddings", INPUT, vocab, d),
         b.embedding("embeddings.position_embeddings", INPUT, 512, d),
         b.embedding("embeddings.token_type_embeddings", INPUT, 2, d)]
    x = b.add("embeddings.sum", *e)
    x = b.layernorm("embeddings.LayerNorm", x)
    for i in range(depth):
        p = f"encoder.layer.{i}"
        q, k, v = (_heads(b, f"{p}.attention.self.{n}",
                          b.linear(f"{p}.attention.self.{n}", x, d), heads)
                   for n in ("query", "key", "value"))
        a = _attention(b, f"{p}.attention.self", q, k, v)
        a = b.linear(f"{p}.attention.output.dense", _merge(b, f"{p}.attention.self", a), d)
        x = b.layernorm(f"{p}.attention.output.LayerNorm",
                        b.add(f"{p}.attention.output.add", a, x))
        h = b.linear(f"{p}.intermediate.dense", x, mlp)
        h = b.activation(f"{p}.intermediate.gelu", h, "gelu")
        h = b.linear(f"{p}.output.dense", h, d)
        x = b.layernorm(f"{p}.output.LayerNorm", b.add(f"{p}.output.add", h, x))
    x = b.slice("pooler.first_token", x, 0, 1, axis=0)
    x = b.activation("pooler.tanh", b.linear("pooler.dense", x, d), "tanh")
    return b.network(
        f"BERT-base ({tokens} tokens)",
        "google-research/bert: modeling.py (BERT-Base, Uncased); huggingface/transformers: "
        "models/bert/modeling_bert.py", {},
        "109,482,240 parameters with the pooler. The token ids are the only input: one "
        "segment and no padding, so no attention mask; the position and segment "
        "embeddings read one row per token as the word embedding does.")


def gpt2(tokens: int = 128, past: int = 0) -> Network:
    """GPT-2 small: 12 pre-norm blocks and the tied LM head, over ``tokens`` new tokens after
    ``past`` cached ones (``past > 0``: a decode step reading its keys and values from DRAM)."""
    d, heads, depth, vocab = 768, 12, 12, 50257
    dh = d // heads
    cache = {f"past_{kv}.{i}": (heads, past, dh) for i in range(depth) for kv in ("key", "value")}
    b = NetBuilder((tokens,), cache if past else None)
    x = b.add("transformer.embed", b.embedding("transformer.wte", INPUT, vocab, d),
              b.embedding("transformer.wpe", INPUT, 1024, d))
    mask = None
    if tokens > 1:  # causal: a new token sees the past and the new tokens up to itself
        mask = b.constant("transformer.causal_mask", (tokens, past + tokens), learned=False)
    for i in range(depth):
        p = f"transformer.h.{i}"
        h = b.layernorm(f"{p}.ln_1", x)
        q, k, v = _qkv_fused(b, f"{p}.attn", h, heads, "c_attn")
        if past:
            k = b.concat_axis(f"{p}.attn.present_key", 1, f"past_key.{i}", k)
            v = b.concat_axis(f"{p}.attn.present_value", 1, f"past_value.{i}", v)
        a = _attention(b, f"{p}.attn", q, k, v, mask)
        a = b.linear(f"{p}.attn.c_proj", _merge(b, f"{p}.attn", a), d)
        x = b.add(f"{p}.add_1", x, a)
        h = b.layernorm(f"{p}.ln_2", x)
        x = b.add(f"{p}.add_2", x, _mlp(b, f"{p}.mlp", h, 4 * d, "gelu_tanh",
                                        ("c_fc", "c_proj")))
    x = b.layernorm("transformer.ln_f", x)
    b.linear("lm_head", x, vocab, bias=False, tied=True)
    what = f"decode step (1 new token, {past} past)" if past else f"prefill ({tokens} tokens)"
    return b.network(
        f"GPT-2 small {what}", "openai/gpt-2: src/model.py; huggingface/transformers: "
        "models/gpt2/modeling_gpt2.py", {},
        "124,439,808 parameters: the LM head's weights are the token embedding's (tied)."
        + (" The past keys and values are inputs in DRAM; the new token's are written "
           "next to them (present_key/value concatenate by address)." if past else ""))


def llama_small(tokens: int = 128) -> Network:
    """A small Llama-style decoder (the layout of Llama 2/3 at a small size): RMSNorm, rotary
    position embedding, grouped-query attention, a SiLU-gated MLP, an untied head."""
    d, heads, kv_heads, depth, mlp, vocab = 512, 8, 2, 8, 1408, 32000
    dh = d // heads
    b = NetBuilder((tokens,))
    x = b.embedding("model.embed_tokens", INPUT, vocab, d)
    cos = b.constant("model.rotary_emb.cos", (tokens, dh), learned=False)
    sin = b.constant("model.rotary_emb.sin", (tokens, dh), learned=False)
    mask = b.constant("model.causal_mask", (tokens, tokens), learned=False)

    def rotary(p: str, t: str) -> str:
        half = b.shape(t)[-1] // 2
        lo = b.slice(f"{p}.lo", t, 0, half, axis=2)
        hi = b.activation(f"{p}.neg", b.slice(f"{p}.hi", t, half, 2 * half, axis=2), "scale")
        rot = b.concat_axis(f"{p}.rotate_half", 2, hi, lo)
        return b.add(f"{p}.rotary", b.mul(f"{p}.cos", t, cos), b.mul(f"{p}.sin", rot, sin))

    for i in range(depth):
        p = f"model.layers.{i}"
        h = b.rmsnorm(f"{p}.input_layernorm", x)
        a = f"{p}.self_attn"
        q = rotary(f"{a}.q", _heads(b, f"{a}.q_proj", b.linear(f"{a}.q_proj", h, d, False),
                                    heads))
        k = rotary(f"{a}.k", _heads(b, f"{a}.k_proj",
                                    b.linear(f"{a}.k_proj", h, kv_heads * dh, False), kv_heads))
        v = _heads(b, f"{a}.v_proj", b.linear(f"{a}.v_proj", h, kv_heads * dh, False), kv_heads)
        o = _attention(b, a, q, k, v, mask)
        x = b.add(f"{p}.add_1", x, b.linear(f"{a}.o_proj", _merge(b, a, o), d, False))
        h = b.rmsnorm(f"{p}.post_attention_layernorm", x)
        m = f"{p}.mlp"
        gate = b.activation(f"{m}.act_fn", b.linear(f"{m}.gate_proj", h, mlp, False), "silu")
        up = b.mul(f"{m}.gated", gate, b.linear(f"{m}.up_proj", h, mlp, False))
        x = b.add(f"{p}.add_2", x, b.linear(f"{m}.down_proj", up, d, False))
    x = b.rmsnorm("model.norm", x)
    b.linear("lm_head", x, vocab, bias=False)
    params = llama_small_params(d, heads, kv_heads, depth, mlp, vocab)
    return b.network(
        f"Llama-style small ({tokens} tokens)",
        "inferred: the Llama layout (huggingface/transformers: models/llama/modeling_llama.py) "
        f"with hidden {d}, {heads} heads ({kv_heads} key/value heads), {depth} layers, MLP "
        f"{mlp}, vocabulary {vocab}", {},
        f"{params:,} parameters; the rotary tables and the causal mask are fixed constants, "
        f"not parameters. Attention is scaled by 1/sqrt({dh}) = {1 / math.sqrt(dh):g}.")


def llama_small_params(d: int, heads: int, kv_heads: int, depth: int, mlp: int,
                       vocab: int) -> int:
    """The parameters of the Llama layout, as transformers' LlamaForCausalLM counts them."""
    dh = d // heads
    attn = d * d + 2 * d * kv_heads * dh + d * d
    return vocab * d * 2 + depth * (attn + 3 * d * mlp + 2 * d) + d
