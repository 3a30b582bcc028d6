"""``generate``, ``imagine`` and ``classify``: one backend, one device, one call, in a worker process."""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path
from typing import Any

from genai_harness.commands.run import add_numerics_options
from genai_harness.errors import ConfigurationError


def _environment_and_device(args: argparse.Namespace) -> tuple[Any, str]:
    from genai_harness.config import load_config
    from genai_harness.harness.environments import configured_environments

    selector, _, env_name = args.device.partition("@")
    envs = configured_environments(load_config(args.config), args.python)
    by_name = {e.name: e for e in envs}
    env_name = env_name or "default"
    if env_name not in by_name:
        raise ConfigurationError(f"unknown environment {env_name!r} in --device {args.device!r}; "
                                 f"environments: {', '.join(by_name)}")
    return by_name[env_name], selector or "CPU"


def _model_path(args: argparse.Namespace, task: str) -> Path:
    """A catalog id resolved to the framework's format, or a path given directly."""
    from genai_harness.backends.registry import get_backend
    from genai_harness.config import load_config
    from genai_harness.errors import TaskNotSupportedError
    from genai_harness.workloads.catalog import Catalog

    backend = get_backend(args.framework)
    if task not in backend.model_formats:
        raise TaskNotSupportedError(f"{args.framework} does not do {task}; it does {', '.join(backend.tasks)}")
    candidate = Path(args.model)
    if candidate.exists():
        return candidate.absolute()
    model = Catalog(load_config(args.config)).get(args.model)
    if model.task != task:
        raise ConfigurationError(f"model {model.id!r} is a {model.task} model, not {task}")
    return model.format_for(backend.model_formats[task], args.framework).path


def _call(args: argparse.Namespace, task: str, params: dict[str, Any]) -> dict[str, Any]:
    from genai_harness.harness.worker_client import call_worker

    environment, selector = _environment_and_device(args)
    from genai_harness.backends.numerics import check_precision, check_threads

    numerics = {"precision": check_precision(args.precision, "--precision"),
                "threads": check_threads(args.threads, "--threads")}
    request = {"op": "direct", "environment": environment.name, "framework": args.framework, "task": task,
               "device": selector, "model_path": str(_model_path(args, task)), "params": params,
               "numerics": numerics}
    outcome = call_worker(environment, request, args.timeout, what=f"{task} on {args.framework} {args.device}")
    return {**outcome.response, "peak_rss_mb": outcome.peak_rss_mb, "environment": environment.name}


def _metric_line(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()
                     if v is not None)


def _numerics_line(answer: dict[str, Any]) -> str:
    numerics = answer.get("numerics") or {}
    if not numerics:
        return "numerics not reported by this backend"
    return (f"precision {numerics.get('precision')}, {numerics.get('threads')} threads, "
            f"weights {numerics.get('weight_dtypes') or '?'}")


def cmd_generate(args: argparse.Namespace) -> int:
    """Generate text and print it with its timings."""
    answer = _call(args, "text2text", {"prompt": args.prompt, "max_new_tokens": args.max_new_tokens})
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    print(answer["text"])
    print(f"-- {len(answer['token_ids'])} tokens on {answer['device']['label']} ({answer['actual_device']}), "
          f"load {answer['load_s']:.2f} s, peak RSS {answer['peak_rss_mb']:.0f} MB")
    print(f"-- {_metric_line(answer['metrics'])}")
    print(f"-- {_numerics_line(answer)}")
    return 0


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)[xX](\d+)", text)
    if not match:
        raise ConfigurationError(f"--size {text!r} must be WIDTHxHEIGHT, e.g. 512x512")
    return int(match.group(1)), int(match.group(2))


def cmd_imagine(args: argparse.Namespace) -> int:
    """Generate an image and write it as PNG."""
    import numpy as np
    from PIL import Image

    width, height = _size(args.size)
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ConfigurationError(f"--out {args.out!r} must end in .png")
    with tempfile.TemporaryDirectory() as tmp:
        npy = Path(tmp, "image.npy")
        answer = _call(args, "text2image", {"prompt": args.prompt, "width": width, "height": height,
                                            "steps": args.steps, "seed": args.seed,
                                            "guidance_scale": args.guidance_scale, "out_npy": str(npy)})
        tensor = np.load(npy)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(tensor[0]).save(out)
    print(f"wrote {out} ({width}x{height}) on {answer['device']['label']} ({answer['actual_device']}): "
          f"{_metric_line(answer['metrics'])}, load {answer['load_s']:.2f} s; {_numerics_line(answer)}")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    """Classify one synthetic batch and print timings."""
    answer = _call(args, "classification", {"batch_size": args.batch})
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    print(f"top-1 {answer['top1']} on {answer['device']['label']} ({answer['actual_device']}): "
          f"{_metric_line(answer['metrics'])}, load {answer['load_s']:.2f} s; {_numerics_line(answer)}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the three subcommands."""
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", required=True, help="catalog model id or a model path")
        p.add_argument("--framework", required=True, help="onnxruntime_genai, openvino.genai or onnxruntime")
        p.add_argument("--device", default="CPU", help="device label, optionally @environment (default CPU)")
        p.add_argument("--timeout", type=float, default=600.0, help="seconds before the worker is killed")
        add_numerics_options(p)

    g = sub.add_parser("generate", help="generate text with one backend on one device")
    common(g)
    g.add_argument("--prompt", required=True)
    g.add_argument("--max-new-tokens", type=int, default=32)
    g.add_argument("--json", action="store_true", help="token ids, text, per-token times and metrics as JSON")
    g.set_defaults(handler=cmd_generate)

    i = sub.add_parser("imagine", help="generate an image with one backend on one device")
    common(i)
    i.add_argument("--prompt", required=True)
    i.add_argument("--size", default="512x512", help="WIDTHxHEIGHT")
    i.add_argument("--steps", type=int, default=20)
    i.add_argument("--seed", type=int, default=0)
    i.add_argument("--guidance-scale", type=float, default=7.5)
    i.add_argument("--out", required=True, help="output .png file")
    i.set_defaults(handler=cmd_imagine)

    c = sub.add_parser("classify", help="classify a synthetic batch with one backend on one device")
    common(c)
    c.add_argument("--batch", type=int, default=1)
    c.add_argument("--json", action="store_true")
    c.set_defaults(handler=cmd_classify)
