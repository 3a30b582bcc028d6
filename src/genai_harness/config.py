"""The project configuration file, ``genai-harness.toml`` in the working directory.

It names further Python environments and user-registered models::

    [environments.ort-openvino]
    python = ".venvs/ort-openvino/bin/python"   # relative to this file

    [models.my-llm]
    task = "text2text"
    [models.my-llm.formats]
    onnxruntime_genai = "/models/my-llm/ort"

Writes are atomic (temporary file + rename), so a failed write leaves the file as it was.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from genai_harness.errors import ConfigurationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_FILENAME = "genai-harness.toml"
CONFIG_ENV_VAR = "GENAI_HARNESS_CONFIG"


def default_config_path() -> Path:
    """``$GENAI_HARNESS_CONFIG`` if set, else ``genai-harness.toml`` in the working directory."""
    return Path(os.environ.get(CONFIG_ENV_VAR) or CONFIG_FILENAME)


@dataclass
class HarnessConfig:
    """The parsed configuration file (empty when the file does not exist)."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        """Relative paths in the file are resolved against its folder."""
        return self.path.resolve().parent

    def section(self, name: str) -> dict[str, Any]:
        """A top-level table, validated to be a table."""
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigurationError(f"{self.path}: [{name}] must be a table, got {type(value).__name__}")
        return value

    def resolve(self, value: str) -> Path:
        """A path from the file, made absolute against the file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def save(self) -> None:
        """Write atomically."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text(tomli_w.dumps(self.data))
            tmp.replace(self.path)
        except OSError as exc:
            raise ConfigurationError(f"cannot write {self.path}: {exc}") from exc


def load_config(path: Path | None = None) -> HarnessConfig:
    """Read the configuration file; a missing file is an empty configuration, a broken one an error."""
    path = path or default_config_path()
    if not path.exists():
        if path != Path(CONFIG_FILENAME) and os.environ.get(CONFIG_ENV_VAR) != str(path):
            raise ConfigurationError(f"config file {path} does not exist; create it or drop --config")
        return HarnessConfig(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read config file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {path} is not valid TOML ({exc}); fix or remove it") from exc
    return HarnessConfig(path, data)
