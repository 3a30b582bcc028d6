"""Real models, float32 against int4, on both runtimes, side by side in one run (issue 20).

Builds (or reuses) ``smollm2-135m`` (real weights) and ``qwen2.5-0.5b-shape`` (random weights: speed only) with
``genai-harness models build``, runs one ``genai-harness run --reference`` over their float32 and int4 variants on
onnxruntime-genai and openvino.genai (workload text-p128-g32: 128-token prompt, 32 forced new tokens, 3
repetitions), and prints one markdown table: TTFT, TPOT, peak memory, load time, and against the float32
checkpoint the token agreement, first divergence and question-set score (smollm2 only: random weights have
agreement only). Medians over repetitions. Take it under `nice` on a shared machine and report the load.

    .venv/bin/python benchmarks/real_models.py [--store /tmp/real.sqlite] [--models smollm2-135m qwen2.5-0.5b-shape]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from genai_harness.results.store import load_results

REPO = Path(__file__).resolve().parents[1]
WORKLOAD = REPO / "src/genai_harness/workloads/standard/text-p128-g32.toml"
CLI = [sys.executable, "-m", "genai_harness.cli"]


def _cli(*args: str) -> None:
    proc = subprocess.run([*CLI, *args], cwd=REPO, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"genai-harness {' '.join(args)} exited {proc.returncode}")


def _divergence(row: pd.Series) -> str:
    """The first divergent token, or "none" when every compared token agreed (the stored value is then the
    number of tokens compared)."""
    if row["ref_token_agreement"] == 1.0:
        return f"none in {_fmt(row['ref_first_divergence'], '.0f')}"
    return _fmt(row["ref_first_divergence"], ".0f")


def _fmt(value: object, spec: str) -> str:
    return "" if value is None or value != value else format(value, spec)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="/tmp/genai-harness-real-models.sqlite")
    ap.add_argument("--models", nargs="+", default=["smollm2-135m", "qwen2.5-0.5b-shape"])
    ap.add_argument("--table-only", action="store_true", help="print the table of an existing --store")
    args = ap.parse_args()
    if not args.table_only:
        for model in args.models:
            _cli("models", "build", model)
        Path(args.store).unlink(missing_ok=True)
        run = ["run", "--suite", str(WORKLOAD), "--store", args.store, "--reference", "--quiet"]
        for model in args.models:
            run += ["--model", model, "--model", f"{model}-int4"]
        _cli(*run)
    frame = load_results([args.store])
    frame = frame[frame["status"] == "ok"]
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end; {len(frame)} rows\n")
    print("| model | weights | runtime | precision read back | TTFT ms | TPOT ms | peak MB | load s | agreement | "
          "first divergence | questions | NLL (checkpoint) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (model, framework), group in frame.groupby(["model_id", "framework"], sort=True):
        first = group.iloc[0]
        questions = (f"{first['ref_answer_share']:.2f} of {int(first['ref_questions'])}"
                     if pd.notna(first["ref_questions"]) else "n/a")
        nll = f"{first['ref_nll']:.3f} ({first['ref_nll_checkpoint']:.3f})" if pd.notna(first["ref_nll"]) else "n/a"
        precision = first.get("weight_precision") if "weight_precision" in group else None
        print(f"| {model} | {first['model_weights']} | {framework} | {precision or first['precision']} | "
              f"{_fmt(group['ttft_ms'].median(), '.1f')} | {_fmt(group['tpot_ms'].median(), '.2f')} | "
              f"{_fmt(group['peak_rss_mb'].median(), '.0f')} | {_fmt(first['load_s'], '.2f')} | "
              f"{_fmt(first['ref_token_agreement'], '.2f')} | {_divergence(first)} | "
              f"{questions} | {nll} |")
        if pd.notna(first["ref_error"]) and first["ref_error"]:
            print(f"|  | reference not had: {first['ref_error']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
