"""Decode tokens/s through the genai-harness interface against a bare loop over the same runtime API.

Same model (bundled tiny-llm), same process, interleaved rounds (the order alternates each round),
same per-token clock. Prints the median tokens/s of each and their ratio per text backend.

    .venv/bin/python benchmarks/interface_overhead.py [--rounds 15] [--prompt-tokens 128] [--new-tokens 256]
"""

from __future__ import annotations

import argparse
import json

from _common import bare_ort_genai, bare_ov_genai, decode_tps, median, model_dir

from genai_harness import Text2TextPipelineFactory, text2text
from genai_harness.workloads.prompts import prompt_with_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=256)
    args = parser.parse_args()
    n_new = args.new_tokens
    results = {}
    for framework, fmt in (("onnxruntime_genai", "onnxruntime_genai"), ("openvino.genai", "openvino")):
        pipe = Text2TextPipelineFactory.create(framework, model_dir(fmt), "CPU")
        prompt = prompt_with_tokens(pipe.encode, args.prompt_tokens)
        ids = pipe.encode(prompt)
        config = text2text.GenerationConfig.exact(n_new)
        runtime = pipe._model if framework == "onnxruntime_genai" else pipe._pipe  # the same loaded model

        def bare(runtime=runtime, framework=framework, ids=ids) -> float:
            if framework == "onnxruntime_genai":
                return decode_tps(bare_ort_genai(runtime, ids, n_new))
            return decode_tps(bare_ov_genai(runtime, ids, n_new)[0])

        def through_interface(pipe=pipe, config=config, ids=ids) -> float:
            result = pipe(text2text.GenerationInput(token_ids=tuple(ids)), config)
            assert len(result.token_ids) == n_new
            return decode_tps(result.token_ns)

        bare(), through_interface()  # warm-up
        bare_tps, iface_tps = [], []
        for i in range(args.rounds):
            order = (bare, through_interface) if i % 2 == 0 else (through_interface, bare)
            for fn in order:
                (bare_tps if fn is bare else iface_tps).append(fn())
        results[framework] = {
            "bare_tps": round(median(bare_tps), 1),
            "interface_tps": round(median(iface_tps), 1),
            "ratio": round(median(iface_tps) / median(bare_tps), 4),
            "rounds": args.rounds,
        }
        print(f"{framework:18s} bare {median(bare_tps):8.1f} tok/s  interface {median(iface_tps):8.1f} tok/s  "
              f"ratio {median(iface_tps) / median(bare_tps):.4f}", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
