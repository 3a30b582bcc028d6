"""What the tests share: the checkout, a CLI runner, the suite's own config, the fake backend across processes.

Submodules: :mod:`support.frames` (results frames built to the schema), :mod:`support.dispatch_stores`
(SYNTHETIC stores for the dispatcher), :mod:`support.postgres` (a throwaway PostgreSQL server) and
:mod:`support.workload_files` (small workload and suite files). The fixtures live in ``tests/conftest.py``.

Runtimes are never mocked here: device listings come from the installed onnxruntime,
onnxruntime-genai and OpenVINO (and from .venvs/ort-openvino, which `make setup` creates).
Fakes stand in only for harness logic.

The suite never reads nor writes the user's ./genai-harness.toml (models a user registered there would
change listings): GENAI_HARNESS_CONFIG points, for the whole session, at a temporary file of its own
that registers only the ort-openvino environment. Commands run from the checkout get it too; commands
run in a test's own folder read that folder's file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from genai_harness.runner.job import CI_JOB_VARIABLES, JOB_ENV

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
OVEP_ENV = "ort-openvino"
OVEP_PYTHON = REPO / ".venvs" / OVEP_ENV / "bin" / "python"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
CONFIG_VAR = "GENAI_HARNESS_CONFIG"


SESSION_CONFIG = Path()
"""The suite's own genai-harness.toml (set by :func:`start_session`, which conftest.py calls first)."""
TRUST_FILE = Path()
"""Approvals of config files (genai_harness.trust) go to a file of the session, never the user's ~/.config."""


def start_session() -> Path:
    """Write the suite's own genai-harness.toml (the ort-openvino environment, absolute path, and nothing else) and
    point this process, and every subprocess that inherits its environment, at it; the same for the trust file and
    the decision cache. Returns the config's path."""
    global SESSION_CONFIG, TRUST_FILE
    folder = Path(tempfile.mkdtemp(prefix="genai-harness-tests-"))
    SESSION_CONFIG = folder / "genai-harness.toml"
    SESSION_CONFIG.write_text(f'[environments.{OVEP_ENV}]\npython = "{OVEP_PYTHON}"\n' if OVEP_PYTHON.exists() else "")
    os.environ[CONFIG_VAR] = str(SESSION_CONFIG)
    os.environ["XDG_CACHE_HOME"] = str(folder / "cache")  # remembered dispatch decisions stay here
    # compiled-model caches stay in that cache too; the cold-start loads (three fresh processes per compiling
    # target and model of a run) only where a test asks for them (tests/runner/test_cold_start_run.py)
    os.environ["GENAI_HARNESS_COLD_START"] = "off"
    # The session config is named by $GENAI_HARNESS_CONFIG, so its interpreters run without an approval.
    TRUST_FILE = folder / "trusted.json"
    os.environ["GENAI_HARNESS_TRUST_FILE"] = str(TRUST_FILE)
    # a CI runner's own job id would make every run of the suite one job (runner.job): tests name jobs themselves
    for name in (JOB_ENV, *(variable for _, names in CI_JOB_VARIABLES for variable in names)):
        os.environ.pop(name, None)
    # Ctrl-C reaches the commands the tests start as it would from a terminal: a suite launched in the background
    # (`cmd &` without job control, nohup) inherits SIGINT ignored, every child it starts inherits that, and the
    # harness rightly leaves an ignored SIGINT ignored (runner.signals), so the tests that send SIGINT waited out
    # their timeouts. A Python handler here is reset to the default in each child at exec.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return SESSION_CONFIG


RUNTIME_MODULES = ("onnxruntime", "onnxruntime_genai", "openvino", "openvino_genai", "openvino_tokenizers")
DEVICE_KEYS = {
    "framework", "identifier", "label", "execution_provider", "type", "vendor", "name", "available", "reason",
    "environment", "config",
}


def cli_command() -> list[str]:
    """The installed console script next to this interpreter, else the module."""
    script = Path(sys.executable).parent / "genai-harness"
    return [str(script)] if script.exists() else [sys.executable, "-m", "genai_harness.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without a config override (a command reads its folder's file), plus ``extra``."""
    env = dict(os.environ)
    env.pop(CONFIG_VAR, None)
    env.pop("GENAI_HARNESS_STORE", None)  # a user's default store never leaks into a test
    env.update(extra)
    return env


def isolated_env(cwd: Path | str, env: dict[str, str] | None) -> dict[str, str]:
    """``env`` (default :func:`clean_env`), given the suite's config when the command runs in the checkout."""
    env = dict(env or clean_env())
    if CONFIG_VAR not in env and Path(cwd).resolve() == REPO:
        env[CONFIG_VAR] = str(SESSION_CONFIG)
    return env


def run_cli(*args: str | os.PathLike[str], cwd: Path | str = REPO, env: dict[str, str] | None = None,
            timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run ``genai-harness ARGS`` as a real subprocess and capture its output."""
    return subprocess.run([*cli_command(), *map(str, args)], cwd=cwd, env=isolated_env(cwd, env),
                          capture_output=True, text=True, timeout=timeout, check=False)


def run_python(code: str, *, python: str | Path = sys.executable, cwd: Path | str = REPO,
               env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -c CODE`` in a fresh interpreter."""
    return subprocess.run([str(python), "-c", code], cwd=cwd, env=isolated_env(cwd, env),
                          capture_output=True, text=True, timeout=timeout, check=False)


def assert_one_error_line(proc: subprocess.CompletedProcess[str], exit_code: int | None = None) -> str:
    """A failed CLI run: non-zero exit, exactly one ``genai-harness: error:`` line, no traceback."""
    detail = f"rc={proc.returncode}\nstdout={proc.stdout!r}\nstderr={proc.stderr!r}"
    assert proc.returncode != 0, detail
    if exit_code is not None:
        assert proc.returncode == exit_code, detail
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, detail
    assert lines[0].startswith("genai-harness: error: "), detail
    assert "Traceback" not in proc.stderr + proc.stdout, detail
    assert proc.stdout == "", detail
    return lines[0]


def missing(reason: str) -> None:
    """Skip locally, fail under CI (which must have built everything the suite needs)."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must create it: run `make setup`)")
    pytest.skip(f"{reason}; run `make setup` to create it")


def require_ovep_python() -> Path:
    if not OVEP_PYTHON.exists():
        missing(f"{OVEP_PYTHON.relative_to(REPO)} (onnxruntime-openvino venv) does not exist")
    return OVEP_PYTHON


def environment(listing: dict[str, Any], name: str) -> dict[str, Any]:
    """One environment of a `devices --json` listing."""
    by_name = {e["environment"]: e for e in listing["environments"]}
    assert name in by_name, f"environment {name!r} not in {sorted(by_name)}"
    return by_name[name]


def backend(env: dict[str, Any], framework: str) -> dict[str, Any]:
    by_name = {b["framework"]: b for b in env["backends"]}
    assert framework in by_name, f"backend {framework!r} not in {sorted(by_name)}"
    return by_name[framework]


def devices_of(env: dict[str, Any], framework: str) -> list[dict[str, Any]]:
    return [d for d in env["devices"] if d["framework"] == framework]


# ---- the fake backend across processes (benchmark-run tests) ---------------------------------------------------
# The fake backend (genai_harness.backends.fake) is no entry point: a process registers it, and the runner forwards
# the registration to its workers. Each fake model is a folder whose name picks the behaviour (ok, abort, hang ...).

FAKE_TARGET = "genai_harness.backends.fake:FakeBackend"
FAKE_BEHAVIOURS = ("ok", "abort", "hang", "raise", "mismatch", "long", "int4")
FAKE_PRELUDE = (
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)  # even if our parent ignores SIGINT\n"
    "signal.signal(signal.SIGHUP, signal.SIG_DFL)  # a run under nohup keeps SIGHUP ignored on purpose; tests run\n"
    "# under nohup too, and test the terminal's case\n"
    "from genai_harness.backends.registry import BackendSpec, register_spec\n"
    f"register_spec(BackendSpec('fake', {FAKE_TARGET!r}))\n"
)


def fake_cli_code(*args: str | os.PathLike[str]) -> str:
    """``python -c`` code that registers the fake backend and runs ``genai-harness ARGS``."""
    return FAKE_PRELUDE + f"from genai_harness.cli import main\nsys.exit(main({[str(a) for a in args]!r}))\n"


def run_fake_cli(*args: str | os.PathLike[str], cwd: Path, timeout: float = 120,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``genai-harness ARGS`` in a fresh interpreter that knows the fake backend (``env``: its environment)."""
    return run_python(fake_cli_code(*args), cwd=cwd, timeout=timeout, env=env)


class FakeWorkspace:
    """A working folder with a genai-harness.toml registering fake models, plus workload and suite files.

    Text models are ``fake-<behaviour>``; ``fake-image`` and ``fake-classify`` are the other tasks' ok models.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "genai-harness.toml"
        models = {f"fake-{b}": ("text2text", f"m/text/{b}") for b in FAKE_BEHAVIOURS}
        models["fake-image"] = ("text2image", "m/image/ok")
        models["fake-classify"] = ("classification", "m/classify/ok")
        lines = []
        for model_id, (task, folder) in models.items():
            (root / folder).mkdir(parents=True, exist_ok=True)
            lines += [f"[models.{model_id}]", f'task = "{task}"', f"[models.{model_id}.formats]",
                      f'fake = "{folder}"', ""]
        self.config.write_text("\n".join(lines))

    def workload(self, name: str, *, task: str = "text2text", repetitions: int = 2, warmup: int = 0,
                 timeout_s: float = 3, **inputs: Any) -> Path:
        """Write ``NAME.toml`` (text: 16 prompt tokens, 4 new tokens unless given) and return its path."""
        defaults: dict[str, dict[str, Any]] = {
            "text2text": {"prompt_tokens": 16, "new_tokens": 4},
            "text2image": {"width": 16, "height": 16, "steps": 3},
            "classification": {"batch_size": 2},
        }
        values = {**defaults[task], **inputs}
        body = [f'id = "{name}"', "version = 1", f'task = "{task}"', "[input]"]
        body += [f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"' for k, v in values.items()]
        body += ["[run]", f"warmup = {warmup}", f"repetitions = {repetitions}", f"timeout_s = {timeout_s}"]
        path = self.root / f"{name}.toml"
        path.write_text("\n".join(body) + "\n")
        return path

    def suite(self, name: str, entries: list[tuple[str, list[str]]]) -> Path:
        """Write a suite file of (workload file name without .toml, model ids) entries."""
        body = [f'id = "{name}"']
        for workload, models in entries:
            body += ["", "[[entries]]", f'workload = "{workload}.toml"', f"models = {models!r}"]
        path = self.root / f"{name}.suite.toml"
        path.write_text("\n".join(body).replace("'", '"') + "\n")
        return path


@contextlib.contextmanager
def fake_registered() -> Iterator[str]:
    """Register the fake backend in this process for a while (and forget it after); yields its framework."""
    from genai_harness.backends import registry

    added = "fake" not in registry._extra_specs
    registry.register_spec(registry.BackendSpec("fake", FAKE_TARGET))
    try:
        yield "fake"
    finally:
        if added:
            registry._extra_specs.pop("fake", None)
        for key in [k for k in registry._loaded if k[0] == "fake"]:
            registry._loaded.pop(key, None)
