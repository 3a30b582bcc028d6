"""The model catalog: bundled tiny models, the classification models the onnx wheel ships,
well-known client models (listed so users know what to register), and user-registered models.

User models live in the configuration file (``[models.ID]``, see :mod:`genai_harness.config`) and
are validated when added; a failed add leaves the file as it was.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

from genai_harness.config import HarnessConfig
from genai_harness.errors import ConfigurationError, ModelError
from genai_harness.hashing import file_sha256
from genai_harness.interface.tasks import ALL_TASKS, Task
from genai_harness.workloads.buildable import RANDOM_WEIGHTS
from genai_harness.workloads.custom_ops import CONSENT_KEY, check_consent, consented, missing_file
from genai_harness.workloads.custom_ops import libraries as custom_op_libraries
from genai_harness.workloads.model_entry import FORMAT_NAMES as FORMAT_NAMES
from genai_harness.workloads.model_entry import CatalogModel as CatalogModel
from genai_harness.workloads.model_entry import ModelFormat as ModelFormat
from genai_harness.workloads.model_entry import path_format_advice as path_format_advice
from genai_harness.workloads.model_formats import FORMAT_TASKS, validate

TASKS = ALL_TASKS
MODELS_DIR = Path(__file__).resolve().parent / "models"
MANIFEST = MODELS_DIR / "manifest.json"

# Real ImageNet architectures the onnx wheel ships (weights generated in-graph).
ONNX_LIGHT_MODELS = {
    "squeezenet": "light_squeezenet.onnx",
    "resnet50": "light_resnet50.onnx",
    "shufflenet": "light_shufflenet.onnx",
    "densenet121": "light_densenet121.onnx",
    "inception-v1": "light_inception_v1.onnx",
    "inception-v2": "light_inception_v2.onnx",
    "vgg19": "light_vgg19.onnx",
    "alexnet": "light_bvlc_alexnet.onnx",
    "zfnet512": "light_zfnet512.onnx",
}

# Client models the `client` suite names; not bundled: the user registers their files.
KNOWN_CLIENT_MODELS = {
    "phi-3.5-mini-instruct": (Task.TEXT2TEXT, "Phi-3.5-mini-instruct (3.8B), int4 builds"),
    "llama-3.1-8b-instruct": (Task.TEXT2TEXT, "Llama-3.1-8B-Instruct, int4 builds"),
    "stable-diffusion-1.5": (Task.TEXT2IMAGE, "Stable Diffusion 1.5, ONNX components / OpenVINO GenAI folder"),
}


def _hash_entries(entries: list[dict[str, Any]]) -> str:
    text = "\n".join(f"{e['path']} {e['sha256']}" for e in sorted(entries, key=lambda e: e["path"]))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def bundled_models(models_dir: Path = MODELS_DIR) -> list[CatalogModel]:
    """The tiny models built by build_models.py, from their manifest."""
    manifest_file = models_dir / "manifest.json"
    if not manifest_file.is_file():
        return []
    manifest = json.loads(manifest_file.read_text())
    models = []
    for model_id, entry in manifest.get("models", {}).items():
        formats = {}
        for key, fmt in entry.get("formats", {}).items():
            if not fmt.get("folder"):
                continue
            files = tuple(fmt.get("files", []))
            formats[key] = ModelFormat(key, models_dir / fmt["folder"], int(fmt.get("total_bytes", 0)),
                                       _hash_entries(list(files)), files)
        models.append(CatalogModel(model_id, entry["task"], "bundled", _describe(entry), formats,
                                   entry.get("checkpoint_sha256", ""), weights=RANDOM_WEIGHTS))
    return models


def _describe(entry: dict[str, Any]) -> str:
    recipe = entry.get("recipe", {})
    model = recipe.get("model", {})
    arch = model.get("architectures", [model.get("architecture", "")]) if isinstance(model, dict) else []
    arch_text = arch[0] if isinstance(arch, list) and arch else str(arch or "")
    return f"bundled tiny random-weight model {arch_text}".strip()


def onnx_package_models() -> list[CatalogModel]:
    """The ``light_*`` ImageNet models the installed onnx package ships."""
    spec = importlib.util.find_spec("onnx")
    if spec is None or not spec.submodule_search_locations:
        return []
    light = Path(next(iter(spec.submodule_search_locations))) / "backend" / "test" / "data" / "light"
    models = []
    for model_id, filename in ONNX_LIGHT_MODELS.items():
        path = light / filename
        if path.is_file():
            fmt = ModelFormat("onnx", path, path.stat().st_size, file_sha256(path)[:16])
            models.append(CatalogModel(model_id, Task.CLASSIFICATION, "onnx-package",
                                       f"{model_id} architecture shipped by the onnx wheel (in-graph weights)",
                                       {"onnx": fmt}, weights=RANDOM_WEIGHTS))
    return models


def _stat_hash(path: Path) -> tuple[int, str]:
    """Size and a cheap identity hash (names, sizes, mtimes) of a user model; content is not read.

    A model deleted or changed while it is scanned is ``(0, "missing")``, never an exception.
    """
    try:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        stats = [(p.relative_to(path) if p != path else p.name, p.stat()) for p in files]
    except OSError:
        return 0, "missing"
    text = "\n".join(f"{name} {st.st_size} {st.st_mtime_ns}" for name, st in stats)
    return sum(st.st_size for _, st in stats), hashlib.sha256(text.encode()).hexdigest()[:16]


def model_from_path(path: Path) -> CatalogModel:
    """A model given by path (``--model PATH``): every format the path is a valid model of.

    Its id is the absolute path. A path that is no valid model of any format is a ModelError
    naming what each format lacks.
    """
    resolved = path.expanduser().absolute()
    formats: dict[str, ModelFormat] = {}
    tasks: set[str] = set()
    reasons = []
    for format_key, task in FORMAT_TASKS:
        try:
            validate(format_key, task, resolved)
        except ModelError as exc:
            reasons.append(f"{format_key} ({task}): {exc}")
            continue
        size, digest = _stat_hash(resolved)
        formats[format_key] = ModelFormat(format_key, resolved, size, digest)
        tasks.add(task)
    if not formats:
        raise ModelError(f"{resolved} is not a model of any format the harness knows; "
                         + "; ".join(reasons[:4]))
    if len(tasks) > 1:
        raise ModelError(f"{resolved} holds models of several tasks ({', '.join(sorted(tasks))}); "
                         "register it with `genai-harness models add ID --task TASK --path PATH`")
    return CatalogModel(str(resolved), tasks.pop(), "path", f"model at {resolved}", formats)


def check_custom_ops(model: CatalogModel, consent: dict[str, str], model_id: str | None = None) -> None:
    """Refuse a model whose folder makes the runtime load a shared library whose content the user did not consent
    to (``consent``: name -> sha256, see :mod:`genai_harness.workloads.custom_ops`)."""
    for fmt in model.formats.values():
        if fmt.path.is_dir():
            check_consent(model_id or model.id, model.task, fmt.path, consent)


RESERVED_SOURCES = ("bundled", "onnx-package")
"""Models whose ids a user model may not take."""


def model_id_problem(model_id: str) -> str:
    """Why ``model_id`` is not a valid name for a user model, or ``""``: one rule for ``models add`` and for a
    ``[models."..."]`` key written by hand (a name reaches tables, reports and file names)."""
    if not model_id or not model_id.strip() or model_id != model_id.strip():
        return "must be a non-empty name without leading or trailing spaces"
    if any(c in model_id for c in "\"'<>`") or any(ord(c) < 32 or ord(c) == 127 for c in model_id):
        return "must be a name without quotes, angle brackets, backticks, newlines or other control characters"
    return ""


def user_models(config: HarnessConfig) -> list[CatalogModel]:
    """Models registered in the configuration file; a key that breaks the name rule of ``models add``
    (:func:`model_id_problem`) is a :class:`ConfigurationError` naming it."""
    models = []
    for model_id, table in config.section("models").items():
        problem = model_id_problem(model_id)
        if problem:
            raise ConfigurationError(f"{config.path}: the model id {model_id!r} in [models] {problem}; "
                                     "rename or remove it in that file")
        if (not isinstance(table, dict) or table.get("task") not in TASKS
                or not isinstance(table.get("formats"), dict)):
            raise ConfigurationError(f"{config.path}: [models.{model_id}] needs task = one of {', '.join(TASKS)} "
                                     "and a [models.ID.formats] table; fix it or `genai-harness models remove` it")
        formats = {}
        for key, raw in table["formats"].items():
            if not isinstance(raw, str) or not raw:
                raise ConfigurationError(f"{config.path}: [models.{model_id}.formats] {key} must be a path string")
            path = config.resolve(raw)
            size, digest = _stat_hash(path) if path.exists() else (0, "missing")
            formats[key] = ModelFormat(key, path, size, digest)
        models.append(CatalogModel(model_id, table["task"], "user", str(table.get("description", "")), formats,
                                   family=_text_or_none(table.get("family")),
                                   weights=_text_or_none(table.get("weights"))))
    return models


def _text_or_none(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None


class Catalog:
    """Every known model by id."""

    def __init__(self, config: HarnessConfig, models_dir: Path = MODELS_DIR) -> None:
        self.config = config
        known = [CatalogModel(mid, task, "known", desc) for mid, (task, desc) in KNOWN_CLIENT_MODELS.items()]
        self.models: dict[str, CatalogModel] = {}
        for model in [*known, *bundled_models(models_dir), *onnx_package_models(), *user_models(config)]:
            previous = self.models.get(model.id)
            if previous is not None and model.source == "user" and previous.source in RESERVED_SOURCES:
                raise ConfigurationError(f"{config.path}: [models.{model.id}] reuses the id of a {previous.source} "
                                         "model, which is reserved; rename it in that file")
            if previous is not None and previous.source == "known":
                model = CatalogModel(model.id, model.task, model.source, model.description or previous.description,
                                     model.formats, model.checkpoint_sha256, model.family, model.weights)
            self.models[model.id] = model

    def get(self, model_id: str) -> CatalogModel:
        """A model by id, or by path (a file or folder that exists, validated), or :class:`ModelError`.

        One rule for every command: a catalog id first, else an existing path. A model whose folder
        names a custom-ops library is refused unless the user consented at ``models add``.
        """
        if model_id not in self.models:
            if model_id and Path(model_id).expanduser().exists():
                model = model_from_path(Path(model_id))
                check_custom_ops(model, {}, "ID")  # a folder given by path is never consented to
                self.models[model_id] = model
                return model
            raise ModelError(f"unknown model {model_id!r}; known models: {', '.join(sorted(self.models))} "
                             "(`genai-harness models` lists them; `models add` registers yours, or give the path "
                             f"of a model folder; read: {self.config.description})")
        model = self.models[model_id]
        if model.source == "user":
            check_custom_ops(model, consented(self.config, model_id))
        return model

    def register_built(self, model_id: str, task: str, format_key: str, path: Path, description: str, *,
                       family: str, weights: str) -> CatalogModel:
        """Register (or re-point) a format that ``models build`` made; a registration of the same path is kept."""
        existing = self.models.get(model_id)
        if existing is not None and existing.source == "user" and format_key in existing.formats:
            if existing.formats[format_key].path == path.expanduser().absolute() and existing.family == family:
                return existing
            self.remove(model_id)
        return self.add(model_id, task, format_key, path, description, family=family, weights=weights)

    def add(self, model_id: str, task: str, format_key: str, path: Path, description: str = "", *,
            allow_custom_ops: bool = False, family: str | None = None, weights: str | None = None) -> CatalogModel:
        """Validate and register a user model format; the config file changes only on success.

        A folder that makes the runtime load a shared library (``custom_ops_library``) is refused unless
        ``allow_custom_ops``; the consent is recorded for exactly the libraries it names and their content
        (sha256). Adding the same folder again with ``allow_custom_ops`` renews the consent to its libraries as
        they are now."""
        if model_id_problem(model_id):
            raise ConfigurationError(f"model id {model_id!r} {model_id_problem(model_id)}")
        existing = self.models.get(model_id)
        resolved = path.expanduser().absolute()
        if existing is not None and existing.source in ("bundled", "onnx-package"):
            raise ConfigurationError(f"model id {model_id!r} is a {existing.source} model; choose another id")
        renewal = (allow_custom_ops and existing is not None and existing.source == "user"  # renew a consent
                   and existing.task == task and format_key in existing.formats
                   and existing.formats[format_key].path.resolve() == resolved.resolve())
        if existing is not None and existing.source == "user" and not renewal:
            if format_key in existing.formats:
                raise ConfigurationError(f"model {model_id!r} already has a {format_key} format registered "
                                         f"({existing.formats[format_key].path}); remove it first")
            if existing.task != task:
                raise ConfigurationError(f"model {model_id!r} is registered as {existing.task}, not {task}")
        if existing is not None and existing.source == "known" and existing.task != task:
            raise ConfigurationError(f"model {model_id!r} is a {existing.task} model, not {task}")
        validate(format_key, task, resolved)
        libraries = custom_op_libraries(resolved)
        if libraries and not allow_custom_ops:
            raise ModelError(f"{resolved}/genai_config.json makes onnxruntime-genai load the shared library "
                             f"{', '.join(lib.name for lib in libraries)}: native code that runs with your rights "
                             "whenever this model is used. Nothing was registered; if you trust it, add it again "
                             "with --allow-custom-ops")
        for library in libraries:
            if library.file is None:
                raise missing_file(resolved, library)

        def change(document: Any) -> None:
            # lazy: tomlkit only when the config file is written (see genai_harness.config)
            import tomlkit

            tables = document.setdefault("models", tomlkit.table(is_super_table=True))
            if not isinstance(tables, dict):
                raise ConfigurationError(f"{self.config.path}: models must be a table; fix that line")
            if model_id not in tables:
                tables[model_id] = {"task": task, "formats": {}}
            table = tables[model_id]
            if not isinstance(table, dict) or not isinstance(table.get("formats", {}), dict):
                raise ConfigurationError(f"{self.config.path}: [models.{model_id}] is malformed; fix or remove it")
            if format_key in table.get("formats", {}) and not renewal:
                raise ConfigurationError(f"model {model_id!r} already has a {format_key} format registered "
                                         f"in {self.config.path}; remove it first")
            if description:
                table["description"] = description
            if family:
                table["family"] = family
            if weights:
                table["weights"] = weights
            table.setdefault("formats", {})[format_key] = str(resolved)
            if libraries:  # bound to each file's content now; a consent by name only is replaced
                recorded = table.get(CONSENT_KEY)
                consent = {str(k): str(v) for k, v in recorded.items()} if isinstance(recorded, dict) else {}
                table[CONSENT_KEY] = dict(sorted({**consent, **{lib.name: lib.sha256 for lib in libraries}}.items()))

        self.config.update(change)
        size, digest = _stat_hash(resolved)
        model = self.models.get(model_id)
        formats = dict(model.formats) if model and model.source == "user" else {}
        formats[format_key] = ModelFormat(format_key, resolved, size, digest)
        family = family or (model.family if model and model.source == "user" else None)
        weights = weights or (model.weights if model and model.source == "user" else None)
        self.models[model_id] = CatalogModel(model_id, task, "user", description, formats, family=family,
                                             weights=weights)
        return self.models[model_id]

    def remove(self, model_id: str) -> None:
        """Unregister a user model."""
        def change(document: Any) -> None:
            tables = document.get("models", {})
            if not isinstance(tables, dict) or model_id not in tables:
                raise ConfigurationError(f"no user model {model_id!r} in {self.config.path}")
            del tables[model_id]

        self.config.update(change)
        self.models.pop(model_id, None)


def verify_user_model(model: CatalogModel) -> list[str]:
    """Problems with a registered model's formats now (missing files, truncated weights, broken configs)."""
    problems = []
    for fmt in model.formats.values():
        try:
            validate(fmt.key, model.task, fmt.path)
        except ModelError as exc:
            problems.append(f"{model.id}/{fmt.key}: {exc}")
    return problems


def verify_bundled(models_dir: Path = MODELS_DIR) -> list[str]:
    """Problems with the bundled files against the manifest (size and sha256); empty when all match."""
    problems = []
    for model in bundled_models(models_dir):
        for fmt in model.formats.values():
            for entry in fmt.files:
                path = fmt.path / entry["path"]
                if not path.is_file():
                    problems.append(f"{model.id}/{fmt.key}: {entry['path']} is missing")
                elif path.stat().st_size != entry["size"]:
                    problems.append(f"{model.id}/{fmt.key}: {entry['path']} has {path.stat().st_size} bytes, "
                                    f"manifest says {entry['size']}")
                elif file_sha256(path) != entry["sha256"]:
                    problems.append(f"{model.id}/{fmt.key}: {entry['path']} sha256 differs from the manifest")
    return problems
