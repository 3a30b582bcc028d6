"""What a valid model folder or file of each format holds, checked when a model is registered.

Format keys are data the backends declare (``Backend.model_formats``): ``onnxruntime_genai``
(an onnxruntime-genai folder), ``openvino`` (an OpenVINO GenAI IR folder: LLM or text-to-image),
``onnxruntime`` (a Stable Diffusion ONNX component folder), ``onnx`` (one plain .onnx file),
``hf`` (a Hugging Face checkpoint, bundled for provenance only).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from genai_harness.backends.base import TASK_CLASSIFICATION, TASK_TEXT2IMAGE, TASK_TEXT2TEXT
from genai_harness.errors import ModelError

Validator = Callable[[Path], None]


def _need_dir(path: Path, what: str) -> None:
    if not path.exists():
        raise ModelError(f"model path {path} does not exist")
    if not path.is_dir():
        raise ModelError(f"{path} is a file; a {what} is a folder")


def _need_files(path: Path, files: list[str], what: str) -> None:
    missing = [f for f in files if not (path / f).is_file()]
    if missing:
        raise ModelError(f"{path} is not a valid {what}: missing {', '.join(missing)}")
    empty = [f for f in files if (path / f).stat().st_size == 0]
    if empty:
        raise ModelError(f"{path} is not a valid {what}: empty file(s) {', '.join(empty)}")


def check_onnx_file(path: Path) -> None:
    """A readable ONNX protobuf (external data not loaded); truncated or corrupt files are refused."""
    if not path.is_file():
        raise ModelError(f"ONNX model file {path} does not exist")
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"{path} is not a readable ONNX model (truncated or corrupt?): {exc}") from exc
    if not model.graph.node:
        raise ModelError(f"{path} is an ONNX file without a graph")


def check_ir(xml_path: Path) -> None:
    """An OpenVINO IR: parseable XML and a non-empty .bin beside it where weights are referenced."""
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as exc:
        raise ModelError(f"{xml_path} is not a readable OpenVINO IR (truncated or corrupt?): {exc}") from exc
    if root.tag != "net":
        raise ModelError(f"{xml_path} is not an OpenVINO IR (root element {root.tag!r}, expected 'net')")
    bin_path = xml_path.with_suffix(".bin")
    uses_weights = any(layer.get("type") == "Const" for layer in root.iter("layer"))
    if uses_weights and (not bin_path.is_file() or bin_path.stat().st_size == 0):
        raise ModelError(f"{xml_path} needs its weights {bin_path.name}, which is missing or empty")


def _ort_genai(path: Path) -> None:
    what = "onnxruntime-genai model folder"
    _need_dir(path, what)
    _need_files(path, ["genai_config.json"], what)
    try:
        config = json.loads((path / "genai_config.json").read_text())
        decoder = config["model"]["decoder"]["filename"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}/genai_config.json is malformed (no model.decoder.filename): {exc}") from exc
    _need_files(path, [decoder], what)
    check_onnx_file(path / decoder)
    if not any((path / t).is_file() for t in ("tokenizer.json", "tokenizer.model")):
        raise ModelError(f"{path} is not a valid {what}: missing tokenizer.json")


def _openvino(path: Path, task: str) -> None:
    what = f"OpenVINO GenAI {task} folder"
    _need_dir(path, what)
    if task == TASK_TEXT2IMAGE:
        parts = ["text_encoder/openvino_model.xml", "unet/openvino_model.xml", "vae_decoder/openvino_model.xml",
                 "tokenizer/openvino_tokenizer.xml", "scheduler/scheduler_config.json"]
        _need_files(path, ["model_index.json", *parts], what)
    else:
        parts = ["openvino_model.xml", "openvino_tokenizer.xml", "openvino_detokenizer.xml"]
        _need_files(path, parts, what)
    for part in parts:
        if part.endswith(".xml"):
            check_ir(path / part)


def _sd_onnx(path: Path) -> None:
    what = "Stable Diffusion ONNX folder"
    _need_dir(path, what)
    parts = ["text_encoder/model.onnx", "unet/model.onnx", "vae_decoder/model.onnx"]
    _need_files(path, [*parts, "tokenizer/vocab.json", "tokenizer/merges.txt", "scheduler/scheduler_config.json"],
                what)
    for part in parts:
        check_onnx_file(path / part)


def _onnx_file(path: Path) -> None:
    if path.is_dir():
        raise ModelError(f"{path} is a folder; an image classifier is one .onnx file")
    if path.suffix != ".onnx":
        raise ModelError(f"{path} is not an .onnx file")
    check_onnx_file(path)


def validate(format_key: str, task: str, path: Path) -> None:
    """Raise :class:`ModelError` naming what is missing or broken, if ``path`` is not a valid model."""
    if format_key == "onnxruntime_genai" and task == TASK_TEXT2TEXT:
        _ort_genai(path)
    elif format_key == "openvino" and task in (TASK_TEXT2TEXT, TASK_TEXT2IMAGE):
        _openvino(path, task)
    elif format_key == "onnxruntime" and task == TASK_TEXT2IMAGE:
        _sd_onnx(path)
    elif format_key == "onnx" and task == TASK_CLASSIFICATION:
        _onnx_file(path)
    elif format_key in ("fake", "hf"):
        if not path.exists():
            raise ModelError(f"model path {path} does not exist")
    else:
        raise ModelError(f"format {format_key!r} does not hold {task} models; formats: "
                         "onnxruntime_genai (text2text), openvino (text2text, text2image), "
                         "onnxruntime (text2image), onnx (classification)")
