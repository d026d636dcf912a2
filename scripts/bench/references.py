"""numpy references of the bench workloads: the same operation, computed by numpy/OpenBLAS.

Each takes the workload's inputs in its prim_func's parameter order (the last parameter, the
output, left out) and returns the output. They serve twice: as the correctness check of every
bench layer (python-bridge/tests/test_bench_workloads.py), and as the "% of BLAS" yardstick of
matmul-like work, timed in the same run with the same thread count.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

Reference = Callable[..., np.ndarray]


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _kv(x: np.ndarray, heads: int) -> np.ndarray:
    """Grouped-query attention: each KV head serves heads // kv_heads query heads."""
    return np.repeat(x, heads // x.shape[0], axis=0)


def _qk(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    return np.matmul(q, _kv(k, q.shape[0]).transpose(0, 2, 1)) * np.float32(1.0 / math.sqrt(q.shape[-1]))


def _attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool) -> np.ndarray:
    s = _qk(q, k)
    if causal:
        n = s.shape[-1]
        s = np.where(np.triu(np.ones((n, n), dtype=bool), k=1), np.finfo(np.float32).min, s)
    return np.matmul(_softmax(s), _kv(v, q.shape[0]))


def _silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def _conv3x3_nhwc(data: np.ndarray, weight: np.ndarray) -> np.ndarray:
    n, h, w, _ = data.shape
    padded = np.pad(data, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((n, h, w, weight.shape[-1]), dtype=np.float32)
    for dy in range(3):
        for dx in range(3):
            out += np.matmul(padded[:, dy : dy + h, dx : dx + w, :], weight[dy, dx])
    return out


# By task name, as the bridge names tasks: `gmm_1` -> `gmm`, `llama3-attn` -> `llama3_attn`.
REFERENCES: dict[str, Reference] = {
    "gmm": np.matmul,
    "llama3_attn": lambda q, k, v: _attention(q, k, v, causal=True),
    "llama3_qk": _qk,
    "llama3_sv": lambda s, v: np.matmul(_softmax(s), _kv(v, s.shape[0])),
    "llama4_mlp": lambda x, wg, wu, wd: np.matmul(_silu(x @ wg.T) * (x @ wu.T), wd.T),
    "deepseek_moe": lambda x, w: np.matmul(x, w.transpose(0, 2, 1)),
    "flux_conv": _conv3x3_nhwc,
    "flux_attn": lambda q, k, v: _attention(q, k, v, causal=False),
}

# Work that numpy hands to BLAS GEMMs: where "% of BLAS" means something.
MATMUL_LIKE = {"gmm", "llama3_attn", "llama3_qk", "llama3_sv", "llama4_mlp", "deepseek_moe", "flux_attn"}


def family(task_name: str) -> str:
    """`gmm_1` -> `gmm` (te_workload shapes share a reference); bench layers are their own."""
    head, _, idx = task_name.rpartition("_")
    return head if idx.isdigit() and head else task_name


def reference_for(task_name: str) -> Reference | None:
    return REFERENCES.get(family(task_name))


def is_matmul_like(task_name: str) -> bool:
    return family(task_name) in MATMUL_LIKE
