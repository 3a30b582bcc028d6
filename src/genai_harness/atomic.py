"""Files the harness writes for the user appear whole or not at all.

Every output (a results export, the HTML report and its figures, a JUnit file, a generated image, the config and
approval files, remembered decisions) is written to a temporary file in the target's own folder and renamed over
the target only once it is complete and on disk. An export cut by Ctrl-C or SIGTERM, a disk that fills, or a crash
leaves the earlier file as it was and no partial one under its name. (SIGKILL leaves the hidden temporary file
``.STEM.XXXXXXXX.tmp.SUFFIX`` beside it; the target is still untouched.)
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

TEMPORARY_SUFFIX = ".tmp"


def temporary_name(target: Path) -> Path:
    """A fresh hidden name beside ``target`` (same folder, so the rename is atomic) that keeps its suffix, for
    writers that choose the format by it: ``report.html`` -> ``.report.XXXXXXXX.tmp.html``."""
    return target.with_name(f".{target.stem}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}{target.suffix}")


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike[str], *, create_folder: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` to write to; when the block ends normally, flush it to disk and
    rename it over ``target`` (a symlink is written through). On any exception (an interrupt included) the
    temporary file is removed and ``target`` is left as it was. An :class:`OSError` is raised to the caller.

    The new file takes the mode of the file it replaces, else the usual mode for a new file (umask applied).
    """
    final = Path(os.path.realpath(target))
    if create_folder:
        final.parent.mkdir(parents=True, exist_ok=True)
    mode = final.stat().st_mode & 0o7777 if final.exists() else None
    tmp = temporary_name(final)  # a fresh random name: the file it names, once it exists, is ours
    try:
        # created inside the try: a Ctrl-C or SIGTERM arriving as the file appears (before the block starts) still
        # removes it (a signal there left a stray temporary file once in a full `make test` at load 3)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666 & ~umask, as a plain open would
        os.close(fd)
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)
        with open(tmp, "rb+") as handle:  # on disk before the rename: a full disk fails here, not after
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself on disk; some filesystems cannot sync a folder
        folder = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def write_text(target: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    """Replace ``target`` with ``text`` atomically (see :func:`atomic_output`); return the target's path."""
    with atomic_output(target) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(target)
