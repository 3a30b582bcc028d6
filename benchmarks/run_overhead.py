"""What the full run path measures against what the runtime itself says, and what it costs.

1. Our TTFT and TPOT against openvino-genai's own perf_metrics on the same generate calls.
2. Decode tokens/s of a text cell through `genai_harness.run` (worker subprocess, store) against a
   bare runtime loop in a fresh subprocess, interleaved rounds, per text backend.
3. The run's parent process: peak resident memory and whether it imported any runtime.

    .venv/bin/python benchmarks/run_overhead.py [--rounds 3] [--calls 20]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import median, model_dir

HERE = Path(__file__).resolve().parent
RUNTIMES = ("onnxruntime", "onnxruntime_genai", "openvino", "openvino_genai")

BARE_SCRIPT = """
import json, sys
sys.path.insert(0, {here!r})
from _common import bare_ort_genai, bare_ov_genai, decode_tps, model_dir
from genai_harness.tasks.prompts import prompt_with_tokens
framework, n_prompt, n_new, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if framework == "onnxruntime_genai":
    import onnxruntime_genai as og
    model = og.Model(str(model_dir("onnxruntime_genai")))
    tok = og.Tokenizer(model)
    ids = list(tok.encode(prompt_with_tokens(lambda t: list(tok.encode(t)), n_prompt)))
    run = lambda: bare_ort_genai(model, ids, n_new)
else:
    import openvino_genai as ovg
    scheduler = ovg.SchedulerConfig()
    scheduler.enable_prefix_caching = False  # as the harness loads it: every call pays for its prompt
    pipe = ovg.LLMPipeline(str(model_dir("openvino")), "CPU", scheduler_config=scheduler)
    tok = pipe.get_tokenizer()
    enc = lambda t: [int(i) for i in tok.encode(t, add_special_tokens=False).input_ids.data.reshape(-1)]
    ids = enc(prompt_with_tokens(enc, n_prompt))
    run = lambda: bare_ov_genai(pipe, ids, n_new)[0]
run()
print(json.dumps([decode_tps(run()) for _ in range(reps)]))
"""

WORKLOAD = """
id = "bench-p{p}-g{g}"
version = 1
task = "text2text"
[input]
prompt_tokens = {p}
new_tokens = {g}
[run]
warmup = 1
repetitions = {reps}
timeout_s = 300
"""


def native_agreement(calls: int, n_prompt: int = 128, n_new: int = 64) -> dict[str, float]:
    """Our TTFT/TPOT against openvino-genai's perf_metrics on the same generate calls.

    Three spans are compared with openvino-genai's TTFT: ours with a text prompt (our definition:
    tokenization included), ours with token ids (the span openvino-genai times when given ids), and a
    bare Python loop timing generate() itself, which shows the part of the gap no wrapper can remove.
    """
    import time

    from _common import bare_ov_genai

    from genai_harness import Text2TextPipelineFactory
    from genai_harness.interface import text2text
    from genai_harness.tasks import timing as metrics
    from genai_harness.tasks.prompts import prompt_with_tokens

    pipe = Text2TextPipelineFactory.create("openvino.genai", model_dir("openvino"), "CPU")
    prompt = prompt_with_tokens(pipe.encode, n_prompt)
    ids = pipe.encode(prompt)
    config = text2text.GenerationConfig.exact(n_new)
    pipe(prompt, config)
    spans: dict[str, list[tuple[float, float]]] = {"text": [], "ids": []}
    tpot: list[tuple[float, float]] = []
    for _ in range(calls):
        for kind, prompt_input in (("text", prompt), ("ids", text2text.GenerationInput(token_ids=tuple(ids)))):
            result = pipe(prompt_input, config)
            ours = metrics.text_metrics(result.start_ns, result.token_ns, result.end_ns, len(result.input_token_ids))
            spans[kind].append((ours["ttft_ms"], result.native_metrics["ov_ttft_ms"]))
            tpot.append((ours["tpot_ms"], result.native_metrics["ov_tpot_ms"]))
    bare = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        stamps, result = bare_ov_genai(pipe._pipe, ids, n_new)
        bare.append(((stamps[0] - start) / 1e6, float(result.perf_metrics.get_ttft().mean)))

    def rel(pairs: list[tuple[float, float]]) -> float:
        return round(median([a for a, _ in pairs]) / median([b for _, b in pairs]) - 1, 4)

    return {
        "prompt_tokens": n_prompt, "new_tokens": n_new, "calls": calls,
        "ov_ttft_ms": round(median([b for _, b in spans["ids"]]), 3),
        "ttft_text_ms": round(median([a for a, _ in spans["text"]]), 3), "ttft_text_rel": rel(spans["text"]),
        "ttft_ids_ms": round(median([a for a, _ in spans["ids"]]), 3), "ttft_ids_rel": rel(spans["ids"]),
        "bare_python_ttft_ms": round(median([a for a, _ in bare]), 3), "bare_python_ttft_rel": rel(bare),
        "tpot_ms": round(median([a for a, _ in tpot]), 4), "ov_tpot_ms": round(median([b for _, b in tpot]), 4),
        "tpot_rel": rel(tpot),
    }


TEXT_FRAMEWORKS = ("onnxruntime_genai", "openvino.genai")


def run_path_vs_bare(rounds: int, n_prompt: int, n_new: int, reps: int,
                     frameworks: tuple[str, ...] = TEXT_FRAMEWORKS) -> dict[str, dict[str, float]]:
    """Median decode tok/s through genai_harness.run against a bare loop in a fresh process."""
    import genai_harness

    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "w.toml").write_text(WORKLOAD.format(p=n_prompt, g=n_new, reps=reps))
        Path(tmp, "suite.toml").write_text(f'id = "bench"\n[[entries]]\nworkload = "{tmp}/w.toml"\n'
                                           'models = ["tiny-llm"]\n')
        for framework in frameworks:
            run_tps, bare_tps = [], []
            for i in range(rounds):
                def via_run(framework=framework) -> list[float]:
                    frame = genai_harness.run(f"{tmp}/suite.toml", frameworks=[framework], devices=["CPU"],
                                              store=f"{tmp}/store.sqlite", progress=False)
                    return [float(v) for v in frame["decode_tps"]]

                def bare(framework=framework) -> list[float]:
                    proc = subprocess.run([sys.executable, "-c", BARE_SCRIPT.format(here=str(HERE)), framework,
                                           str(n_prompt), str(n_new), str(reps)],
                                          capture_output=True, text=True, check=True)
                    return json.loads(proc.stdout.strip().splitlines()[-1])

                for fn in ((via_run, bare) if i % 2 == 0 else (bare, via_run)):
                    (run_tps if fn is via_run else bare_tps).extend(fn())
            out[framework] = {"run_path_tps": round(median(run_tps), 1), "bare_tps": round(median(bare_tps), 1),
                              "ratio": round(median(run_tps) / median(bare_tps), 4), "samples": len(run_tps)}
            print(f"{framework:18s} run path {out[framework]['run_path_tps']:8.1f} tok/s  bare "
                  f"{out[framework]['bare_tps']:8.1f} tok/s  ratio {out[framework]['ratio']:.4f}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--framework", action="append", help="only this text framework (repeatable)")
    args = parser.parse_args()
    report: dict[str, object] = {}
    # The run path first, in a clean parent: then the parent's memory and modules are the run's own.
    frameworks = tuple(args.framework or TEXT_FRAMEWORKS)
    report["run_path_vs_bare"] = run_path_vs_bare(args.rounds, 128, args.new_tokens, 5, frameworks)
    report["parent"] = {
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "runtimes_imported": [m for m in RUNTIMES if m in sys.modules],
    }
    print(f"parent: peak RSS {report['parent']['peak_rss_mb']} MB, runtimes imported: "
          f"{report['parent']['runtimes_imported'] or 'none'}", flush=True)
    for n_prompt in (128, 1024):
        agreement = native_agreement(args.calls, n_prompt)
        report[f"ov_native_agreement_p{n_prompt}"] = agreement
        print(f"openvino-genai perf_metrics vs ours (prompt {n_prompt}): {agreement}", flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
