"""Python environments: further interpreters whose runtimes cannot share this one.

Runtimes that occupy one module name (onnxruntime, onnxruntime-openvino, onnxruntime-qnn ...)
live in separate virtual environments. The harness runs its worker under each interpreter, so a
single machine can compare, say, the CPU EP against the OpenVINO EP.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from genai_harness.config import HarnessConfig
from genai_harness.errors import EnvironmentConfigError
from genai_harness.host.ep_libraries import configure, configured_libraries
from genai_harness.interface.devices import DEFAULT_ENVIRONMENT
from genai_harness.trust import untrusted_reason


class UntrustedConfigWarning(UserWarning):
    """A config file names interpreters the harness will not run (see :mod:`genai_harness.trust`)."""


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Environment:
    """A named Python interpreter the harness can run its worker in."""

    name: str
    python: Path
    source: str = "default"

    @property
    def is_default(self) -> bool:
        """Whether this is the interpreter the harness itself runs in."""
        return self.name == DEFAULT_ENVIRONMENT


def default_environment() -> Environment:
    """The interpreter running the harness."""
    return Environment(DEFAULT_ENVIRONMENT, Path(sys.executable), "default")


def check_interpreter(python: Path, name: str) -> None:
    """Raise :class:`EnvironmentConfigError` unless ``python`` runs as a Python >= 3.10 interpreter."""
    if not python.exists():
        raise EnvironmentConfigError(
            f"environment {name!r}: interpreter {python} does not exist; create the venv or fix the path"
        )
    if python.is_dir():
        raise EnvironmentConfigError(
            f"environment {name!r}: {python} is a folder; give the interpreter, e.g. {python}/bin/python"
        )
    try:
        out = subprocess.run(
            [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=30, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentConfigError(f"environment {name!r}: {python} is not a runnable Python: {exc}") from exc
    version = out.stdout.strip()
    if out.returncode != 0 or not re.fullmatch(r"\d+\.\d+", version):
        raise EnvironmentConfigError(f"environment {name!r}: {python} is not a Python interpreter")
    major, minor = map(int, version.split("."))
    if (major, minor) < (3, 10):
        raise EnvironmentConfigError(f"environment {name!r}: {python} is Python {version}; 3.10+ is needed")


def parse_python_option(value: str) -> tuple[str, Path]:
    """``NAME=PATH`` or a bare ``PATH`` (named after its venv folder) from ``--python``."""
    name, sep, path = value.partition("=")
    if not sep:
        path = value
        parts = Path(value).parts
        name = parts[-3] if len(parts) >= 3 and parts[-2] in ("bin", "Scripts") else Path(value).stem
    if not _NAME.match(name):
        raise EnvironmentConfigError(f"--python {value!r}: environment name {name!r} must be letters, digits, _.-")
    if name == DEFAULT_ENVIRONMENT:
        raise EnvironmentConfigError(
            f"--python {value!r}: environment name {name!r} is reserved for this interpreter; choose another"
        )
    return name, Path(path).expanduser()


def configured_environments(config: HarnessConfig, cli_pythons: list[str] | None = None,
                            *, check: bool = True) -> list[Environment]:
    """The default environment, then those of the config file, then ``--python`` options.

    It also settles the config's ``[ep_libraries]`` for this process's workers
    (:func:`genai_harness.host.ep_libraries.configure`). A config file the user has not approved (see
    :mod:`genai_harness.trust`) contributes no interpreter to run and no library to load: one
    :class:`UntrustedConfigWarning` says so; with ``check=False`` (listings)
    its environments are listed, marked "not run".
    """
    envs = [default_environment()]
    untrusted = untrusted_reason(config)
    if untrusted:
        warnings.warn(untrusted, UntrustedConfigWarning, stacklevel=2)
    # The config's plugin EP libraries, approved with its interpreters, go to every worker of this process.
    configure([] if untrusted else configured_libraries(config))
    for name, table in config.section("environments").items():
        if not isinstance(table, dict) or not isinstance(table.get("python"), str):
            raise EnvironmentConfigError(
                f"{config.path}: [environments.{name}] needs python = \"PATH/TO/bin/python\""
            )
        if untrusted and check:
            continue
        source = f"config {config.path}" + (" (not approved: not run)" if untrusted else "")
        envs.append(Environment(name, config.resolve(table["python"]), source))
    for option in cli_pythons or []:
        name, path = parse_python_option(option)
        envs = [e for e in envs if e.name != name]
        envs.append(Environment(name, path.absolute(), "--python"))
    names = [e.name for e in envs]
    if names.count(DEFAULT_ENVIRONMENT) > 1:
        raise EnvironmentConfigError(f"environment name {DEFAULT_ENVIRONMENT!r} is reserved for this interpreter")
    if check:
        for env in envs[1:]:
            check_interpreter(env.python, env.name)
    return envs
