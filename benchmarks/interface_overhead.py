"""Decode tokens/s through the genai-harness interface against a bare loop over the same runtime API.

Same model (bundled tiny-llm), same process, interleaved rounds (the order alternates each round),
same per-token clock. Since issue 8 the interface times openvino-genai without a streamer (its own per-token
times), while the bare loop here still streams: for openvino.genai this compares the two ways of timing;
benchmarks/peer_tpot.py compares with openvino-genai's own (streamer-less) benchmark.
Per text backend it prints the median over rounds of decode tokens/s and,
steadier on a shared machine, 1000 / the median inter-token latency pooled over all rounds; and the
interface / bare ratio of each.

    .venv/bin/python benchmarks/interface_overhead.py [--rounds 15] [--prompt-tokens 128] [--new-tokens 256]
"""

from __future__ import annotations

import argparse
import json

from _common import bare_ort_genai, bare_ov_genai, decode_tps, median, model_dir

from genai_harness import Text2TextPipelineFactory
from genai_harness.interface import text2text
from genai_harness.tasks.prompts import prompt_with_tokens
from genai_harness.tasks.timing import intervals_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
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

        def bare(runtime=runtime, framework=framework, ids=ids) -> list[int]:
            if framework == "onnxruntime_genai":
                return bare_ort_genai(runtime, ids, n_new)
            return bare_ov_genai(runtime, ids, n_new)[0]

        def through_interface(pipe=pipe, config=config, ids=ids) -> list[int]:
            result = pipe(text2text.GenerationInput(token_ids=tuple(ids)), config)
            assert len(result.token_ids) == n_new
            return result.token_ns

        bare(), through_interface()  # warm-up
        stamps: dict[str, list[list[int]]] = {"bare": [], "interface": []}
        for i in range(args.rounds):
            order = (bare, through_interface) if i % 2 == 0 else (through_interface, bare)
            for fn in order:
                stamps["bare" if fn is bare else "interface"].append(fn())
        tps = {k: median([decode_tps(s) for s in v]) for k, v in stamps.items()}
        itl_tps = {k: 1000.0 / median([x for s in v for x in intervals_ms(s)]) for k, v in stamps.items()}
        results[framework] = {
            "bare_tps": round(tps["bare"], 1), "interface_tps": round(tps["interface"], 1),
            "ratio": round(tps["interface"] / tps["bare"], 4),
            "bare_itl_tps": round(itl_tps["bare"], 1), "interface_itl_tps": round(itl_tps["interface"], 1),
            "itl_ratio": round(itl_tps["interface"] / itl_tps["bare"], 4),
            "rounds": args.rounds,
        }
        r = results[framework]
        print(f"{framework:18s} decode tok/s bare {r['bare_tps']:8.1f} interface {r['interface_tps']:8.1f} "
              f"ratio {r['ratio']:.4f} | 1000/median ITL bare {r['bare_itl_tps']:8.1f} interface "
              f"{r['interface_itl_tps']:8.1f} ratio {r['itl_ratio']:.4f}", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
