"""Which configuration files may name interpreters for the harness to run (like git's safe.directory).

A config file's ``[environments]`` table names programs that every command runs (``devices`` runs
each one to list its devices). A ``genai-harness.toml`` lying in a folder the user just cloned or
unpacked must not run its code on its own, so the interpreters of a config file are run only when:

- the file is owned by the user running the harness (or by root) and not writable by everyone, and
- the user named it (``--config PATH`` or ``$GENAI_HARNESS_CONFIG``), or approved it: ``genai-harness
  envs --add`` approves the file it writes, ``genai-harness envs --allow`` approves the file as it is.

An approval holds for the file's path and the exact content of its ``[environments]`` table (editing
that table by hand asks for a new approval; adding models does not). The ``[ep_libraries]`` table names shared
libraries that onnxruntime loads into the harness's processes (plugin execution providers): running code all
the same, so it is approved with ``[environments]`` and by the same rules (an approval covers both tables).
Approvals live in ``$GENAI_HARNESS_TRUST_FILE``, default ``~/.config/genai-harness/trusted.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from genai_harness.config import HarnessConfig, _atomic_write, _locked
from genai_harness.errors import ConfigurationError

TRUST_ENV_VAR = "GENAI_HARNESS_TRUST_FILE"


def trust_file() -> Path:
    """Where approvals are kept."""
    if os.environ.get(TRUST_ENV_VAR):
        return Path(os.environ[TRUST_ENV_VAR])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "genai-harness" / "trusted.json"


RUNS_CODE = ("environments", "ep_libraries")
"""The config tables that name code the harness runs: interpreters and plugin EP libraries."""


def environments_digest(config: HarnessConfig) -> str:
    """A hash of the config's ``[environments]`` and ``[ep_libraries]`` tables: what an approval covers.

    Without ``[ep_libraries]`` it is the hash of ``[environments]`` alone, as it was before that table existed,
    so earlier approvals still hold.
    """
    libraries = config.section("ep_libraries")
    covered: object = config.section("environments")
    if libraries:
        covered = {"environments": covered, "ep_libraries": libraries}
    text = json.dumps(covered, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _approvals() -> dict[str, str]:
    path = trust_file()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"approvals file {path} is unreadable ({exc}); remove it and approve your "
                                 "config files again with `genai-harness envs --allow`") from None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def ownership_problem(path: Path) -> str | None:
    """Why the file's owner or mode forbids running what it names (None when they allow it)."""
    try:
        info = path.resolve().stat()
    except OSError:
        return None
    if info.st_uid not in (os.getuid(), 0):
        return f"it is owned by another user (uid {info.st_uid})"
    if info.st_mode & 0o002:
        return "it is writable by every user"
    return None


def untrusted_reason(config: HarnessConfig) -> str | None:
    """Why the interpreters of ``config`` must not run, or None when they may."""
    tables = [name for name in RUNS_CODE if config.section(name)]
    if not tables or not config.path.exists():
        return None  # nothing to run, or a config built in code rather than read from a file
    what = "interpreters" if tables == ["environments"] else \
        "EP libraries" if tables == ["ep_libraries"] else "interpreters and EP libraries"
    problem = ownership_problem(config.path)
    if problem:
        return (f"{config.path} names {what}, but {problem}; the harness does not run them "
                f"(take ownership of the file, or remove its {' and '.join(f'[{t}]' for t in tables)})")
    if config.explicit:
        return None
    key = str(config.path.resolve())
    if _approvals().get(key) == environments_digest(config):
        return None
    return (f"{config.path.resolve()} names {what} that were not approved, so they are not run; "
            "check the file and approve it with `genai-harness envs --allow`")


def approve(config: HarnessConfig) -> Path:
    """Record the user's approval of ``config``'s current ``[environments]``; return the approvals file."""
    problem = ownership_problem(config.path)
    if problem:
        raise ConfigurationError(f"cannot approve {config.path}: {problem}")
    path = trust_file()
    with _locked(path):
        approvals = _approvals()
        approvals[str(config.path.resolve())] = environments_digest(config)
        _atomic_write(path, json.dumps(approvals, indent=2, sort_keys=True) + "\n")
    return path
