"""What a valid model folder or file of each format holds, checked when a model is registered.

Format keys are data the backends declare (``Backend.model_formats``): ``onnxruntime_genai``
(an onnxruntime-genai folder), ``openvino`` (an OpenVINO GenAI IR folder: LLM or text-to-image),
``onnxruntime`` (a Stable Diffusion ONNX component folder), ``onnx`` (one plain .onnx file),
``onnx_decoder`` (an exported ONNX decoder with a KV cache and its tokenizer.json, for plain onnxruntime sessions),
``hf`` (a Hugging Face checkpoint, bundled for provenance only).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from genai_harness.backends import decoder_conventions
from genai_harness.errors import ModelError
from genai_harness.interface.tasks import Task

Validator = Callable[[Path], None]

FORMAT_TASKS = (("onnxruntime_genai", Task.TEXT2TEXT), ("openvino", Task.TEXT2TEXT), ("openvino", Task.TEXT2IMAGE),
                ("onnxruntime", Task.TEXT2IMAGE), ("onnx", Task.CLASSIFICATION), ("onnx_decoder", Task.TEXT2TEXT))
"""Every (format, task) a model path may be validated as."""


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
    """A readable ONNX protobuf whose external data files hold every byte its tensors point at.

    The external data is not loaded: each tensor's (offset, length) is checked against its file's size,
    so a truncated ``model.onnx.data`` is refused here rather than at first use.
    """
    if not path.is_file():
        raise ModelError(f"ONNX model file {path} does not exist")
    # lazy: onnx (a runtime library) only when an ONNX file is checked; the catalog loads without it
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"{path} is not a readable ONNX model (truncated or corrupt?): {exc}") from exc
    if not model.graph.node:
        raise ModelError(f"{path} is an ONNX file without a graph")
    check_external_data(model, path)


def check_external_data(model: object, path: Path) -> None:
    """Every external tensor of ``model`` (loaded from ``path``) lies inside its data file."""
    # lazy: onnx (a runtime library) only when an ONNX file is checked; the catalog loads without it
    from onnx.external_data_helper import ExternalDataInfo, _get_all_tensors, uses_external_data

    sizes: dict[str, int] = {}
    for tensor in _get_all_tensors(model):
        if not uses_external_data(tensor):
            continue
        info = ExternalDataInfo(tensor)
        location = Path(info.location)
        data_file = (path.parent / location).resolve()
        if location.is_absolute() or path.parent.resolve() not in data_file.parents:
            raise ModelError(f"{path}: tensor {tensor.name!r} points outside the model folder ({info.location}); "
                             "refused")
        if info.location not in sizes:
            if not data_file.is_file():
                raise ModelError(f"{path} needs its external data {info.location}, which is missing")
            sizes[info.location] = data_file.stat().st_size
        end = (info.offset or 0) + (info.length or 0)
        if end > sizes[info.location]:
            raise ModelError(f"{path}: external data {info.location} is truncated ({sizes[info.location]} bytes; "
                             f"tensor {tensor.name!r} ends at byte {end}); copy the model again")


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
    end = 0
    for data in root.iter("data"):
        try:
            end = max(end, int(data.get("offset", 0)) + int(data.get("size", 0)))
        except ValueError:
            raise ModelError(f"{xml_path}: a layer has an unreadable weight offset/size") from None
    if uses_weights and end > bin_path.stat().st_size:
        raise ModelError(f"{xml_path}: weights {bin_path.name} are truncated ({bin_path.stat().st_size} bytes, "
                         f"layers read up to byte {end}); copy the model again")


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelError(f"{path} is not readable JSON ({type(exc).__name__}: {exc}); the model folder is "
                         "corrupt or not a model") from None
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None


def _positive_int(table: dict[str, object], key: str, where: str) -> None:
    value = table.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ModelError(f"{where}: {key} is {value!r}; it must be a positive integer")


def _check_tokenizer_json(path: Path) -> None:
    """A Hugging Face tokenizer.json: a JSON object with a model table and a vocabulary."""
    data = _read_json(path)
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or not model.get("type") or "vocab" not in model:
        raise ModelError(f"{path} is not a tokenizer.json (no model.type / model.vocab); copy the tokenizer again")


def custom_op_libraries(path: Path) -> list[str]:
    """Shared libraries an onnxruntime-genai folder's genai_config.json makes the runtime load (native code)."""
    config_file = path / "genai_config.json" if path.is_dir() else None
    if config_file is None or not config_file.is_file():
        return []
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "custom_ops_library" and value:
                    found.append(str(value))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(_read_json(config_file))
    return found


def _ort_genai(path: Path) -> None:
    what = "onnxruntime-genai model folder"
    _need_dir(path, what)
    _need_files(path, ["genai_config.json"], what)
    where = f"{path}/genai_config.json"
    config = _read_json(path / "genai_config.json")
    try:
        model = config["model"]  # type: ignore[index]
        decoder = model["decoder"]["filename"]
    except (KeyError, TypeError) as exc:
        raise ModelError(f"{where} is malformed (no model.decoder.filename): {exc}") from None
    if not isinstance(decoder, str) or not decoder or Path(decoder).is_absolute() or ".." in Path(decoder).parts:
        raise ModelError(f"{where}: model.decoder.filename {decoder!r} must name a file inside the folder")
    for key in ("context_length", "vocab_size"):
        _positive_int(model, key, where)
    for key in ("num_hidden_layers", "num_attention_heads", "head_size", "hidden_size"):
        _positive_int(model["decoder"], key, where)
    search = config.get("search", {}) if isinstance(config, dict) else {}
    if isinstance(search, dict):
        _positive_int(search, "max_length", where)
    _need_files(path, [decoder], what)
    check_onnx_file(path / decoder)
    if (path / "tokenizer.json").is_file():
        _check_tokenizer_json(path / "tokenizer.json")
    elif not (path / "tokenizer.model").is_file():
        raise ModelError(f"{path} is not a valid {what}: missing tokenizer.json")


def _openvino(path: Path, task: str) -> None:
    what = f"OpenVINO GenAI {task} folder"
    _need_dir(path, what)
    if task == Task.TEXT2IMAGE:
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


def _onnx_decoder(path: Path) -> None:
    """A folder with a decoder .onnx whose names follow a known convention, and its tokenizer.json."""
    what = "ONNX decoder folder (a .onnx with a KV cache and tokenizer.json)"
    _need_dir(path, what)
    onnx_file = decoder_conventions.decoder_file(path)
    _need_files(path, [onnx_file.name, "tokenizer.json"], what)
    check_onnx_file(onnx_file)
    _check_tokenizer_json(path / "tokenizer.json")
    decoder_conventions.decoder_io(onnx_file)


def _onnx_file(path: Path) -> None:
    if path.is_dir():
        raise ModelError(f"{path} is a folder; an image classifier is one .onnx file")
    if path.suffix != ".onnx":
        raise ModelError(f"{path} is not an .onnx file")
    check_onnx_file(path)


def validate(format_key: str, task: str, path: Path) -> None:
    """Raise :class:`ModelError` naming what is missing or broken, if ``path`` is not a valid model."""
    if format_key == "onnxruntime_genai" and task == Task.TEXT2TEXT:
        _ort_genai(path)
    elif format_key == "openvino" and task in (Task.TEXT2TEXT, Task.TEXT2IMAGE):
        _openvino(path, task)
    elif format_key == "onnxruntime" and task == Task.TEXT2IMAGE:
        _sd_onnx(path)
    elif format_key == "onnx" and task == Task.CLASSIFICATION:
        _onnx_file(path)
    elif format_key == "onnx_decoder" and task == Task.TEXT2TEXT:
        _onnx_decoder(path)
    elif format_key in ("fake", "hf"):
        if not path.exists():
            raise ModelError(f"model path {path} does not exist")
    else:
        raise ModelError(f"format {format_key!r} does not hold {task} models; formats: "
                         "onnxruntime_genai (text2text), openvino (text2text, text2image), "
                         "onnxruntime (text2image), onnx (classification), onnx_decoder (text2text)")
