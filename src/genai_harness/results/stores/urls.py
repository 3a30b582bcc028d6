"""Store specs: a file path or a URL; which scheme means which store; URLs shown without passwords.

Every command that takes a store reads its argument through :func:`parse_store` (a URL stays a URL, never a
``Path``), and every message that names a store shows it through :func:`mask_url` (or :func:`redact` for free
text), so a password given in a URL never reaches a terminal or a log.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from genai_harness.errors import StoreError
from genai_harness.results.stores.sqlite import DEFAULT_STORE

ENV_VAR = "GENAI_HARNESS_STORE"
"""Environment variable naming the default store (a path or a URL)."""
POSTGRES_SCHEMES = ("postgresql", "postgres")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SECRET_KEYS = {"password", "sslpassword"}
# user:password@ of any URL in free text, also one whose // a Path made / (a password holds no '/' or whitespace;
# it may hold a raw '@'), and password=... parameters of a URL's query
_USERINFO_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*:/{1,2}[^\s/@:]*):[^\s/]*@")
_PASSWORD_PARAMETER = re.compile(r"(\b(?:ssl)?password=)[^&\s]*", re.IGNORECASE)


def scheme_of(spec: str) -> str | None:
    """The URL scheme of ``spec`` (lower case), or None for a file path."""
    m = _SCHEME.match(spec)
    return m.group(1).lower() if m else None


def is_url(spec: object) -> bool:
    """Whether ``spec`` is a URL (``scheme://...``) rather than a file path."""
    return isinstance(spec, str) and scheme_of(spec) is not None


def mask_url(url: str) -> str:
    """``url`` with any password (user info or ``password=`` parameter) replaced by ``***``."""
    if not is_url(url):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"{scheme_of(url)}://***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k.lower() in _SECRET_KEYS else v) for k, v in pairs], safe="/:*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _secrets(url: str) -> list[str]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [parts.password] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query) if k.lower() in _SECRET_KEYS and v]
    return [s for s in found if s]


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***`` (``user:***@host``, ``password=***``):
    the last guard on every message the CLI prints."""
    return _PASSWORD_PARAMETER.sub(r"\1***", _USERINFO_PASSWORD.sub(r"\1:***@", text))


def scrub(text: str, url: str) -> str:
    """``text`` with the URL and any password of ``url`` masked (for messages that may quote them)."""
    text = text.replace(url, mask_url(url))
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


def resolve_store_spec(value: str | os.PathLike[str] | None, default: str | os.PathLike[str]) -> str:
    """The store to use: ``value`` if given, else ``$GENAI_HARNESS_STORE``, else ``default``."""
    if value:
        return os.fspath(value)
    return os.environ.get(ENV_VAR) or os.fspath(default)


def parse_store(value: str | os.PathLike[str] | None,
                default: str | os.PathLike[str] = DEFAULT_STORE) -> str | Path:
    """The store an argument names, the one way every command reads one: a ``postgresql://`` URL (kept as
    text; any other scheme is a :class:`StoreError`) or a file ``Path``. ``None`` or empty means
    ``$GENAI_HARNESS_STORE``, else ``default``."""
    text = resolve_store_spec(value, default)
    if is_url(text):
        check_scheme(text)
        return text
    return Path(text)


def check_scheme(spec: str) -> None:
    """Refuse a URL of a scheme no store handles (instead of creating folders named after it)."""
    scheme = scheme_of(spec)
    if scheme is not None and scheme not in POSTGRES_SCHEMES:
        raise StoreError(f"store {mask_url(spec)!r}: unknown scheme {scheme}://; give a .sqlite file path or a "
                         "postgresql://user@host:port/database URL")
