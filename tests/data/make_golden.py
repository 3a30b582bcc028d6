"""Golden values for the hand-written CLIP tokenizer and Euler scheduler, made by the reference implementations.

Run with the build toolchain (requirements-build.txt: tokenizers, diffusers, torch), from the checkout:

    PYTHONPATH=src .venvs/build/bin/python tests/data/make_golden.py

It writes tests/data/golden_clip_tokenizer.json (``tokenizers`` reading the bundled tiny-sd tokenizer.json),
tests/data/golden_byte_level_decode.json (``tokenizers`` decoding ids of the bundled tiny-llm)
and tests/data/golden_euler.json (diffusers' EulerDiscreteScheduler from the bundled scheduler_config.json,
plus its linspace and trailing spacings). tests/test_golden.py compares the numpy/pure-Python versions with
them, so a drift shows where it starts, not as a pixel difference.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODELS = HERE.parent.parent / "src/genai_harness/workloads/models/tiny-sd/onnx"
LLM = HERE.parent.parent / "src/genai_harness/workloads/models/tiny-llm/onnxruntime_genai"
EDGE_CASES = [
    "x²", "km²", "½ cup of flour", "Ⅻ o'clock", "naïve café", "ﬁne ligature", "ǅemal", "İstanbul", "ÀÉÎÕÜ",
    "e\u0301 composed", "a red cat 🐱 on a mat 🙂", "日本語のテキスト", "العربية", "१२३ Devanagari digits",
    "3.14159", "1,000,000", "don't", "DON'T STOP", "it's 'quoted'", "''s", "x'y", "rock'n'roll", "a_b__c",
    "tabs\tand\nnew lines", "   leading and trailing   ", "<|startoftext|>hello<|endoftext|>", "<|endoftext|>",
    "!!!???", "...and then", "-- dashes --", "#hashtag @mention", "C++ and C#", "email@example.com",
    "https://example.com/path?q=1", "ÆØÅ æøå", "ß straße STRASSE", "Ωmega", "µ micro", "°C", "5km/h", "1st 2nd 3rd",
    "", " ", "a", "A", "a photo of an astronaut riding a horse on mars",
    "a lighthouse on a rocky coast at dawn, oil painting",
]


def corpus() -> list[str]:
    text = (HERE.parent.parent / "src/genai_harness/workloads/corpus/public_domain.txt").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    sentences = [s.strip() for line in lines for s in line.split(".") if s.strip()]
    return EDGE_CASES + lines + sentences[:500]


def clip_golden() -> dict:
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(MODELS / "tokenizer" / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    cases = [[text, tokenizer.encode(text, add_special_tokens=False).ids] for text in corpus()]
    return {"made_by": f"tokenizers {importlib.metadata.version('tokenizers')}",
            "tokenizer": "tiny-sd/onnx/tokenizer/tokenizer.json", "cases": cases}


def euler_golden() -> dict:
    import torch
    from diffusers import EulerDiscreteScheduler

    bundled = json.loads((MODELS / "scheduler" / "scheduler_config.json").read_text())
    configs = {"bundled": bundled, "linspace": {**bundled, "timestep_spacing": "linspace", "steps_offset": 0},
               "trailing": {**bundled, "timestep_spacing": "trailing", "steps_offset": 0}}
    rng = np.random.default_rng(0)
    sample = rng.standard_normal((1, 4, 2, 2)).astype(np.float32)
    noise = rng.standard_normal((1, 4, 2, 2)).astype(np.float32)
    out: dict = {"made_by": f"diffusers {importlib.metadata.version('diffusers')}", "sample": sample.tolist(),
                 "noise": noise.tolist(), "configs": configs, "schedules": []}
    for name, config in configs.items():
        for steps in (1, 2, 3, 4, 7, 10, 20, 25, 50):
            scheduler = EulerDiscreteScheduler.from_config(config)
            scheduler.set_timesteps(steps)
            t0 = scheduler.timesteps[0]
            scaled = scheduler.scale_model_input(torch.from_numpy(sample), t0)
            stepped = scheduler.step(torch.from_numpy(noise), t0, torch.from_numpy(sample)).prev_sample
            out["schedules"].append({
                "config": name, "steps": steps,
                "timesteps": [float(t) for t in scheduler.timesteps],
                "sigmas": [float(s) for s in scheduler.sigmas],
                "init_noise_sigma": float(scheduler.init_noise_sigma),
                "scaled_first": scaled.numpy().tolist(), "stepped_first": stepped.numpy().tolist(),
            })
    return out


def byte_level_decode_golden() -> dict:
    """Hugging Face's decode of id sequences of the bundled tiny-llm (a byte-level BPE), lone bytes included: the
    text onnxruntime-genai's pipeline must give (it decodes by tokenizer.json; its own decoder drops text)."""
    import random

    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(LLM / "tokenizer.json"))
    rng = random.Random(20)
    cases = [[260, 279, 81, 870, 161, 260, 279, 81, 870, 161, 161, 260, 279, 81, 870, 1, 2, 0, 260],
             [531, 572, 595, 261, 1392, 796, 181, 110, 2005]]  # lone bytes; F6 AF (two invalid sequences)
    while len(cases) < 300:
        cases.append([rng.randrange(tokenizer.get_vocab_size()) for _ in range(rng.randrange(1, 24))])
    return {"made_by": f"tokenizers {importlib.metadata.version('tokenizers')}", "skip_special_tokens": True,
            "tokenizer": "tiny-llm/onnxruntime_genai/tokenizer.json",
            "cases": [[ids, tokenizer.decode(ids, skip_special_tokens=True)] for ids in cases]}


def compact(data: dict, list_key: str) -> str:
    """JSON with one item of ``data[list_key]`` per line (readable diffs, small file)."""
    head = json.dumps({k: v for k, v in data.items() if k != list_key}, ensure_ascii=False)[:-1]
    items = ",\n".join(json.dumps(item, ensure_ascii=False, separators=(",", ":")) for item in data[list_key])
    return f'{head}, "{list_key}": [\n{items}\n]}}\n'


def main() -> None:
    (HERE / "golden_clip_tokenizer.json").write_text(compact(clip_golden(), "cases"), encoding="utf-8")
    (HERE / "golden_euler.json").write_text(compact(euler_golden(), "schedules"), encoding="utf-8")
    (HERE / "golden_byte_level_decode.json").write_text(compact(byte_level_decode_golden(), "cases"), encoding="utf-8")


if __name__ == "__main__":
    main()
