"""The next token from one row of logits: greedy, or sampled with temperature, top-k and top-p (pure numpy).

The order is the one onnxruntime-genai and transformers apply: temperature, then top-k, then top-p (the smallest
set of most likely tokens whose probability reaches ``top_p``), then a draw from what is left. End tokens are
banned until ``min_new_tokens`` are out, so a forced length continues as the other runtimes continue it.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from genai_harness.interface.text2text import SamplingConfig


def next_token(logits: np.ndarray, sampling: SamplingConfig, rng: np.random.Generator,
               banned: Collection[int] = ()) -> int:
    """The id chosen from ``logits`` (shape ``[vocab]``); ``banned`` ids never (the end tokens before
    ``min_new_tokens``, as onnxruntime-genai's min_length and transformers' MinNewTokensLogitsProcessor do)."""
    if banned:
        logits = logits.copy()
        logits[[i for i in banned if 0 <= i < logits.size]] = -np.inf
    if not sampling.do_sample:
        return int(np.argmax(logits))
    scores = logits.astype(np.float64) / max(float(sampling.temperature), 1e-6)
    order = np.argsort(-scores, kind="stable")
    if sampling.top_k and 0 < sampling.top_k < order.size:
        order = order[: sampling.top_k]
    kept = scores[order]
    probs = np.exp(kept - kept.max())
    probs /= probs.sum()
    if 0.0 < sampling.top_p < 1.0:
        cumulative = np.cumsum(probs)
        keep = int(np.searchsorted(cumulative, sampling.top_p) + 1)
        order, probs = order[:keep], probs[:keep] / probs[:keep].sum()
    return int(order[rng.choice(order.size, p=probs)])
