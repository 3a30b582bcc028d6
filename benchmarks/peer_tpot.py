"""TPOT through the harness against each runtime's own benchmark loop, side by side, interleaved.

Same loaded model (the bundled tiny-llm, loaded once by the harness; the peer loop drives the same og.Model /
LLMPipeline, so only the loop differs), same prompt ids (128 tokens by default), the same forced number of
new tokens (64), one process, rounds interleaved (the order alternates each round). Per runtime:

- onnxruntime-genai, peer: the loop of its own ``benchmark/python/benchmark_e2e.py`` (0.18 API): an
  ``og.Generator`` made outside the timing, ``append_tokens`` timed as prompt processing, then each
  ``generate_next_token()`` timed alone; its per-token latency is the mean of those.
- openvino-genai, peer: what its own ``benchmark_genai.py`` sample does: ``LLMPipeline.generate`` with no
  streamer, TPOT from ``perf_metrics.get_tpot()``.
- harness: ``pipeline(GenerationInput(token_ids=...), GenerationConfig.exact(n))``, TPOT =
  (t_last - t_first) / (n - 1) from the result's per-token clock readings (for openvino-genai these are its
  raw_metrics.m_new_token_times, taken without a Python streamer); and, to show what a streamer costs,
  ``pipeline.stream()`` timed per token in Python ("harness stream").

For onnxruntime-genai the peer's mean also includes its first generate_next_token (which only samples from
the logits append_tokens computed); "peer, same span" leaves that call out, the span of our TPOT.

Per round each contender runs ``--reps`` generations; a round's figure is their median. The printed ratio is
harness / peer of the medians over rounds (target: within 2 %). Figures taken on a shared 2-core machine
under load are noisy: compare the ratio, not the absolute numbers.

    .venv/bin/python benchmarks/peer_tpot.py [--rounds 6] [--reps 5] [--prompt-tokens 128] [--new-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import median, model_dir

from genai_harness import Text2TextPipelineFactory
from genai_harness.interface import text2text
from genai_harness.tasks.prompts import prompt_with_tokens


def ort_genai_peer(model: Any, ids: list[int], n_new: int, same_span: bool = False) -> float:
    """benchmark_e2e.py's loop: mean time of generate_next_token() after append_tokens, in ms.

    Its first call only samples from the logits append_tokens computed, so its mean runs about 1/n below a
    decode step; ``same_span`` leaves that call out, which is the span of our TPOT (token 1 to token n).
    """
    import onnxruntime_genai as og

    params = og.GeneratorParams(model)
    total = len(ids) + n_new
    params.set_search_options(do_sample=False, max_length=total, min_length=total)
    generator = og.Generator(model, params)
    generator.append_tokens(ids)
    times = []
    i = 0
    while not generator.is_done() and i < n_new:
        start = time.perf_counter()
        generator.generate_next_token()
        times.append(time.perf_counter() - start)
        i += 1
    if same_span:
        times = times[1:]
    return 1000.0 * sum(times) / len(times)


def ov_genai_peer(pipe: Any, ids: list[int], n_new: int) -> float:
    """benchmark_genai.py's way: generate without a streamer, TPOT from openvino-genai's perf_metrics, in ms."""
    import openvino

    config = pipe.get_generation_config()
    config.max_new_tokens = config.min_new_tokens = n_new
    config.ignore_eos = True
    config.do_sample = False
    config.apply_chat_template = False
    result = pipe.generate(openvino.Tensor(np.asarray([ids], dtype=np.int64)), config)
    return float(result.perf_metrics.get_tpot().mean)


def harness_call(pipe: Any, ids: list[int], n_new: int) -> float:
    result = pipe(text2text.GenerationInput(token_ids=tuple(ids)), text2text.GenerationConfig.exact(n_new))
    assert len(result.token_ids) == n_new
    return (result.token_ns[-1] - result.token_ns[0]) / 1e6 / (n_new - 1)


def harness_stream(pipe: Any, ids: list[int], n_new: int) -> float:
    stamps = [time.perf_counter_ns() for _ in pipe.stream(text2text.GenerationInput(token_ids=tuple(ids)),
                                                          text2text.GenerationConfig.exact(n_new))]
    assert len(stamps) == n_new
    return (stamps[-1] - stamps[0]) / 1e6 / (n_new - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()
    n_new = args.new_tokens
    results: dict[str, Any] = {}
    for framework, fmt in (("onnxruntime_genai", "onnxruntime_genai"), ("openvino.genai", "openvino")):
        pipe = Text2TextPipelineFactory.create(framework, model_dir(fmt), "CPU")
        ids = pipe.encode(prompt_with_tokens(pipe.encode, args.prompt_tokens))
        # The peer loop runs on the very model the harness loaded (its og.Model / LLMPipeline): two loads of one
        # folder differ by a few % in speed on this machine (memory placement), which is not what is measured.
        contenders: dict[str, Callable[[], float]] = {}
        if framework == "onnxruntime_genai":
            def peer(model: Any = pipe._model, ids: list[int] = ids) -> float:
                return ort_genai_peer(model, ids, n_new)

            contenders["peer_same_span"] = lambda model=pipe._model, ids=ids: ort_genai_peer(model, ids, n_new, True)
        else:
            def peer(ov_pipe: Any = pipe._pipe, ids: list[int] = ids) -> float:
                return ov_genai_peer(ov_pipe, ids, n_new)

        contenders.update({
            "peer": peer,
            "harness": lambda pipe=pipe, ids=ids: harness_call(pipe, ids, n_new),
            "harness_stream": lambda pipe=pipe, ids=ids: harness_stream(pipe, ids, n_new),
        })
        for fn in contenders.values():  # warm-up
            fn()
        per_round: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        for r in range(args.rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                per_round[name].append(median([contenders[name]() for _ in range(args.reps)]))
        tpot = {name: median(values) for name, values in per_round.items()}
        ratios = [h / p for h, p in zip(per_round["harness"], per_round["peer"], strict=True)]
        results[framework] = {
            "peer_tpot_ms": round(tpot["peer"], 4), "harness_tpot_ms": round(tpot["harness"], 4),
            "harness_stream_tpot_ms": round(tpot["harness_stream"], 4),
            "ratio": round(tpot["harness"] / tpot["peer"], 4),
            "ratio_per_round": [round(x, 4) for x in ratios],
            "stream_ratio": round(tpot["harness_stream"] / tpot["peer"], 4),
            "rounds": args.rounds, "reps": args.reps, "prompt_tokens": len(ids), "new_tokens": n_new,
        }
        if "peer_same_span" in tpot:
            results[framework]["peer_same_span_tpot_ms"] = round(tpot["peer_same_span"], 4)
            results[framework]["ratio_same_span"] = round(tpot["harness"] / tpot["peer_same_span"], 4)
        r = results[framework]
        print(f"{framework:18s} TPOT ms peer {r['peer_tpot_ms']:.4f} harness {r['harness_tpot_ms']:.4f} "
              f"(ratio {r['ratio']:.4f}, per round {min(ratios):.3f}-{max(ratios):.3f}) | harness stream "
              f"{r['harness_stream_tpot_ms']:.4f} (ratio {r['stream_ratio']:.4f})"
              + (f" | peer, same span {r['peer_same_span_tpot_ms']:.4f} (ratio {r['ratio_same_span']:.4f})"
                 if "ratio_same_span" in r else ""), flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
