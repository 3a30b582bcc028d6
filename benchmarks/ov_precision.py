"""openvino-genai at bf16 against f32 on this CPU, side by side: tiny-llm decode and tiny-sd images.

Both pipelines of a task live in one process, built through the harness with ``precision`` bf16 and f32 (read
back after load: a CPU without native bf16 refuses bf16, and the script says so). Rounds interleave the two
(the order alternates); a round's figure is the median of ``--reps`` calls. Printed: TPOT (ms per new token,
128-token prompt, 64 forced tokens) and image_ms (64x64, 4 steps), the f32 / bf16 time ratio (above 1: bf16
is faster), and how far bf16 drifts from f32 (token agreement, PSNR). Taken on a shared 2-core machine under
load: compare the ratio, not the absolute numbers.

    .venv/bin/python benchmarks/ov_precision.py [--rounds 8] [--reps 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

import openvino
from _common import median

from genai_harness.errors import NumericsError
from genai_harness.factories import DeviceFactory, Text2ImagePipelineFactory, Text2TextPipelineFactory
from genai_harness.interface import text2image, text2text
from genai_harness.tasks.prompts import prompt_with_tokens
from genai_harness.tasks.reference import psnr_db, token_agreement
from genai_harness.workloads.catalog import MODELS_DIR

PRECISIONS = ("bf16", "f32")


def device(precision: str) -> Any:
    cpu = DeviceFactory.select("openvino.genai", "CPU")
    return dataclasses.replace(cpu, config={**cpu.config, "precision": precision})


def interleaved(calls: dict[str, Any], rounds: int, reps: int) -> dict[str, list[float]]:
    for fn in calls.values():  # warm-up (the first image call also compiles the reshaped model)
        fn()
    per_round: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            per_round[name].append(median([calls[name]()[0] for _ in range(reps)]))
    return per_round


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    try:
        llms = {p: Text2TextPipelineFactory.create("openvino.genai", MODELS_DIR / "tiny-llm/openvino", device(p))
                for p in PRECISIONS}
        sds = {p: Text2ImagePipelineFactory.create("openvino.genai", MODELS_DIR / "tiny-sd/openvino", device(p))
               for p in PRECISIONS}
    except NumericsError as exc:
        print(f"not measurable on this CPU: {exc}", file=sys.stderr)
        sys.exit(1)
    for p in PRECISIONS:
        assert llms[p].numerics.precision == sds[p].numerics.precision == p  # read back, not assumed
    ids = llms["f32"].encode(prompt_with_tokens(llms["f32"].encode, 128))
    text_config = text2text.GenerationConfig.exact(64)
    image_config = text2image.GenerationConfig(image_width=64, image_height=64, num_inference_steps=4,
                                               guidance_scale=7.5, rng_seed=42)

    def decode(p: str) -> tuple[float, list[int]]:
        result = llms[p](text2text.GenerationInput(token_ids=tuple(ids)), text_config)
        return (result.token_ns[-1] - result.token_ns[0]) / 1e6 / (len(result.token_ids) - 1), result.token_ids

    def image(p: str) -> tuple[float, Any]:
        result = sds[p]("a red cat on a mat", image_config)
        return (result.end_ns - result.start_ns) / 1e6, result.tensor

    tpot = interleaved({p: (lambda p=p: decode(p)) for p in PRECISIONS}, args.rounds, args.reps)
    image_ms = interleaved({p: (lambda p=p: image(p)) for p in PRECISIONS}, args.rounds, args.reps)
    share, first = token_agreement(decode("bf16")[1], decode("f32")[1])
    psnr = psnr_db(image("bf16")[1], image("f32")[1])
    out = {
        "cpu_inference_precision_default": str(openvino.Core().get_property("CPU", "INFERENCE_PRECISION_HINT")),
        "tpot_ms": {p: round(median(v), 4) for p, v in tpot.items()},
        "tpot_f32_over_bf16": round(median(tpot["f32"]) / median(tpot["bf16"]), 3),
        "tpot_ratio_per_round": [round(f / b, 3) for f, b in zip(tpot["f32"], tpot["bf16"], strict=True)],
        "image_ms": {p: round(median(v), 2) for p, v in image_ms.items()},
        "image_f32_over_bf16": round(median(image_ms["f32"]) / median(image_ms["bf16"]), 3),
        "image_ratio_per_round": [round(f / b, 3) for f, b in zip(image_ms["f32"], image_ms["bf16"], strict=True)],
        "bf16_token_agreement_with_f32": share, "bf16_first_divergence": first,
        "bf16_psnr_db_against_f32": round(psnr, 2), "rounds": args.rounds, "reps": args.reps,
    }
    print(f"tiny-llm TPOT ms: bf16 {out['tpot_ms']['bf16']}, f32 {out['tpot_ms']['f32']}, f32/bf16 "
          f"{out['tpot_f32_over_bf16']} | tiny-sd image ms: bf16 {out['image_ms']['bf16']}, f32 "
          f"{out['image_ms']['f32']}, f32/bf16 {out['image_f32_over_bf16']} | bf16 vs f32: tokens {share:.3f} "
          f"equal (first divergence {first}), image PSNR {psnr:.1f} dB")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
