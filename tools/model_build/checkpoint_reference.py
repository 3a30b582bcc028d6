"""What the float32 checkpoint itself answers, computed once at build time and shipped with the model (like
MLPerf Client's expected tokens): greedy token ids for fixed chat prompts, the question set filtered to the
questions the checkpoint answers correctly, and the mean negative log-likelihood of a fixed text.

Every prompt is stored as token ids (the checkpoint's tokenizer and chat template already applied), so each
runtime is fed exactly the same ids and compared token by token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomllib

# The harness scores replies with this same function (the build runs with the harness's src on PYTHONPATH).
from genai_harness.tasks.checkpoint_reference import answer_is_correct

from .common import HERE, log

ACCURACY = HERE / "accuracy"
QUESTIONS = ACCURACY / "questions.toml"
NLL_TEXT = ACCURACY / "nll_text.txt"
AGREEMENT_PROMPTS = (
    "What is the capital of France?",
    "Write a short poem about the sea.",
    "Explain in two sentences what a CPU does.",
    "List three fruits that are red.",
)
AGREEMENT_NEW_TOKENS = 48
RANDOM_PROMPT_TOKENS = 32
QUESTION_BATCH = 20


def _greedy(model: Any, ids: list[int], max_new: int, eos: int | None) -> list[int]:
    # Lazy: torch is part of the build toolchain.
    import torch

    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=max_new, do_sample=False,
                             min_new_tokens=0 if eos is not None else max_new,
                             eos_token_id=eos, pad_token_id=eos if eos is not None else 0)
    return [int(t) for t in out[0][len(ids):]]


def _greedy_batch(model: Any, batch: list[list[int]], max_new: int, eos: int) -> list[list[int]]:
    """Greedy replies to several prompts at once (left-padded): used only to find which questions the checkpoint
    answers; the expected ids of the agreement prompts come from unbatched calls."""
    # Lazy: torch is part of the build toolchain.
    import torch

    width = max(len(ids) for ids in batch)
    input_ids = torch.tensor([[eos] * (width - len(ids)) + ids for ids in batch])
    mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch])
    with torch.no_grad():
        out = model.generate(input_ids, attention_mask=mask, max_new_tokens=max_new, do_sample=False,
                             eos_token_id=eos, pad_token_id=eos)
    return [[int(t) for t in row[width:]] for row in out]


def _chat_ids(tokenizer: Any, text: str) -> list[int]:
    ids = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                        tokenize=True, return_dict=False)
    return [int(i) for i in (ids["input_ids"] if isinstance(ids, dict) else ids)]


def mean_nll(model: Any, ids: list[int]) -> float:
    """Mean negative log-likelihood (nats per token) of ``ids[1:]`` given what precedes each."""
    # Lazy: torch is part of the build toolchain.
    import torch

    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, :-1].double()
    logp = torch.log_softmax(logits, dim=-1)
    target = torch.tensor(ids[1:])
    return float(-logp[torch.arange(len(target)), target].mean())


def real_reference(model: Any, tokenizer: Any, eos: int) -> dict:
    """The reference of a checkpoint with real weights: agreement prompts, filtered questions, NLL text."""
    prompts = []
    for text in AGREEMENT_PROMPTS:
        ids = _chat_ids(tokenizer, text)
        prompts.append({"text": text, "input_ids": ids, "expected_ids": _greedy(model, ids, AGREEMENT_NEW_TOKENS, eos),
                        "max_new_tokens": AGREEMENT_NEW_TOKENS})
    spec = tomllib.loads(QUESTIONS.read_text(encoding="utf-8"))
    kept, dropped = [], []
    asked = [(i, q, a, _chat_ids(tokenizer, q)) for i, (q, a) in enumerate(spec["questions"])]
    for start in range(0, len(asked), QUESTION_BATCH):
        chunk = asked[start:start + QUESTION_BATCH]
        replies = _greedy_batch(model, [ids for *_, ids in chunk], int(spec["max_new_tokens"]), eos)
        for (i, question, answers, ids), reply_ids in zip(chunk, replies, strict=True):
            reply = tokenizer.decode(reply_ids, skip_special_tokens=True)
            entry = {"index": i, "question": question, "answers": answers, "input_ids": ids, "reply": reply}
            (kept if answer_is_correct(reply, answers) else dropped).append(entry)
        log(f"question set: {start + len(chunk)}/{len(asked)} asked, {len(kept)} answered correctly")
    nll_ids = [int(i) for i in tokenizer(NLL_TEXT.read_text(encoding="utf-8").strip()).input_ids]
    return {
        "kind": "checkpoint", "weights": "real", "eos_token_id": eos,
        "prompts": prompts,
        "questions": {"version": spec["version"], "max_new_tokens": spec["max_new_tokens"],
                      "candidates": len(spec["questions"]), "kept": kept,
                      "dropped": [{"index": d["index"], "question": d["question"], "reply": d["reply"]}
                                  for d in dropped]},
        "nll": {"text_file": "accuracy/nll_text.txt", "input_ids": nll_ids, "mean_nll": mean_nll(model, nll_ids)},
    }


def random_reference(model: Any, vocab_size: int, seed: int) -> dict:
    """The reference of random weights: forced-length greedy ids for seeded random prompts (agreement only)."""
    # Lazy: torch is part of the build toolchain.
    import torch

    gen = torch.Generator().manual_seed(seed)
    prompts = []
    for _ in range(2):
        ids = [int(t) for t in torch.randint(3, min(vocab_size, 2048), (RANDOM_PROMPT_TOKENS,), generator=gen)]
        prompts.append({"text": None, "input_ids": ids, "forced": True, "max_new_tokens": AGREEMENT_NEW_TOKENS,
                        "expected_ids": _greedy(model, ids, AGREEMENT_NEW_TOKENS, None)})
    return {"kind": "checkpoint", "weights": "random", "eos_token_id": None, "prompts": prompts,
            "note": "random weights: speed only; agreement with the float32 checkpoint is all that is measured"}


def save_reference(reference: dict, folder: Path) -> None:
    """Write the reference as ``checkpoint_reference.json`` into ``folder``."""
    from .common import write_json

    write_json(folder / "checkpoint_reference.json", reference)
