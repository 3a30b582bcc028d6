"""``generate``, ``imagine`` and ``classify``: one backend, one device, one call, in a worker process."""

from __future__ import annotations

import argparse
import json
import math
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_harness.atomic import atomic_output
from genai_harness.backends.aliases import canonical_framework
from genai_harness.backends.numerics import check_precision, check_threads
from genai_harness.commands.run import add_numerics_options
from genai_harness.errors import ConfigurationError, TaskNotSupportedError
from genai_harness.interface.tasks import Task

if TYPE_CHECKING:
    from genai_harness.runner.launcher import WorkerOutcome
    from genai_harness.worker.protocol import DirectReply

MAX_PROMPT_BYTES = 64 * 1024 * 1024
"""The largest prompt --prompt-file reads."""


def finite_number(low: float, *, above: bool = False, what: str = "value") -> Any:
    """An argparse type: a finite float >= ``low`` (> ``low`` when ``above``); nan, inf and lower are refused."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} {text!r} is not a number") from None
        if not math.isfinite(value) or value < low or (above and value == low):
            bound = f"greater than {low:g}" if above else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"{what} {text!r} must be a finite number {bound}")
        return value
    return parse


def whole_number(low: int, high: int, what: str) -> Any:
    """An argparse type: an integer in [low, high]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} {text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} {text!r} must be between {low} and {high}")
        return value
    return parse


def prompt_text(args: argparse.Namespace) -> str:
    """The prompt from --prompt or --prompt-file, as valid UTF-8 text (a one-line error otherwise)."""
    if args.prompt_file is not None:
        path = Path(args.prompt_file)
        try:
            if path.stat().st_size > MAX_PROMPT_BYTES:
                raise ConfigurationError(f"--prompt-file {path} is larger than {MAX_PROMPT_BYTES // 2**20} MiB")
            return path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigurationError(f"--prompt-file {path} is not UTF-8 text (byte {exc.start}); "
                                     "save it as UTF-8") from None
        except OSError as exc:
            raise ConfigurationError(f"cannot read --prompt-file {path}: {exc.strerror or exc}") from None
    try:
        args.prompt.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigurationError("--prompt is not valid UTF-8 text (the shell passed undecodable bytes); "
                                 "give UTF-8 text or use --prompt-file") from None
    return str(args.prompt)


def _environment_and_device(args: argparse.Namespace) -> tuple[Any, str]:
    # the config and the environments: loaded only when a command runs, to keep the CLI start light
    from genai_harness.config import load_config
    from genai_harness.runner.environments import configured_environments

    if not args.device.strip():
        raise ConfigurationError("--device '' is empty; give a device label such as CPU (see `genai-harness devices`)")
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
    # the registry, the config and the catalog: loaded only when a command runs, to keep the CLI start light
    from genai_harness.backends.registry import get_backend
    from genai_harness.config import load_config
    from genai_harness.workloads.catalog import Catalog

    args.framework = canonical_framework(args.framework)
    backend = get_backend(args.framework)
    if task not in backend.model_formats:
        raise TaskNotSupportedError(f"{args.framework} does not do {task}; it does {', '.join(backend.tasks)}")
    # One rule with `run --model`: a catalog id, else the path of a valid model folder or file.
    model = Catalog(load_config(args.config)).get(args.model)
    if model.task != task:
        raise ConfigurationError(f"model {model.id!r} is a {model.task} model, not {task}")
    return model.format_for(backend.model_formats[task], args.framework).path


def _call(args: argparse.Namespace, task: str, params: dict[str, Any]) -> tuple[WorkerOutcome[DirectReply], str]:
    """Run ``task`` once in a worker of the environment ``--device`` names: (its outcome, that environment)."""
    # the launcher and the worker protocol: loaded only when a command runs, to keep the CLI start light
    from genai_harness.runner.launcher import call_worker
    from genai_harness.worker.protocol import DirectRequest, RequestedNumerics

    args.framework = canonical_framework(args.framework)
    environment, selector = _environment_and_device(args)
    numerics = RequestedNumerics(check_precision(args.precision, "--precision"),
                                 check_threads(args.threads, "--threads"))
    request = DirectRequest(framework=args.framework, task=task, device=selector,
                            model_path=str(_model_path(args, task)), params=params, environment=environment.name,
                            numerics=numerics)
    outcome = call_worker(environment, request, args.timeout, what=f"{task} on {args.framework} {args.device}")
    return outcome, environment.name


def _json_answer(outcome: WorkerOutcome[DirectReply], environment: str) -> dict[str, Any]:
    """What ``--json`` prints: the reply, the worker's peak RSS and its environment."""
    return {**outcome.reply.to_dict(), "peak_rss_mb": outcome.peak_rss_mb, "environment": environment}


def _metric_line(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()
                     if v is not None)


def _numerics_line(numerics: dict[str, Any] | None) -> str:
    if not numerics:
        return "numerics not reported by this backend"
    line = (f"precision {numerics.get('precision')}, {numerics.get('threads')} threads, "
            f"weights {numerics.get('weight_precision') or numerics.get('weight_dtypes') or '?'}")
    if numerics.get("weight_precision") and numerics.get("weight_dtypes"):
        line += f" (stored as {numerics['weight_dtypes']})"
    return line + (f", KV cache {numerics['kv_cache_precision']}" if numerics.get("kv_cache_precision") else "")


CHAT_NOTES = {
    "applied": "prompt: framed by the model's chat template (one user message, the assistant's turn opened), "
               "rendered by the runtime's tokenizer; --raw sends it as it is",
    "none in model": "prompt: sent as it is (the model has no chat template)",
    "raw": "prompt: sent as it is (--raw; the model's chat template, if any, not applied)",
}
"""What ``generate`` says it did with the prompt, per the worker's ``chat_template`` answer."""


def timing_lines(output: dict[str, Any], repeat: int) -> list[str]:
    """What ``generate`` says it timed: the cold call, then the warm calls' median [min-max] (pure)."""
    lines = ["timed: one cold call, the first after load (one-time allocations and caches included)"
             + ("" if repeat else "; --repeat N times N warm calls after it")]
    warm = output.get("warm_metrics") or {}
    if warm:
        parts = [f"{name} {v['median']:.2f} [{v['min']:.2f}-{v['max']:.2f}]" for name, v in warm.items()
                 if name in ("ttft_ms", "tpot_ms", "decode_tps", "e2e_ms")]
        n = max(v["n"] for v in warm.values())
        lines.append(f"{n} warm calls, median [min-max]: " + ", ".join(parts))
    return lines


def cmd_generate(args: argparse.Namespace) -> int:
    """Generate text and print it with its timings."""
    outcome, environment = _call(args, Task.TEXT2TEXT, {"prompt": prompt_text(args),
                                                     "max_new_tokens": args.max_new_tokens, "raw": args.raw,
                                                     "repeat": args.repeat})
    if args.json:
        print(json.dumps(_json_answer(outcome, environment), indent=2))
        return 0
    reply = outcome.reply
    print(reply.output["text"])
    print(f"-- {len(reply.output['token_ids'])} tokens on {reply.device.label} ({reply.actual_device}), "
          f"load {reply.load_s:.2f} s, peak RSS {outcome.peak_rss_mb:.0f} MB")
    print(f"-- cold call: {_metric_line(reply.output['metrics'])}")
    print(f"-- {_numerics_line(reply.numerics)}")
    print(f"-- {CHAT_NOTES.get(str(reply.output.get('chat_template')), 'prompt: sent as it is')}")
    for line in timing_lines(reply.output, args.repeat):
        print(f"-- {line}")
    return 0


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{1,5})[xX](\d{1,5})", text)
    if not match:
        raise ConfigurationError(f"--size {text!r} must be WIDTHxHEIGHT, e.g. 512x512 (each at most 5 digits)")
    return int(match.group(1)), int(match.group(2))


def cmd_imagine(args: argparse.Namespace) -> int:
    """Generate an image and write it as PNG."""
    import numpy as np  # numpy and Pillow: loaded only when an image is made, to keep the CLI start light
    from PIL import Image

    width, height = _size(args.size)
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ConfigurationError(f"--out {args.out!r} must end in .png")
    with tempfile.TemporaryDirectory() as tmp:
        npy = Path(tmp, "image.npy")
        outcome, _environment = _call(args, Task.TEXT2IMAGE, {
            "prompt": prompt_text(args), "width": width, "height": height, "steps": args.steps, "seed": args.seed,
            "guidance_scale": args.guidance_scale, "out_npy": str(npy)})
        tensor = np.load(npy)
    try:
        with atomic_output(out) as tmp:  # whole or not at all: an earlier image stays until the new one is written
            Image.fromarray(tensor[0]).save(tmp, format="PNG")
    except OSError as exc:
        raise ConfigurationError(f"cannot write --out {out}: {exc.strerror or exc}; give a writable path") from None
    reply = outcome.reply
    print(f"wrote {out} ({width}x{height}) on {reply.device.label} ({reply.actual_device}): "
          f"{_metric_line(reply.output['metrics'])}, load {reply.load_s:.2f} s; {_numerics_line(reply.numerics)}")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    """Classify one synthetic batch and print timings."""
    outcome, environment = _call(args, Task.CLASSIFICATION, {"batch_size": args.batch})
    if args.json:
        print(json.dumps(_json_answer(outcome, environment), indent=2))
        return 0
    reply = outcome.reply
    print(f"top-1 {reply.output['top1']} on {reply.device.label} ({reply.actual_device}): "
          f"{_metric_line(reply.output['metrics'])}, load {reply.load_s:.2f} s; {_numerics_line(reply.numerics)}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the three subcommands."""
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", required=True, help="catalog model id or a model path")
        p.add_argument("--framework", required=True, help="onnxruntime_genai, openvino.genai or onnxruntime")
        p.add_argument("--device", default="CPU", help="device label, optionally @environment (default CPU)")
        p.add_argument("--timeout", type=finite_number(0, above=True, what="--timeout"), default=600.0,
                       help="seconds before the worker is killed (a finite number > 0)")
        add_numerics_options(p)

    g = sub.add_parser("generate", help="generate text with one backend on one device")
    common(g)
    prompt = g.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--prompt", help="the prompt text")
    prompt.add_argument("--prompt-file", help="read the prompt from this UTF-8 file (any length)")
    g.add_argument("--max-new-tokens", type=int, default=32)
    g.add_argument("--raw", action="store_true",
                   help="send the prompt as it is; by default it is framed by the model's chat template, where the "
                        "model has one (the same way on every runtime)")
    g.add_argument("--repeat", type=whole_number(0, 10_000, "--repeat"), default=0, metavar="N",
                   help="after the timed cold call, time N warm calls and show their median [min-max]")
    g.add_argument("--json", action="store_true", help="token ids, text, per-token times and metrics as JSON")
    g.set_defaults(handler=cmd_generate)

    i = sub.add_parser("imagine", help="generate an image with one backend on one device")
    common(i)
    image_prompt = i.add_mutually_exclusive_group(required=True)
    image_prompt.add_argument("--prompt", help="the prompt text")
    image_prompt.add_argument("--prompt-file", help="read the prompt from this UTF-8 file")
    i.add_argument("--size", default="512x512", help="WIDTHxHEIGHT")
    i.add_argument("--steps", type=whole_number(1, 10_000, "--steps"), default=20)
    i.add_argument("--seed", type=whole_number(0, 2**63 - 1, "--seed"), default=0)
    i.add_argument("--guidance-scale", type=finite_number(0, what="--guidance-scale"), default=7.5,
                   help="classifier-free guidance (a finite number >= 0)")
    i.add_argument("--out", required=True, help="output .png file")
    i.set_defaults(handler=cmd_imagine)

    c = sub.add_parser("classify", help="classify a synthetic batch with one backend on one device")
    common(c)
    c.add_argument("--batch", type=whole_number(1, 65_536, "--batch"), default=1)
    c.add_argument("--json", action="store_true")
    c.set_defaults(handler=cmd_classify)
