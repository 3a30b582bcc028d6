"""``genai-harness models``: list, add, remove and verify catalog models."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from genai_harness.backends.aliases import canonical_framework
from genai_harness.backends.registry import get_backend
from genai_harness.config import load_config
from genai_harness.errors import ConfigurationError, ModelError, TaskNotSupportedError
from genai_harness.interface.tasks import ALL_TASKS
from genai_harness.runner.model_build import build_model
from genai_harness.tables import format_table
from genai_harness.workloads.buildable import BUILDABLE
from genai_harness.workloads.catalog import Catalog, verify_bundled, verify_user_model


def _catalog(args: argparse.Namespace) -> Catalog:
    return Catalog(load_config(args.config))


def _format_for_framework(framework: str, task: str) -> str:
    framework = canonical_framework(framework)
    backend = get_backend(framework)
    if task not in backend.model_formats:
        raise TaskNotSupportedError(f"{framework} does not do {task}; it does {', '.join(backend.model_formats)}")
    return backend.model_formats[task]


def _build(args: argparse.Namespace) -> int:
    if not args.id:
        raise ConfigurationError(f"models build needs the model ID; buildable: {', '.join(BUILDABLE)}")
    outcome = build_model(args.id, _catalog(args), Path(args.out) if args.out else None,
                          lambda line: print(line, flush=True), exports=args.exports)
    summary = outcome.manifest.get("reference_summary", {})
    if summary.get("questions_asked"):
        print(f"reference: the float32 checkpoint answered {summary['questions_kept']} of "
              f"{summary['questions_asked']} questions correctly; those form this model's question set")
    print(f"{'reused' if outcome.reused else 'built'} {args.id} in {outcome.folder}; run it with "
          f"`genai-harness run --model {outcome.registered[0]} --reference` (models: {', '.join(outcome.registered)})")
    return 0


def _package(args: argparse.Namespace) -> int:
    """Write an onnxruntime model package of a family's onnxruntime-genai variants (files linked, not copied)."""
    from genai_harness.dispatch.decide import family_members  # the family rule lives with the dispatcher
    from genai_harness.workloads.model_package import write_package

    if not (args.id and args.out):
        raise ConfigurationError("models package needs the FAMILY and --out DIR (a new folder)")
    catalog = _catalog(args)
    members = [catalog.get(m) for m in family_members(catalog.models.values(), args.id)]
    members = [m for m in members if "onnxruntime_genai" in m.formats]
    if not members:
        raise ModelError(f"{args.id!r} is no family with onnxruntime_genai variants in the catalog; build one with "
                         "`genai-harness models build ID` (families: ids that `models` lists with a family)")
    declared = [(m.id, m.formats["onnxruntime_genai"].path, "CPUExecutionProvider", "cpu", f"weights={m.id}")
                for m in members]
    folder = write_package(Path(args.out).expanduser(), declared)
    print(f"wrote model package {folder} with variants {', '.join(m.id for m in members)} (CPU, declared in that "
          f"order); compare its choice with the measured one: `genai-harness pick --task text2text --model "
          f"{args.id} --objective tpot --package {folder}`")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """List the catalog, or add / remove / verify / build / package."""
    if args.action == "build":
        return _build(args)
    if args.action == "package":
        return _package(args)
    if args.action == "add":
        if not (args.id and args.path and args.task and (args.framework or args.format)):
            raise ConfigurationError("models add needs ID --task TASK --path PATH and --framework F (or --format K)")
        format_key = args.format or _format_for_framework(args.framework, args.task)
        model = _catalog(args).add(args.id, args.task, format_key, Path(args.path), args.description or "",
                                   allow_custom_ops=args.allow_custom_ops)
        print(f"registered {model.id} ({model.task}) format {format_key}: {model.formats[format_key].path}")
        return 0
    if args.action == "remove":
        if not args.id:
            raise ConfigurationError("models remove needs the model ID")
        _catalog(args).remove(args.id)
        print(f"removed {args.id}")
        return 0
    if args.action == "verify":
        if args.id:
            model = _catalog(args).get(args.id)
            if model.source == "user":
                problems = verify_user_model(model)
                if problems:
                    raise ModelError(f"model {model.id!r} is broken: " + "; ".join(problems[:5]))
                print(f"{model.id}: every registered format is a valid model "
                      f"({', '.join(model.formats) or 'none registered'})")
                return 0
            if model.source != "bundled":
                print(f"{model.id}: a {model.source} model; nothing to verify beyond its presence")
                return 0
        problems = verify_bundled()
        if problems:
            raise ModelError("bundled models differ from the manifest: " + "; ".join(problems[:5]))
        print("bundled models match the manifest (sizes and sha256)")
        return 0
    catalog = _catalog(args)
    models = sorted(catalog.models.values(), key=lambda m: (m.task, m.source, m.id))
    if args.json:
        print(json.dumps([m.to_dict() for m in models], indent=2))
        return 0
    rows = []
    for m in models:
        formats = ", ".join(f"{k} {f.size_bytes / 1e6:.1f} MB" for k, f in m.formats.items()) or "not registered"
        hashes = ", ".join(f.hash[:12] for f in m.formats.values())
        source = f"{m.source}: {m.weights}, family {m.family}" if m.family else m.source
        rows.append((m.id, m.task, source, formats, hashes))
    print(format_table(["model", "task", "source", "formats (size)", "hashes"], rows, max_width=80))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the subcommand."""
    p = sub.add_parser("models", help="list the model catalog; add, remove or verify models")
    p.add_argument("action", nargs="?", choices=["list", "add", "remove", "verify", "build", "package"], default="list")
    p.add_argument("id", nargs="?", help="model id (add / remove / verify / build; verify without one: the bundled "
                        f"models; build: one of {', '.join(BUILDABLE)}; package: a family)")
    p.add_argument("--task", choices=[str(task) for task in ALL_TASKS])
    p.add_argument("--framework", help="the framework that loads this format (e.g. onnxruntime_genai)")
    p.add_argument("--format", help="the format key instead of --framework (onnxruntime_genai, openvino, ...)")
    p.add_argument("--path", help="model folder or .onnx file")
    p.add_argument("--description", help="free text")
    p.add_argument("--allow-custom-ops", action="store_true",
                   help="consent to a model whose genai_config.json loads a custom-ops shared library (native code)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--out", help="build: the folder to build into (default: ~/.cache/genai-harness/models, or "
                                 "$GENAI_HARNESS_CACHE/models); package: the new package folder")
    p.add_argument("--exports", action="store_true",
                   help="build: also the export-matrix variants (mobius-onnx's standard and openvino profiles of the "
                        "same float32 weights; added to a finished build that lacks them), for `run --suite exports`")
    p.set_defaults(handler=cmd_models)
