"""Store arguments: one parser (a URL stays a URL, never a Path) and one redaction (no password in any message)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from genai_harness.errors import StoreError
from genai_harness.results.store import DEFAULT_STORE, mask_url, parse_store, redact

# what a password in a URL may hold unescaped (RFC 3986 userinfo, plus a raw '@' users do type), and '%'
PASSWORD = st.text(alphabet="abcXYZ0129-._~!$&'()*+,;=%@:", min_size=6, max_size=24)


def test_parse_store_keeps_a_url_and_makes_a_path_of_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENAI_HARNESS_STORE", raising=False)
    url = "postgresql://lab:pw@db:5432/genai"
    assert parse_store(url) == url and isinstance(parse_store(url), str)
    assert parse_store("POSTGRES://h/db") == "POSTGRES://h/db"
    assert parse_store("x/s.sqlite") == Path("x/s.sqlite")
    assert parse_store(Path("s.sqlite")) == Path("s.sqlite")
    assert parse_store(None) == DEFAULT_STORE and parse_store("") == DEFAULT_STORE
    monkeypatch.setenv("GENAI_HARNESS_STORE", url)
    assert parse_store(None) == url and parse_store("other.sqlite") == Path("other.sqlite")
    with pytest.raises(StoreError, match="unknown scheme") as info:
        parse_store("mysql://u:topsecret@h/db")
    assert "topsecret" not in str(info.value)


@given(password=PASSWORD)
def test_no_password_survives_redaction(password: str) -> None:
    template = "results store {} cannot be reached: connection to {} failed; ({})"
    assume(password not in template.format("", "", "") + "postgresql://lab127.0.0.1:5432/genai_db")
    url = f"postgresql://lab:{password}@127.0.0.1:5432/genai_db"
    mangled = str(Path(url))  # what the old report printed: a URL gone through Path (one '/' lost)
    in_query = f"postgresql://lab@/genai_db?host=/run&password={quote(password, safe='')}"  # a query value: encoded
    message = template.format(url, mangled, in_query)
    shown = redact(message)
    assert password not in shown and quote(password, safe="") not in shown
    assert "lab:***@127.0.0.1:5432/genai_db" in shown and "password=***" in shown
    assert password not in mask_url(url) and redact(mask_url(url)) == mask_url(url)


def test_redaction_leaves_urls_without_a_password_and_selections_alone() -> None:
    for text in ("postgresql://lab@db:5432/genai", "postgresql://db:5432/genai@run-1", "s.sqlite@last",
                 "http://example.com:8080/x", "C:/data/store.sqlite"):
        assert redact(text) == text
    assert redact("postgresql://me:pw@db/h@r1") == "postgresql://me:***@db/h@r1"
