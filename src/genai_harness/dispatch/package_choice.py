"""A model package's declared choice beside the measured one.

A model package (:mod:`genai_harness.workloads.model_package`) lets the runtime pick a variant by declared
compatibility: onnxruntime's ``ModelPackageContext.select_component`` asks each variant's execution provider to score
its compatibility string and takes the best; an EP with no validator (the CPU EP) scores none, and the first declared
variant of that EP is taken. Nothing in that choice is measured. :func:`declared_choice` asks the installed runtimes
what they select (and says precisely when one cannot read packages: onnxruntime-genai 0.18's wheel refuses them,
"requires building onnxruntime-genai against ONNX Runtime with the OrtModelPackageApi experimental functions");
:func:`compare` (pure) sets that beside the dispatcher's measured decision.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genai_harness.dispatch.decision import Candidate, Decision
from genai_harness.workloads.model_package import PackageVariant, read_package

GENAI_FORMAT = "onnxruntime_genai"


@dataclass(frozen=True)
class DeclaredChoice:
    """What a package declares and which variant the runtime selects from it."""

    package: Path
    variants: tuple[PackageVariant, ...]
    selected: PackageVariant | None
    how: str
    """How the selection was made (by which runtime and version, and by what rule), or why none was."""
    genai: str
    """Whether the installed onnxruntime-genai reads the package itself, in its own words."""
    model_id: str | None
    """The catalog model whose onnxruntime_genai folder the selected variant is (None: not in the catalog)."""


def _runtime_selection(root: Path, variants: list[PackageVariant]) -> tuple[PackageVariant | None, str]:
    try:
        import onnxruntime as ort  # optional runtime: only a package comparison needs it
    except ImportError:
        ort = None
    if ort is None or not hasattr(ort, "ModelPackageContext"):
        version = getattr(ort, "__version__", "not installed")
        first = next((v for v in variants if v.ep == "CPUExecutionProvider"), None)
        return first, (f"onnxruntime {version} has no model package API; by the documented rule the CPU EP takes its "
                       "first declared variant")
    try:
        context = ort.ModelPackageContext(str(root))
        chosen = context.select_component("model", ort.ModelPackageOptions(ort.SessionOptions()))
        name = chosen.get_selected_variant_name()
    except Exception as exc:  # the runtime's own words, one line
        return None, f"onnxruntime {ort.__version__} selects no variant: {str(exc).splitlines()[0][:300]}"
    selected = next((v for v in variants if v.name == name), None)
    scored = {v.ep for v in variants} - {"CPUExecutionProvider"}
    rule = ("its EP scored the compatibility strings" if selected is not None and selected.ep in scored
            else "the CPU EP scores no compatibility string: the first declared CPU variant")
    return selected, f"selected by onnxruntime {ort.__version__} with default session options ({rule})"


def _genai_reads(root: Path) -> str:
    try:
        import onnxruntime_genai as og  # optional runtime: only a package comparison needs it
    except ImportError:
        return "onnxruntime-genai is not installed"
    try:
        og.Config(str(root))
    except Exception as exc:  # the runtime's own words, one line
        return f"onnxruntime-genai {og.__version__} cannot load the package: {str(exc).splitlines()[0][:300]}"
    return f"onnxruntime-genai {og.__version__} reads the package"


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _model_of(variant: PackageVariant, models: Iterable[Any]) -> str | None:
    """The catalog model whose onnxruntime_genai folder ``variant`` is: the same folder, or one whose files the
    variant links to (a package the harness wrote)."""
    config = variant.folder / "genai_config.json"
    # one hop, as the harness links a package's files to the model folder's own (which may be links themselves)
    linked = (variant.folder / os.readlink(config)).parent if config.is_symlink() else variant.folder
    folders = [(m.id, m.formats[GENAI_FORMAT].path) for m in models if GENAI_FORMAT in getattr(m, "formats", {})]
    for wanted in (variant.folder, linked):  # the variant folder itself first, then the folder it links to
        for model_id, path in folders:
            if _same_folder(path, wanted):
                return str(model_id)
    return None


def declared_choice(root: Path, models: Iterable[Any]) -> DeclaredChoice:
    """Read the package at ``root``, ask the installed runtimes what they select, and name the catalog model of the
    selected variant among ``models`` (catalog entries)."""
    variants = read_package(root)
    selected, how = _runtime_selection(root, variants)
    model_id = _model_of(selected, list(models)) if selected is not None else None
    return DeclaredChoice(root, tuple(variants), selected, how, _genai_reads(root), model_id)


def _matches(candidate: Candidate, declared: DeclaredChoice, model: str) -> bool:
    """Whether ``candidate`` (of a decision on ``model``) is the declared variant on the declared device."""
    assert declared.selected is not None
    device = declared.selected.device.upper()
    return ((candidate.model_id or model) == declared.model_id and candidate.framework == GENAI_FORMAT
            and (not device or candidate.device.split(":")[0].split(".")[0] == device))


def compare(declared: DeclaredChoice, decision: Decision) -> list[str]:
    """Lines setting the package's declared choice beside the measured decision (pure)."""
    listed = ", ".join(f"{v.name} [{v.ep}, {v.device or 'any device'}]" for v in declared.variants)
    lines = [f"package {declared.package}: {len(declared.variants)} variants ({listed})",
             f"  onnxruntime-genai: {declared.genai}"]
    if declared.selected is None:
        return [*lines, f"  declared choice: none ({declared.how})"]
    variant = declared.selected
    named = f" = {declared.model_id}" if declared.model_id else " (not a catalog model: register it to measure it)"
    lines.append(f"  declared choice: {variant.name}{named}; {declared.how}")
    winner = decision.winner
    if winner is None:
        return lines
    lines.append(f"  measured choice: {winner.choice}: {decision.objective} {winner.expected:.4g} {winner.unit}")
    if declared.model_id is None:
        return [*lines, "  verdict: cannot compare (the declared variant is no catalog model)"]
    if _matches(winner, declared, decision.model):
        return [*lines, "  verdict: the declaration agrees with the measurement"]
    ranked = [(i, c) for i, c in enumerate(decision.ranked) if _matches(c, declared, decision.model)]
    if ranked:
        position, candidate = ranked[0]
        return [*lines, f"  verdict: the declaration disagrees: its variant ranks #{position + 1} of "
                        f"{len(decision.ranked)} ({candidate.reason})"]
    prefix = f"{declared.model_id} on " if winner.model_id else ""
    excluded = [e for e in decision.excluded if e.startswith(f"{prefix}{GENAI_FORMAT} ")
                and (winner.model_id or declared.model_id == decision.model)]
    if excluded:
        return [*lines, f"  verdict: the declaration disagrees: its variant was excluded ({excluded[0]})"]
    return [*lines, f"  verdict: the declared variant was never measured here; run `genai-harness run --model "
                    f"{declared.model_id} --reference` first"]
