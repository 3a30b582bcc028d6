"""The project configuration file, ``genai-harness.toml`` in the working directory.

It names further Python environments and user-registered models::

    [environments.ort-openvino]
    python = ".venvs/ort-openvino/bin/python"   # relative to this file

    [models.my-llm]
    task = "text2text"
    [models.my-llm.formats]
    onnxruntime_genai = "/models/my-llm/ort"

Writes hold an exclusive lock on ``genai-harness.toml.lock`` while they re-read the file, change it and
replace it atomically (a private temporary file + rename), so concurrent writers never lose each other's
changes and a failed write leaves the file as it was. Comments and layout the user wrote are kept
(tomlkit), and a symlinked config stays a symlink: its target is what gets replaced.

Interpreters named in a config file are programs the harness runs; see :mod:`genai_harness.trust`
for which files are allowed to name them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from genai_harness.atomic import write_text
from genai_harness.errors import ConfigurationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_FILENAME = "genai-harness.toml"
CONFIG_ENV_VAR = "GENAI_HARNESS_CONFIG"
MAX_CONFIG_BYTES = 4 * 1024 * 1024
"""A configuration file larger than this is refused (it names a few environments and models)."""

T = TypeVar("T")


def default_config_path() -> Path:
    """``$GENAI_HARNESS_CONFIG`` if set, else ``genai-harness.toml`` in the working directory."""
    return Path(os.environ.get(CONFIG_ENV_VAR) or CONFIG_FILENAME)


def describe_config(path: Path, exists: bool) -> str:
    """Which configuration file was read, for messages that depend on it."""
    where = path.absolute()
    return f"config file {where}" if exists else f"no config file ({where} does not exist)"


@dataclass
class HarnessConfig:
    """The parsed configuration file (empty when the file does not exist).

    ``explicit`` is true when the user named the file (``--config`` or ``$GENAI_HARNESS_CONFIG``)
    rather than the harness finding it in the working directory.
    """

    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    explicit: bool = False

    @property
    def base_dir(self) -> Path:
        """Relative paths in the file are resolved against its folder."""
        return self.path.resolve().parent

    @property
    def description(self) -> str:
        """``config file /abs/path`` or ``no config file (/abs/path does not exist)``."""
        return describe_config(self.path, self.path.exists())

    def section(self, name: str) -> dict[str, Any]:
        """A top-level table, validated to be a table."""
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigurationError(f"{self.path}: [{name}] must be a table, got {type(value).__name__} "
                                     f"({name} = {value!r}); fix or remove that line")
        return value

    def resolve(self, value: str) -> Path:
        """A path from the file, made absolute against the file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def update(self, change: Callable[[Any], T]) -> T:
        """Apply ``change`` to the file's current document under the lock and write it; return its result.

        ``change`` gets a tomlkit document (a dict that keeps comments) re-read under the lock, so a
        change another process wrote meanwhile is kept. It may raise to abort: the file is unchanged.
        """
        # lazy: tomlkit only when the file is written; worker environments (numpy, psutil, tomli-w) lack it
        import tomlkit

        target = self.path.resolve()  # a symlinked config: replace its target, keep the link
        with _locked(target):
            text = _read_text(target) if target.exists() else ""
            try:
                document = tomlkit.parse(text)
            except RecursionError:
                raise ConfigurationError(f"config file {self.path} is nested too deeply to be a "
                                         "genai-harness config; fix or remove it") from None
            except Exception as exc:  # tomlkit's ParseError and friends
                raise ConfigurationError(f"config file {self.path} is not valid TOML ({exc}); fix or remove it") \
                    from exc
            result = change(document)
            _atomic_write(target, tomlkit.dumps(document))
            self.data = _parse(tomlkit.dumps(document), self.path)
        return result


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``<target>.lock`` (created beside the file)."""
    # lazy: fcntl exists on POSIX only, and only a write needs the lock (reading a config works everywhere)
    import fcntl

    lock_path = target.with_name(target.name + ".lock")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+b")  # noqa: SIM115 - held across the block
    except OSError as exc:
        raise ConfigurationError(f"cannot write config file {target}: cannot create its lock {lock_path} "
                                 f"({exc.strerror or exc}); make the folder writable or use --config PATH") from exc
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # closing releases the lock


def _atomic_write(target: Path, text: str) -> None:
    """Replace ``target`` with ``text`` through a temporary file in its folder (:mod:`genai_harness.atomic`)."""
    try:
        write_text(target, text)
    except OSError as exc:
        raise ConfigurationError(f"cannot write config file {target}: {exc.strerror or exc}; "
                                 "nothing was changed") from exc


def _read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigurationError(f"config file {path} is larger than {MAX_CONFIG_BYTES // 2**20} MiB; "
                                     "it is not a genai-harness config: fix it or give another with --config")
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"cannot read config file {path}: not UTF-8 text (byte {exc.start}); "
                                 "save it as UTF-8 or remove it") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read config file {path}: {exc.strerror or exc}") from exc


def _parse(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {path} is not valid TOML ({exc}); fix or remove it") from exc
    except ValueError:  # Python refuses to read an integer of more than 4300 digits
        raise ConfigurationError(f"config file {path} holds a number too long to read; no config field needs one: "
                                 "fix or remove it") from None
    except RecursionError:
        raise ConfigurationError(f"config file {path} is nested too deeply to be a genai-harness config; "
                                 "fix or remove it") from None


def load_config(path: Path | None = None) -> HarnessConfig:
    """Read the configuration file; a missing file is an empty configuration, a broken one an error.

    Only the implicit ``./genai-harness.toml`` may be missing: a file named by ``--config`` or
    ``$GENAI_HARNESS_CONFIG`` must exist.
    """
    from_env = os.environ.get(CONFIG_ENV_VAR)
    explicit = path is not None or bool(from_env)
    path = path or default_config_path()
    if not path.exists():
        if path.is_symlink():
            raise ConfigurationError(f"config file {path} is a symlink to a missing file; fix or remove the link")
        if explicit:
            origin = f"${CONFIG_ENV_VAR}" if from_env and Path(from_env) == path else "--config"
            raise ConfigurationError(f"config file {path} (from {origin}) does not exist; create it or "
                                     f"{'unset ' + CONFIG_ENV_VAR if origin.startswith('$') else 'drop --config'}")
        return HarnessConfig(path, explicit=False)
    if path.is_dir():
        raise ConfigurationError(f"cannot read config file {path}: it is a folder; give the path of a .toml file")
    return HarnessConfig(path, _parse(_read_text(path), path), explicit=explicit)
