"""Writes bench/workloads/*.py: the paper's benchmark layers as TVMScript, at CPU-friendly sizes.

    .venv/bin/python scripts/bench/gen_workloads.py      # rewrites every file from the TE below

Each layer is defined here in TE (the source of truth, with its provenance) and printed as
TVMScript, which the bridge parses without executing any Python. The numpy reference of each
one is in references.py beside this file; python-bridge/tests/test_bench_workloads.py checks
that the untuned TVM build matches it.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from typing import Callable

from tvm import te, tirx, topi

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(REPO, "bench", "workloads")


@dataclass
class Layer:
    name: str
    provenance: str
    build: Callable[[], list[te.Tensor]]


def _attention(heads: int, kv_heads: int, seq: int, dim: int, causal: bool) -> list[te.Tensor]:
    """softmax(Q K^T / sqrt(d) [+ causal mask]) V, heads batched; grouped-query when kv_heads < heads."""
    group = heads // kv_heads
    q = te.placeholder((heads, seq, dim), name="Q")
    k = te.placeholder((kv_heads, seq, dim), name="K")
    v = te.placeholder((kv_heads, seq, dim), name="V")
    scores = _qk(q, k, group, seq, dim, causal)
    probs = _softmax(scores, heads, seq)
    return [q, k, v, _pv(probs, v, group, heads, seq, dim, name="O")]


def _qk(q: te.Tensor, k: te.Tensor, group: int, seq: int, dim: int, causal: bool) -> te.Tensor:
    heads = int(q.shape[0])
    d = te.reduce_axis((0, dim), name="d")
    scale = tirx.const(1.0 / math.sqrt(dim), "float32")
    s = te.compute(
        (heads, seq, seq),
        lambda h, i, j: te.sum(q[h, i, d] * k[h // group, j, d] * scale, axis=d),
        name="S",
    )
    if not causal:
        return s
    return te.compute(
        (heads, seq, seq),
        lambda h, i, j: tirx.if_then_else(j > i, tirx.min_value("float32"), s[h, i, j]),
        name="S_masked",
    )


def _softmax(s: te.Tensor, heads: int, seq: int) -> te.Tensor:
    j = te.reduce_axis((0, seq), name="j")
    row_max = te.compute((heads, seq), lambda h, i: te.max(s[h, i, j], axis=j), name="row_max")
    e = te.compute((heads, seq, seq), lambda h, i, jj: te.exp(s[h, i, jj] - row_max[h, i]), name="E")
    j2 = te.reduce_axis((0, seq), name="j2")
    row_sum = te.compute((heads, seq), lambda h, i: te.sum(e[h, i, j2], axis=j2), name="row_sum")
    return te.compute((heads, seq, seq), lambda h, i, jj: e[h, i, jj] / row_sum[h, i], name="P")


def _pv(p: te.Tensor, v: te.Tensor, group: int, heads: int, seq: int, dim: int, name: str) -> te.Tensor:
    j = te.reduce_axis((0, seq), name="j")
    return te.compute((heads, seq, dim), lambda h, i, c: te.sum(p[h, i, j] * v[h // group, j, c], axis=j), name=name)


def llama3_qk() -> list[te.Tensor]:
    q = te.placeholder((8, 128, 128), name="Q")
    k = te.placeholder((2, 128, 128), name="K")
    return [q, k, _qk(q, k, 4, 128, 128, causal=False)]


def llama3_sv() -> list[te.Tensor]:
    s = te.placeholder((8, 128, 128), name="S")
    v = te.placeholder((2, 128, 128), name="V")
    return [s, v, _pv(_softmax(s, 8, 128), v, 4, 8, 128, 128, name="O")]


def llama4_mlp() -> list[te.Tensor]:
    tokens, hidden, inter = 32, 640, 1024
    x = te.placeholder((tokens, hidden), name="X")
    w_gate = te.placeholder((inter, hidden), name="W_gate")
    w_up = te.placeholder((inter, hidden), name="W_up")
    w_down = te.placeholder((hidden, inter), name="W_down")
    h1 = te.reduce_axis((0, hidden), name="h1")
    gate = te.compute((tokens, inter), lambda t, i: te.sum(x[t, h1] * w_gate[i, h1], axis=h1), name="gate")
    h2 = te.reduce_axis((0, hidden), name="h2")
    up = te.compute((tokens, inter), lambda t, i: te.sum(x[t, h2] * w_up[i, h2], axis=h2), name="up")
    act = te.compute(
        (tokens, inter), lambda t, i: gate[t, i] * te.sigmoid(gate[t, i]) * up[t, i], name="silu_mul"
    )
    r = te.reduce_axis((0, inter), name="r")
    y = te.compute((tokens, hidden), lambda t, c: te.sum(act[t, r] * w_down[c, r], axis=r), name="Y")
    return [x, w_gate, w_up, w_down, y]


def deepseek_moe() -> list[te.Tensor]:
    experts, tokens, hidden, inter = 8, 16, 896, 256
    x = te.placeholder((experts, tokens, hidden), name="X")
    w = te.placeholder((experts, inter, hidden), name="W")
    h = te.reduce_axis((0, hidden), name="h")
    y = te.compute((experts, tokens, inter), lambda e, t, i: te.sum(x[e, t, h] * w[e, i, h], axis=h), name="Y")
    return [x, w, y]


def flux_conv() -> list[te.Tensor]:
    data = te.placeholder((1, 32, 32, 64), name="data")
    weight = te.placeholder((3, 3, 64, 64), name="weight")
    padded = topi.nn.pad(data, [0, 1, 1, 0], name="pad")
    rh = te.reduce_axis((0, 3), name="rh")
    rw = te.reduce_axis((0, 3), name="rw")
    rc = te.reduce_axis((0, 64), name="rc")
    out = te.compute(
        (1, 32, 32, 64),
        lambda n, y, x, co: te.sum(padded[n, y + rh, x + rw, rc] * weight[rh, rw, rc, co], axis=[rh, rw, rc]),
        name="conv",
    )
    return [data, weight, out]


LAYERS = [
    Layer(
        "llama3_attn",
        "Llama-3-8B (meta-llama/Meta-Llama-3-8B) self-attention core, prefill with a causal mask:\n"
        "softmax(Q K^T / sqrt(128) + mask) V, grouped-query (4 query heads per KV head).\n"
        "Original: 32 query heads, 8 KV heads, head_dim 128, sequence up to 8192.\n"
        "Here: 8 query heads, 2 KV heads, head_dim 128, sequence 128.",
        lambda: _attention(8, 2, 128, 128, causal=True),
    ),
    Layer(
        "llama3_qk",
        "Llama-3-8B attention scores, the QK^T batch matmul: S = Q K^T / sqrt(128), grouped-query.\n"
        "Original: 32 query heads, 8 KV heads, head_dim 128, sequence up to 8192.\n"
        "Here: 8 query heads, 2 KV heads, head_dim 128, sequence 128.",
        llama3_qk,
    ),
    Layer(
        "llama3_sv",
        "Llama-3-8B attention output, the softmax-V batch matmul: O = softmax(S) V, grouped-query.\n"
        "Original: 32 query heads, 8 KV heads, head_dim 128, sequence up to 8192.\n"
        "Here: 8 query heads, 2 KV heads, head_dim 128, sequence 128.",
        llama3_sv,
    ),
    Layer(
        "llama4_mlp",
        "Llama-4-Scout (meta-llama/Llama-4-Scout-17B-16E) feed-forward, gated SiLU:\n"
        "Y = (silu(X W_gate^T) * (X W_up^T)) W_down^T, weights in PyTorch's [out, in] layout.\n"
        "Original: hidden 5120, intermediate 8192 (each expert and the shared expert).\n"
        "Here: 32 tokens, hidden 640, intermediate 1024 (the same 1.6 ratio).",
        llama4_mlp,
    ),
    Layer(
        "deepseek_moe",
        "DeepSeek-R1 (deepseek-ai/DeepSeek-R1) routed-expert GEMM, grouped over experts:\n"
        "Y[e] = X[e] W[e]^T for the tokens routed to expert e (the up-projection).\n"
        "Original: hidden 7168, moe_intermediate 2048, 256 routed experts, 8 active per token.\n"
        "Here: 8 experts, 16 tokens each, hidden 896, intermediate 256 (both / 8).",
        deepseek_moe,
    ),
    Layer(
        "flux_conv",
        "FLUX.1-dev (black-forest-labs/FLUX.1-dev) VAE decoder ResNet block, 3x3 convolution, pad 1,\n"
        "stride 1, in NHWC. Original: 512 -> 512 channels at 128x128 (a 1024x1024 image).\n"
        "Here: 64 -> 64 channels at 32x32.",
        flux_conv,
    ),
    Layer(
        "flux_attn",
        "FLUX.1-dev (black-forest-labs/FLUX.1-dev) joint text-image attention, no mask:\n"
        "softmax(Q K^T / sqrt(128)) V over image and text tokens together.\n"
        "Original: 24 heads, head_dim 128, 4096 image + 512 text tokens (1024x1024 image).\n"
        "Here: 4 heads, head_dim 128, 256 tokens.",
        lambda: _attention(4, 4, 256, 128, causal=False),
    ),
]


def render(layer: Layer) -> str:
    func = te.create_prim_func(layer.build())
    # The printer comments its imports out; the file keeps the one TVMScript needs, as a user's would.
    body = "\n".join(ln for ln in func.script().splitlines() if not ln.startswith("# from tvm"))
    header = "\n".join(f"# {line}" if line else "#" for line in layer.provenance.splitlines())
    return (
        f"# {layer.name.replace('_', '-')}: a COLT bench workload (float32).\n{header}\n"
        "# Generated by scripts/bench/gen_workloads.py from its TE definition; the numpy reference is\n"
        "# in scripts/bench/references.py.\n"
        "from tvm.script import tirx as T\n"
        f"{body.rstrip()}\n"
    )


def main() -> int:
    os.makedirs(OUT_DIR, exist_ok=True)
    for layer in LAYERS:
        path = os.path.join(OUT_DIR, f"{layer.name}.py")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(render(layer))
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
