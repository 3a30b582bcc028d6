"""Text generation on plain onnxruntime sessions against onnxruntime-genai, same weights, side by side (issue 21).

One process, every pipeline loaded once, rounds interleaved. Contenders per model:

- ``onnxruntime_genai``: the builder's folder through onnxruntime-genai (its own C++ loop, GroupQueryAttention);
- ``onnxruntime builder``: the same ``model.onnx`` in a plain onnxruntime session driven by the harness's loop
  (I/O binding, the KV cache kept as OrtValues), so only the loop differs;
- ``onnxruntime standard``: the standard-op export (torch.onnx dynamo, opset 23 Attention), where the model has
  one (the bundled tiny-llm), so the export differs too.

Each at the runtime's default threads and at ``threads = 1`` (onnxruntime-genai's default here proved to run
like one thread; see RESULTS.md). Every call: the same prompt ids (``--prompt-tokens``), exactly
``--new-tokens`` greedy new tokens, TTFT and TPOT from the harness's own clock readings; the ids of every
contender are checked equal to onnxruntime-genai's. Prints one JSON line per model and the load average.

    .venv/bin/python benchmarks/ort_plain_text.py [--model tiny|smollm2] [--rounds 5] [--prompt-tokens 128]
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from _common import TINY_LLM, median

from genai_harness import Text2TextPipelineFactory
from genai_harness.interface import text2text

SMOLLM2 = Path.home() / ".cache" / "genai-harness" / "models" / "smollm2-135m" / "float32" / "onnxruntime_genai"


def contenders(model: str) -> dict[str, Any]:
    """Every pipeline of the comparison, loaded."""
    builder = TINY_LLM / "onnxruntime_genai" if model == "tiny" else SMOLLM2
    folders = {"onnxruntime builder": builder}
    if model == "tiny":
        folders["onnxruntime standard"] = TINY_LLM / "onnx"
    loaded: dict[str, Any] = {}
    for threads in (None, 1):
        suffix = "" if threads is None else " t1"
        genai = Text2TextPipelineFactory.create("onnxruntime_genai", builder, "CPU")
        if threads is not None:
            genai = Text2TextPipelineFactory.create("onnxruntime_genai", builder, replace(
                genai.device, config={**genai.device.config, "threads": threads}))
        loaded["onnxruntime_genai" + suffix] = genai
        for name, folder in folders.items():
            pipeline = Text2TextPipelineFactory.create("onnxruntime", folder, "CPU")
            if threads is not None:
                pipeline = Text2TextPipelineFactory.create("onnxruntime", folder, replace(
                    pipeline.device, config={**pipeline.device.config, "threads": threads}))
            loaded[name + suffix] = pipeline
    return loaded


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["tiny", "smollm2"], default="tiny")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=32)
    args = ap.parse_args()
    pipelines = contenders(args.model)
    text = (TINY_LLM.parent.parent / "corpus" / "public_domain.txt").read_text(encoding="utf-8")
    ids = tuple(pipelines["onnxruntime_genai"].encode(text)[: args.prompt_tokens])
    config = text2text.GenerationConfig.exact(args.new_tokens)
    prompt = text2text.GenerationInput(token_ids=ids)
    expected = pipelines["onnxruntime_genai"](prompt, config).token_ids  # also a warm-up
    for pipeline in pipelines.values():
        pipeline(prompt, config)  # warm-up
    ttft: dict[str, list[float]] = {k: [] for k in pipelines}
    tpot: dict[str, list[float]] = {k: [] for k in pipelines}
    agree: dict[str, bool] = dict.fromkeys(pipelines, True)
    load_before = os.getloadavg()
    order = list(pipelines)
    for round_no in range(args.rounds):
        for name in order if round_no % 2 == 0 else order[::-1]:
            result = pipelines[name](prompt, config)
            agree[name] &= result.token_ids == expected
            ttft[name].append((result.token_ns[0] - result.start_ns) / 1e6)
            tpot[name].append((result.token_ns[-1] - result.token_ns[0]) / (len(result.token_ns) - 1) / 1e6)
    load_after = os.getloadavg()
    print(json.dumps({
        "model": args.model, "prompt_tokens": len(ids), "new_tokens": args.new_tokens, "rounds": args.rounds,
        "load_1min_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "ttft_ms": {k: round(median(v), 2) for k, v in ttft.items()},
        "tpot_ms": {k: round(median(v), 3) for k, v in tpot.items()},
        "ids_equal_to_onnxruntime_genai": agree,
    }))


if __name__ == "__main__":
    main()
