"""One model of the catalog and its formats (what a registered, bundled or given-by-path model is), and the advice
given when a model is another runtime's format."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genai_harness.errors import ModelFormatError


@dataclass(frozen=True)
class ModelFormat:
    """One format of a model: where its files are, their size and a content hash."""

    key: str
    path: Path
    size_bytes: int
    hash: str
    files: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"key": self.key, "path": str(self.path), "size_bytes": self.size_bytes, "hash": self.hash,
                "n_files": len(self.files)}


@dataclass(frozen=True)
class CatalogModel:
    """A model the harness knows, with every format it has files for."""

    id: str
    task: str
    source: str
    description: str = ""
    formats: dict[str, ModelFormat] = field(default_factory=dict)
    checkpoint_sha256: str = ""
    family: str | None = None
    """The checkpoint this model is a variant of (``smollm2-135m`` for ``smollm2-135m-int4``); None if unknown."""
    weights: str | None = None
    """``real weights``, ``random weights: speed only``, or None when the harness cannot tell (a user's model)."""

    def format_for(self, format_key: str, framework: str) -> ModelFormat:
        """The format a framework loads, or :class:`ModelFormatError` naming those it has."""
        if format_key not in self.formats:
            have = ", ".join(k for k in self.formats if k != "hf") or "none"
            if self.source == "path":
                raise ModelFormatError(path_format_advice(self, format_key, framework))
            hint = (f"register it with `genai-harness models add {self.id} --framework {framework} --path PATH`"
                    if self.source in ("user", "known") else "rebuild the bundled models")
            raise ModelFormatError(f"model {self.id!r} has no {format_key} format for {framework} "
                                   f"(it has: {have}); {hint}")
        return self.formats[format_key]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.id, "task": self.task, "source": self.source, "description": self.description,
                "checkpoint_sha256": self.checkpoint_sha256, "family": self.family, "weights": self.weights,
                "formats": {k: f.to_dict() for k, f in self.formats.items()}}


FORMAT_NAMES: dict[str, tuple[str, str, str]] = {
    "onnxruntime_genai": ("an onnxruntime-genai model folder (genai_config.json)", "onnxruntime_genai",
                          "build one from the checkpoint with `python -m onnxruntime_genai.models.builder -i HF_DIR "
                          "-o OUT -p fp32 -e cpu`"),
    "openvino": ("an OpenVINO model folder (IR .xml/.bin)", "openvino.genai",
                 "export one from the checkpoint with `optimum-cli export openvino --model HF_DIR --task "
                 "text-generation-with-past OUT`"),
    "onnx": ("a plain ONNX model", "onnxruntime", "export the checkpoint to ONNX"),
    "onnx_decoder": ("an ONNX decoder with a KV cache (.onnx + tokenizer.json)", "onnxruntime",
                     "export the checkpoint with its KV cache (the onnxruntime-genai builder, optimum, or "
                     "torch.onnx dynamo at opset 23) beside its tokenizer.json"),
    "onnxruntime": ("an ONNX text-to-image folder (model_index.json + components)", "onnxruntime",
                    "export the pipeline's components to ONNX"),
}
"""Per format: what a folder of it is, the framework that runs it, how to make one from a checkpoint."""


def path_format_advice(model: CatalogModel, format_key: str, framework: str) -> str:
    """The error of a model given by path that is another runtime's format: what it is, what runs it, how to get
    the format asked for (pure)."""
    kinds = [FORMAT_NAMES.get(k, (f"a {k} model", k, ""))[:2] for k in model.formats if k != "hf"]
    what = " and ".join(name for name, _fw in kinds) or "no model the harness knows"
    runs = " or ".join(f"--framework {fw}" for _name, fw in dict.fromkeys(kinds))
    wanted = FORMAT_NAMES.get(format_key, (f"a {format_key} model", framework, ""))
    how = f"; or, for {framework}, {wanted[2]} and give that folder" if wanted[2] else ""
    return (f"{model.id} is {what}, not {wanted[0]}, which {framework} needs: run it with {runs}{how}")
