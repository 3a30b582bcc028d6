"""The exception hierarchy: one root, documented exit codes, and a lossless trip across processes."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from genai_harness import errors
from genai_harness.errors import EXIT_CODES, HarnessError, error_from_dict

CLASSES = sorted(
    (obj for obj in vars(errors).values() if inspect.isclass(obj) and issubclass(obj, BaseException)),
    key=lambda cls: cls.__name__,
)
# "Name (N)" in the module docstring's tree
DOCUMENTED = {name: int(code) for name, code in re.findall(r"(\w+Error) \((\d+)\)", errors.__doc__ or "")}


def test_every_error_derives_from_harness_error():
    assert len(CLASSES) >= 18
    for cls in CLASSES:
        assert issubclass(cls, HarnessError), cls


def test_the_docstring_tree_draws_exactly_the_classes():
    drawn = set(re.findall(r"[├└]── (\w+Error)", errors.__doc__ or "")) | {"HarnessError"}
    assert drawn == {cls.__name__ for cls in CLASSES}


def test_documented_exit_codes_match_and_are_distinct():
    assert DOCUMENTED["HarnessError"] == 70  # 1 is reserved for "regression found" (compare, ab)
    for name, code in DOCUMENTED.items():
        assert getattr(errors, name).exit_code == code, name
        assert EXIT_CODES[name] == code, name
    assert len(set(DOCUMENTED.values())) == len(DOCUMENTED)
    # every outcome has its own code, except a regression found by compare/ab, which is documented as 1
    distinct = {name: code for name, code in EXIT_CODES.items() if name != "regression found (compare, ab)"}
    assert len(set(distinct.values())) == len(distinct), EXIT_CODES
    assert EXIT_CODES["regression found (compare, ab)"] == 1
    assert EXIT_CODES["gate inconclusive (compare, ab)"] == errors.GATE_INCONCLUSIVE_EXIT == 16
    assert EXIT_CODES["ok"] == 0 and EXIT_CODES["interrupted"] == 130
    assert EXIT_CODES["terminated (SIGTERM)"] == 143 and EXIT_CODES["hung up (SIGHUP)"] == 129


def test_undocumented_subclasses_inherit_their_parents_code():
    for cls in CLASSES:
        if cls.__name__ not in DOCUMENTED:
            parent = cls.__mro__[1]
            assert cls.exit_code == parent.exit_code, cls


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_error_round_trips_through_a_dict(cls):
    original = cls(f"{cls.__name__}: something named, and how to fix it")
    data = original.to_dict()
    assert data == {"type": cls.__name__, "message": original.message}
    rebuilt = error_from_dict(data)
    assert type(rebuilt) is cls
    assert str(rebuilt) == str(original) == original.message
    assert rebuilt.exit_code == cls.exit_code


def test_unknown_or_partial_dicts_become_harness_errors():
    rebuilt = error_from_dict({"type": "KeyError", "message": "from a worker"})
    assert type(rebuilt) is HarnessError and rebuilt.message == "from a worker"
    assert type(error_from_dict({})) is HarnessError
    assert str(error_from_dict({})) == "unknown error"


def test_a_numerics_refusal_has_its_own_exit_code_in_the_readme():
    # a DeviceError still (callers that catch those catch it), but a script can tell it from a missing device
    assert issubclass(errors.NumericsError, errors.DeviceError)
    assert errors.NumericsError.exit_code == 15 != errors.DeviceError.exit_code
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    paragraph = " ".join(readme.split("Errors are one line", 1)[1].split("\n\n", 1)[0].split())
    for code in sorted(set(DOCUMENTED.values()) - {70}):
        assert re.search(rf"\b{code} \w", paragraph), f"README's exit-code line lacks {code}"
    assert "15 numerics refused" in paragraph
