"""The report's one way to write HTML: every value is escaped on its way in, attributes included.

:class:`Markup` marks text the report wrote itself (an element built here, an SVG matplotlib wrote); anything
else that reaches :func:`element`, as a child or as an attribute value, is data and is escaped with
``html.escape(quote=True)``. Ids derived from data are :func:`slug` s: a readable safe part and a short hash
of the whole value, so two different values never share an id and no value can leave its attribute.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable
from typing import Any

from genai_harness.analysis.keys import text_value

_NAME = re.compile(r"[a-z][a-z0-9-]*")
_SAFE = re.compile(r"[^a-z0-9]+")


class Markup(str):
    """HTML the report wrote (never data): passed through :func:`element` unescaped."""


def escape(value: Any) -> Markup:
    """``value`` as HTML text: Markup as it is, anything else (None and NaN as ``""``) escaped, quotes included."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(text_value(value), quote=True))


def join(parts: Iterable[Any]) -> Markup:
    """The parts one after another, each through :func:`escape`."""
    return Markup("".join(escape(p) for p in parts))


def element(tag: str, *children: Any, **attributes: Any) -> Markup:
    """``<tag attr="value">children</tag>``: children and attribute values escaped unless Markup.

    Attribute names come from code (``class_`` is ``class``, ``data_width_pt`` is ``data-width-pt``); a value
    of ``None`` or ``False`` leaves the attribute out, ``True`` writes it bare. Void elements take no children.
    """
    if not _NAME.fullmatch(tag):
        raise ValueError(f"not an element name: {tag!r}")
    written = []
    for key, value in attributes.items():
        name = key.rstrip("_").replace("_", "-")
        if not _NAME.fullmatch(name):
            raise ValueError(f"not an attribute name: {key!r}")
        if value is None or value is False:
            continue
        written.append(f" {name}" if value is True else f' {name}="{html.escape(text_value(value), quote=True)}"')
    opening = f"<{tag}{''.join(written)}>"
    if tag in ("br", "hr", "img", "meta", "wbr"):
        return Markup(opening)
    return Markup(f"{opening}{join(children)}</{tag}>")


def slug(value: Any, length: int = 32) -> str:
    """An id-safe name for ``value``: its letters and digits (lower case, runs of anything else as ``-``, at most
    ``length``) and 8 hex digits of its SHA-256, so different values give different slugs (pure)."""
    text = text_value(value)
    readable = _SAFE.sub("-", text.lower()).strip("-")[:length].strip("-")
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{readable}-{digest}" if readable else digest
