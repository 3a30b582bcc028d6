"""Consent to a model's custom-ops library, bound to the library's content.

An onnxruntime-genai ``genai_config.json`` may name a ``custom_ops_library``: native code the runtime loads with
the user's rights. ``models add --allow-custom-ops`` records the consent in the model's table of the config as
``allow_custom_ops = {"NAME" = "SHA256"}``: the name as the folder gives it and the sha256 of the file it names.
Every later use hashes the file again; another file under the same name (or one that cannot be found) is refused
with one line saying how to approve it, as a config file's interpreters are approved by the hash of its
``[environments]`` table (:mod:`genai_harness.trust`). A consent recorded by name only (an older harness wrote a
list) no longer suffices.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from genai_harness.config import HarnessConfig
from genai_harness.errors import ModelError
from genai_harness.hashing import file_sha256
from genai_harness.workloads.model_formats import custom_op_libraries

CONSENT_KEY = "allow_custom_ops"


def library_file(folder: Path, library: str) -> Path | None:
    """The file onnxruntime-genai loads for ``library`` (the ``custom_ops_library`` value of ``folder``'s
    genai_config.json), in its own search order: an absolute path as it is; a relative one in the model folder,
    else in the current folder. None when no such file exists (the runtime would then ask the system's library
    search path, which a consent cannot be bound to)."""
    path = Path(library).expanduser()
    candidates = [path] if path.is_absolute() else [folder / path, Path.cwd() / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    return None


@dataclass(frozen=True)
class Library:
    """A custom-ops library a model folder names: the name as written, its file, the file's sha256."""

    name: str
    file: Path | None
    sha256: str | None


def libraries(folder: Path) -> list[Library]:
    """Every custom-ops library ``folder``'s genai_config.json names, with its file and content hash."""
    found = []
    for name in custom_op_libraries(folder) if folder.is_dir() else []:
        file = library_file(folder, name)
        found.append(Library(name, file, file_sha256(file) if file is not None else None))
    return found


def consented(config: HarnessConfig, model_id: str) -> dict[str, str]:
    """The libraries the user consented to for a registered model, name -> sha256 (a name recorded without a
    hash, by an older harness, maps to "": it matches no file)."""
    table = config.section("models").get(model_id, {})
    recorded = table.get(CONSENT_KEY, {}) if isinstance(table, dict) else {}
    if isinstance(recorded, list):
        return {str(name): "" for name in recorded}
    if isinstance(recorded, dict):
        return {str(name): str(digest) for name, digest in recorded.items()}
    return {}


def missing_file(folder: Path, library: Library) -> ModelError:
    """The refusal of a library whose file cannot be found (so its content cannot be checked)."""
    return ModelError(
        f"{folder}/genai_config.json makes onnxruntime-genai load the shared library {library.name!r}, which is "
        f"neither an existing absolute path nor a file in the model folder or in {os.getcwd()}; consent is bound "
        "to a library's content, so give the library's path in genai_config.json")


def check_consent(model_id: str, task: str, folder: Path, consent: dict[str, str]) -> None:
    """Refuse ``folder`` (a format of ``model_id``) if it names a library whose current content the user did not
    consent to: a new name, a file changed or replaced since the consent, or a file that cannot be found."""
    approve = (f"if you trust it, approve it with `genai-harness models add {model_id} --task {task} --path "
               f"{folder} --framework onnxruntime_genai --allow-custom-ops`")
    for library in libraries(folder):
        if library.name not in consent:
            raise ModelError(
                f"model {model_id!r}: {folder}/genai_config.json makes onnxruntime-genai load the shared library "
                f"{library.name!r} (native code that runs with your rights) and you have not consented; {approve}")
        if library.file is None:
            raise missing_file(folder, library)
        if consent[library.name] != library.sha256:
            why = ("your consent, recorded by an older genai-harness, names it without its content"
                   if not consent[library.name] else "its content changed since you consented")
            raise ModelError(f"model {model_id!r}: the shared library {library.name!r} ({library.file}) is not the "
                             f"file you consented to ({why}); nothing was loaded; {approve}")
