"""Agreement with the float32 checkpoint itself: what ``models build`` computed once with transformers and stored
beside each format (``checkpoint_reference.json``), replayed on the runtime and device of a cell.

Three figures, each fed the checkpoint's own token ids (tokenizer and chat template already applied):
greedy token agreement and the first divergent token over fixed prompts; the share of the question set the
runtime answers correctly (only questions the float32 checkpoint answered correctly are in it); and, where the
runtime exposes logits, the mean negative log-likelihood of a fixed text. A random-weight model's reference has
prompts only: agreement is all it can say.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genai_harness.interface import text2text
from genai_harness.tasks.reference import token_agreement

FILE = "checkpoint_reference.json"
SOURCE_REAL = "float32 checkpoint (transformers)"
SOURCE_RANDOM = "float32 checkpoint (transformers), random weights: agreement only"


def load(model_path: Path) -> dict[str, Any] | None:
    """The checkpoint reference stored in a model folder, or None when it has none."""
    path = model_path / FILE if model_path.is_dir() else None
    if path is None or not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def answer_is_correct(reply: str, answers: Sequence[str]) -> bool:
    """Whether an accepted answer appears in ``reply`` as a whole word, ignoring case (pure)."""
    return any(re.search(rf"(?<![\w]){re.escape(a.lower())}(?![\w])", reply.lower()) for a in answers)


def _strip_eos(ids: Sequence[int], eos: int | None) -> list[int]:
    ids = [int(i) for i in ids]
    if eos is not None and eos in ids:
        ids = ids[:ids.index(eos)]
    return ids


def mean_nll(logits: np.ndarray, targets: Sequence[int]) -> float:
    """Mean negative log-likelihood (nats per token) of ``targets`` under rows of ``logits`` (pure)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-np.mean(logp[np.arange(len(targets)), np.asarray(targets)]))


def _generate(pipeline: Any, ids: Sequence[int], max_new: int, forced: bool) -> Any:
    config = text2text.GenerationConfig.exact(max_new) if forced else text2text.GenerationConfig(max_new_tokens=max_new)
    return pipeline(text2text.GenerationInput(token_ids=tuple(int(i) for i in ids)), config)


def agreement(pipeline: Any, reference: dict[str, Any]) -> dict[str, Any]:
    """The ``ref_*`` columns of a cell's pipeline against its checkpoint's reference."""
    eos = reference.get("eos_token_id")
    shares, firsts, lengths = [], [], []
    for prompt in reference["prompts"]:
        forced = bool(prompt.get("forced"))
        result = _generate(pipeline, prompt["input_ids"], int(prompt["max_new_tokens"]), forced)
        got = [int(i) for i in result.token_ids] if forced else _strip_eos(result.token_ids, eos)
        want = [int(i) for i in prompt["expected_ids"]] if forced else _strip_eos(prompt["expected_ids"], eos)
        share, first = token_agreement(got, want)
        shares.append(share)
        lengths.append(len(want))
        if share < 1.0:
            firsts.append(first)
    row: dict[str, Any] = {
        "ref_source": SOURCE_REAL if reference.get("weights") == "real" else SOURCE_RANDOM,
        # the earliest divergence over the prompts; none: the longest expected answer (no divergence within it)
        "ref_token_agreement": float(np.mean(shares)),
        "ref_first_divergence": int(min(firsts)) if firsts else int(max(lengths)),
    }
    questions = reference.get("questions", {}).get("kept", [])
    if questions:
        max_new = int(reference["questions"]["max_new_tokens"])
        correct = 0
        for q in questions:
            result = _generate(pipeline, q["input_ids"], max_new, False)
            correct += answer_is_correct(pipeline.decode(_strip_eos(result.token_ids, eos)), q["answers"])
        row.update(ref_answer_share=correct / len(questions), ref_questions=len(questions))
    nll = reference.get("nll")
    if nll and hasattr(pipeline, "logits_along"):
        ids = [int(i) for i in nll["input_ids"]]
        row.update(ref_nll=mean_nll(pipeline.logits_along(ids[:1], ids[1:]), ids[1:]),
                   ref_nll_checkpoint=float(nll["mean_nll"]))
    elif nll:
        row["ref_nll_checkpoint"] = float(nll["mean_nll"])
    return {k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}
