"""smollm2-135m built once and measured once per test session, for every room that needs the real variants.

``models build smollm2-135m`` runs for real (cached under the user's cache folder, so a second session reuses the
build); then one ``run --reference`` measures smollm2-135m and smollm2-135m-int4 on both runtimes against the float32
checkpoint. tests/runner/test_model_build_real.py checks the build and those rows; tests/dispatch checks the variant
ranking on the same rows. The fixtures (``smollm2_env``, ``smollm2_reference_store``) live in tests/conftest.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import tomli_w
import tomllib

import support

FAMILY = "smollm2-135m"
MEASURED = ("smollm2-135m", "smollm2-135m-int4")
"""The variants the session's reference run measures (int8 is an OpenVINO-only build, left out to keep it short)."""
QUESTIONS = 16
"""Questions replayed per cell: the first of the 73 the checkpoint answered (all 73 on 4 cells took 4 minutes)."""
WORKLOAD = ('id = "text-p32-g8"\nversion = 1\ntask = "text2text"\n[input]\nprompt_tokens = 32\nnew_tokens = 8\n'
            '[run]\nwarmup = 1\nrepetitions = 3\ntimeout_s = 600\n')
"""A short workload: the rows' ``ref_*`` columns and the variants' ranking are under test, not the timings."""


def stable_cache() -> Path:
    """The user's cache folder (the session points XDG_CACHE_HOME at a temporary one): builds survive sessions."""
    return Path(os.environ.get("GENAI_HARNESS_CACHE") or Path.home() / ".cache" / "genai-harness")


def build(folder: Path) -> dict[str, str]:
    """An environment whose config (in ``folder``) has smollm2-135m's variants registered (built once, reused)."""
    config = folder / "genai-harness.toml"
    config.write_text(support.SESSION_CONFIG.read_text())
    env = support.clean_env(GENAI_HARNESS_CONFIG=str(config), GENAI_HARNESS_CACHE=str(stable_cache()))
    proc = support.run_cli("models", "build", FAMILY, env=env, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "registered smollm2-135m, smollm2-135m-int4, smollm2-135m-int8" in proc.stdout
    return env


def with_fewer_questions(env: dict[str, str], folder: Path, models: tuple[str, ...], keep: int) -> dict[str, str]:
    """``env`` with ``models`` registered under their own ids in folders that link the build's files one by one,
    each checkpoint reference cut to its first ``keep`` questions (the build itself is left as it is)."""
    config_path = Path(env["GENAI_HARNESS_CONFIG"])
    config = tomllib.loads(config_path.read_text(encoding="utf-8"))
    for model_id in models:
        formats = config["models"][model_id]["formats"]
        for fmt, source in formats.items():
            target = folder / model_id / fmt
            target.mkdir(parents=True)
            for item in Path(source).iterdir():
                (target / item.name).symlink_to(item)
            reference_file = target / "checkpoint_reference.json"
            reference = json.loads(reference_file.read_text(encoding="utf-8"))
            assert len(reference["questions"]["kept"]) > keep, "the build's question set shrank: adjust QUESTIONS"
            reference["questions"]["kept"] = reference["questions"]["kept"][:keep]
            reference_file.unlink()
            reference_file.write_text(json.dumps(reference), encoding="utf-8")
            formats[fmt] = str(target)
    trimmed = folder / "genai-harness.toml"
    trimmed.write_text(tomli_w.dumps(config), encoding="utf-8")
    return dict(env, GENAI_HARNESS_CONFIG=str(trimmed))


def measure(env: dict[str, str], store: Path) -> Path:
    """One real ``run --reference`` of the measured variants on every runtime that loads them, into ``store``: the
    short :data:`WORKLOAD`, each reference cut to :data:`QUESTIONS` questions."""
    trimmed = with_fewer_questions(env, store.parent, MEASURED, QUESTIONS)
    workload = store.parent / "text-p32-g8.toml"
    workload.write_text(WORKLOAD)
    args: list[str | os.PathLike[str]] = ["run", "--suite", workload, "--store", store, "--reference", "--quiet"]
    for model in MEASURED:
        args += ["--model", model]
    proc = support.run_cli(*args, env=trimmed, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    return store
