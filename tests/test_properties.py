"""Property-based tests (hypothesis): generated workload files, suite files, config files, store files and
command lines, valid and broken. Whatever comes in, the CLI exits with a documented code, says what went wrong
in one line on stderr without a traceback, and changes no file it should not.

The CLI runs in this process (``genai_harness.cli.main``) so hundreds of inputs fit in the suite's time. Only
the runtime boundary is replaced: the device inventory is empty and a worker is never started (a command that
would start one gets a CellError), so every input reaches the harness's own parsing and validation for real.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from genai_harness import cli
from genai_harness.commands import devices
from genai_harness.errors import EXIT_CODES, CellError, WorkloadError
from genai_harness.results.store import ResultStore
from genai_harness.runner import cell_loop, inventory, launcher, prepare
from genai_harness.runner.operator_loop import prepare_specs
from genai_harness.workloads.operators import bounds
from genai_harness.workloads.operators.score_mod import from_expression
from genai_harness.workloads.operators.spec import OperatorSpec, validate_spec

DOCUMENTED_CODES = set(EXIT_CODES.values())
ERROR_LINE = re.compile(r"^genai-harness( [a-z]+)?: error: \S")
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module", autouse=True)
def no_runtime() -> Iterator[None]:
    """No device inventory and no worker: inputs are judged by the harness alone."""
    def no_worker(*args: Any, **kwargs: Any) -> Any:
        raise CellError("property tests start no worker")

    with pytest.MonkeyPatch.context() as mp:
        for module in (prepare, inventory, devices):  # every module that asks environments what they offer
            mp.setattr(module, "collect_inventory", lambda environments: [])
        for module in (launcher, cell_loop):  # every module that starts a worker
            mp.setattr(module, "call_worker", no_worker)
        mp.setenv("GENAI_HARNESS_TRUST_FILE", str(Path(tempfile.gettempdir()) / "genai-harness-props-trust.json"))
        yield


@contextlib.contextmanager
def sandbox() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="genai-harness-props-"))
    old = Path.cwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(old)
        shutil.rmtree(folder, ignore_errors=True)


def invoke(argv: list[str]) -> tuple[int, str, str]:
    """``genai-harness ARGV`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse: usage errors and --help
            code = exc.code if isinstance(exc.code, int) else 1
    event(f"exit {code}")
    return code, out.getvalue(), err.getvalue()


def assert_contract(code: int, stdout: str, stderr: str) -> None:
    """A documented exit code; a failure is exactly one error line; never a traceback."""
    detail = f"code={code} stdout={stdout[-500:]!r} stderr={stderr[-1500:]!r}"
    assert code in DOCUMENTED_CODES, detail
    assert "Traceback" not in stderr + stdout, detail
    assert "internal error" not in stderr, detail
    if code != 0:
        lines = stderr.splitlines()
        assert len(lines) == 1 and ERROR_LINE.match(lines[0]), detail


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ---- strategies ---------------------------------------------------------------------------------------------------

SCALARS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.text(max_size=30),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(min_size=1, max_size=8), inner,
                                                                       max_size=4)), max_leaves=12)
FIELD = st.sampled_from(["id", "version", "task", "description", "input", "run", "extra", "entries", "models",
                         "workload", "prompt_tokens", "new_tokens", "repetitions", "warmup", "timeout_s",
                         "min_time_s", "width", "height", "steps", "batch_size", "guidance_scale", "seed"])
TASK = st.sampled_from(["text2text", "text2image", "classification", "nope", ""])


VALID_WORKLOADS = [
    {"id": "t", "version": 1, "task": "text2text", "input": {"prompt_tokens": 8, "new_tokens": 2},
     "run": {"warmup": 0, "repetitions": 1}},
    {"id": "i", "version": 1, "task": "text2image", "input": {"width": 64, "height": 64, "steps": 2}},
    {"id": "c", "version": 2, "task": "classification", "input": {"batch_size": 1}, "run": {"min_time_s": 0.5}},
]


@st.composite
def near_valid_workloads(draw: st.DrawFn) -> dict[str, Any]:
    """A valid workload, then maybe one field set to something else (right type, wrong range, wrong type)."""
    doc = {k: dict(v) if isinstance(v, dict) else v for k, v in draw(st.sampled_from(VALID_WORKLOADS)).items()}
    if draw(st.booleans()):
        table = draw(st.sampled_from(["input", "run", None]))
        name = draw(FIELD)
        value = draw(st.one_of(st.integers(-3, 10**10), st.floats(allow_nan=True, allow_infinity=True), SCALARS))
        (doc.setdefault(table, {}) if table else doc)[name] = value
    return doc


@st.composite
def workload_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Workloads near the valid ones: the right fields with values that are right, wrong, huge or absent."""
    number = st.one_of(st.integers(min_value=-5, max_value=10**12), st.floats(allow_nan=True), SCALARS)
    doc: dict[str, Any] = {"id": draw(st.one_of(st.text(min_size=1, max_size=12), SCALARS)),
                           "version": draw(st.one_of(st.integers(0, 3), SCALARS)), "task": draw(TASK)}
    inputs = {k: draw(number) for k in draw(st.sets(st.sampled_from(
        ["prompt_tokens", "new_tokens", "width", "height", "steps", "batch_size", "guidance_scale", "seed",
         "prompt", "bogus"]), max_size=4))}
    run = {k: draw(number) for k in draw(st.sets(st.sampled_from(
        ["warmup", "repetitions", "timeout_s", "min_time_s", "bogus"]), max_size=3))}
    doc["input"], doc["run"] = inputs, run
    extra = draw(st.dictionaries(FIELD, VALUES, max_size=2))
    doc.update(extra)
    return doc


def toml_text(doc: dict[str, Any]) -> bytes | None:
    try:
        return tomli_w.dumps(doc).encode()
    except (TypeError, ValueError):  # a value TOML cannot hold (nan keys, None ...)
        return None


BROKEN_BYTES = st.one_of(st.binary(max_size=3000), st.text(max_size=400).map(str.encode),
                         st.integers(1, 3000).map(lambda n: ("a = " + "[" * n + "]" * n).encode()))


def file_bytes(documents: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    valid = documents.map(toml_text).filter(lambda b: b is not None)
    return st.one_of(valid, valid, BROKEN_BYTES)  # type: ignore[arg-type]


@st.composite
def suite_documents(draw: st.DrawFn) -> dict[str, Any]:
    workload = st.one_of(st.sampled_from(["text-p128-g32", "classify-b1", "image-64-s4", "w.toml", "missing"]),
                         SCALARS)
    models = st.one_of(st.lists(st.sampled_from(["tiny-llm", "squeezenet", "tiny-sd", "nosuch", ""]), max_size=3),
                       SCALARS)
    good_entry = st.fixed_dictionaries({"workload": st.sampled_from(["text-p128-g32", "w.toml"]),
                                        "models": st.just(["tiny-llm"])})
    entry = st.one_of(good_entry, st.fixed_dictionaries({"workload": workload, "models": models}))
    entries = draw(st.one_of(st.lists(entry, min_size=1, max_size=3), st.lists(entry, max_size=3), SCALARS))
    doc = {"id": draw(st.text(max_size=10)), "entries": entries}
    doc.update(draw(st.dictionaries(FIELD, VALUES, max_size=1)))
    return doc


@st.composite
def config_documents(draw: st.DrawFn) -> dict[str, Any]:
    python = st.one_of(st.text(max_size=20), SCALARS, st.just("/nonexistent/bin/python"))
    environments = st.one_of(st.dictionaries(st.text(min_size=1, max_size=8),
                                             st.one_of(st.fixed_dictionaries({"python": python}), SCALARS),
                                             max_size=3), SCALARS)
    model = st.fixed_dictionaries({"task": TASK, "formats": st.one_of(
        st.dictionaries(st.sampled_from(["onnxruntime_genai", "openvino", "onnx", "fake"]),
                        st.one_of(st.text(max_size=20), SCALARS), max_size=2), SCALARS)})
    models = st.one_of(st.dictionaries(st.sampled_from(["mine", "tiny-llm", "squeezenet", "x y", "ü"]),
                                       st.one_of(model, SCALARS), max_size=3), SCALARS)
    doc: dict[str, Any] = {}
    if draw(st.booleans()):
        doc["environments"] = draw(environments)
    if draw(st.booleans()):
        doc["models"] = draw(models)
    doc.update(draw(st.dictionaries(FIELD, VALUES, max_size=1)))
    return doc


# ---- properties ---------------------------------------------------------------------------------------------

@PROPERTY_SETTINGS
@given(content=file_bytes(st.one_of(near_valid_workloads(), workload_documents())))
def test_any_workload_file(content: bytes) -> None:
    with sandbox() as folder:
        path = folder / "w.toml"
        path.write_bytes(content)
        code, out, err = invoke(["run", "--suite", str(path), "--model", "tiny-llm", "--store", "s.sqlite"])
        assert_contract(code, out, err)
        assert code != 0  # nothing can run without devices
        assert path.read_bytes() == content and not (folder / "s.sqlite").exists()


@PROPERTY_SETTINGS
@given(content=file_bytes(suite_documents()), workload=file_bytes(near_valid_workloads()))
def test_any_suite_file(content: bytes, workload: bytes) -> None:
    with sandbox() as folder:
        (folder / "w.toml").write_bytes(workload)
        path = folder / "s.toml"
        path.write_bytes(content)
        before = snapshot(folder)
        code, out, err = invoke(["run", "--suite", str(path), "--store", "s.sqlite"])
        assert_contract(code, out, err)
        assert snapshot(folder) == before


@PROPERTY_SETTINGS
@given(content=file_bytes(config_documents()), command=st.sampled_from([["models", "--json"], ["models"], ["envs"],
                                                                        ["models", "verify", "mine"]]))
def test_any_config_file(content: bytes, command: list[str]) -> None:
    with sandbox() as folder:
        path = folder / "genai-harness.toml"
        path.write_bytes(content)
        before = snapshot(folder)
        code, out, err = invoke(["--config", str(path), *command])
        assert_contract(code, out, err)
        assert snapshot(folder) == before


def _template_store() -> bytes:
    with sandbox() as folder:
        store = ResultStore(folder / "t.sqlite")
        store.append([{"run_id": f"r{i}", "status": "ok", "framework": "onnxruntime", "device": "CPU",
                       "workload_id": "w", "model_id": "m", "repetition": i, "ttft_ms": 1.5 * i} for i in range(3)])
        store.record_plan("r0", ["onnxruntime CPU | w | m"])
        return (folder / "t.sqlite").read_bytes()


TEMPLATE_STORE = _template_store()


@st.composite
def store_bytes(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["intact", "flipped", "truncated", "random"]))
    data = bytearray(TEMPLATE_STORE)
    if kind == "flipped":
        for _ in range(draw(st.integers(1, 20))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.integers(0, 255))
    elif kind == "truncated":
        data = data[: draw(st.integers(1, len(data) - 1))]
    elif kind == "random":
        data = bytearray(draw(st.binary(min_size=1, max_size=5000)))
    return bytes(data)


@PROPERTY_SETTINGS
@given(content=store_bytes(), extra=st.sampled_from([[], ["--json"], ["--run", "last"], ["--run", "r1"],
                                                      ["--export", "out.csv"], ["--export", "out.txt"]]))
def test_any_store_file(content: bytes, extra: list[str]) -> None:
    with sandbox() as folder:
        path = folder / "store.sqlite"
        path.write_bytes(content)
        code, out, err = invoke(["results", "--store", str(path), *extra])
        assert_contract(code, out, err)
        assert code in (0, EXIT_CODES["StoreError"], EXIT_CODES["ConfigurationError"])
        assert path.read_bytes() == content
        assert {p.name for p in folder.iterdir()} <= {"store.sqlite", "store.sqlite-wal", "store.sqlite-shm",
                                                      "out.csv"}


WORDS = st.sampled_from([
    "run", "results", "models", "envs", "generate", "imagine", "classify", "list", "add", "remove", "verify",
    "--suite", "--framework", "--device", "--model", "--store", "--export", "--json", "--quiet", "--run",
    "--task", "--format", "--path", "--add", "--remove", "--allow", "--prompt", "--prompt-file", "--timeout",
    "--size", "--steps", "--seed", "--guidance-scale", "--out", "--batch", "--max-new-tokens", "--python",
    "smoke", "tiny-llm", "squeezenet", "onnxruntime", "openvino", "openvino.genai", "CPU", "", "nan", "-1", "0",
    "1e309", "64x64", "x.png", "w.toml", "text2text", "NAME=PATH", f"ok={sys.executable}", "@", "--",
])
ARGS = st.lists(st.one_of(WORDS, st.text(max_size=12)), max_size=8)
OPTION_VALUES = st.one_of(st.sampled_from(["CPU", "", "nan", "inf", "-1", "0", "3", "1e309", "64x64", "7x9", "f32",
                                           "tiny-llm", "squeezenet", "w.toml", "openvino", "x.png", "NOPE"]),
                          st.text(max_size=10))
COMMAND_OPTIONS = {
    "run": ["--suite", "--framework", "--device", "--model", "--store", "--export", "--precision", "--threads"],
    "generate": ["--model", "--framework", "--device", "--timeout", "--prompt", "--prompt-file",
                 "--max-new-tokens", "--precision", "--threads"],
    "imagine": ["--model", "--framework", "--device", "--timeout", "--prompt", "--size", "--steps", "--seed",
                "--guidance-scale", "--out"],
    "classify": ["--model", "--framework", "--device", "--timeout", "--batch"],
    "results": ["--store", "--run", "--export"],
    "models": ["--task", "--framework", "--format", "--path", "--description"],
    "envs": ["--add", "--remove"],
}


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    """A subcommand with some of its own options, each given a plausible or hostile value."""
    command = draw(st.sampled_from(sorted(COMMAND_OPTIONS)))
    argv = [command]
    if command == "models":
        argv += draw(st.lists(st.sampled_from(["list", "add", "remove", "verify", "mine", "tiny-llm"]), max_size=2))
    for option in draw(st.lists(st.sampled_from(COMMAND_OPTIONS[command]), max_size=5, unique=True)):
        argv += [option, draw(OPTION_VALUES)]
    return argv


@PROPERTY_SETTINGS
@given(argv=st.one_of(ARGS, command_lines(), command_lines()))
def test_any_command_line(argv: list[str]) -> None:
    if "--help" in argv or "-h" in argv:
        return
    with sandbox() as folder:
        config = folder / "genai-harness.toml"
        config.write_text("# kept\n")
        (folder / "w.toml").write_text('id = "w"\nversion = 1\ntask = "text2text"\n[input]\nprompt_tokens = 8\n'
                                       "new_tokens = 2\n")
        before = snapshot(folder)
        code, out, err = invoke(["--config", str(config), *argv])
        assert_contract(code, out, err)
        changed = {name for name, digest in snapshot(folder).items() if before.get(name) != digest}
        # a command may write its config file (models/envs add/remove) and the store; nothing else
        allowed = {"genai-harness.toml", "genai-harness.toml.lock"}
        assert not {c for c in changed if c not in allowed and not c.startswith("results/")}, changed
        if "# kept" not in config.read_text():
            pytest.fail(f"the config lost the user's comment: {config.read_text()!r}")


# ---- operator specs: arbitrary numbers in every field --------------------------------------------------------------

HUGE_INTS = st.integers(min_value=-(2**70), max_value=2**70)
ANY_NUMBER = st.one_of(HUGE_INTS, st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                       st.sampled_from([0, -1, 1, 2**20, 2**20 + 1, 256, 257, 1024, 1025, 10**20, 1e9, 0.05, 1e-300]))
OPERATOR_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "batch": st.integers(1, 3), "q_heads": st.sampled_from([1, 2, 4, 8]), "kv_heads": st.sampled_from([1, 2, 4]),
    "head_size": st.sampled_from([1, 8, 16]), "q_len": st.integers(1, 8), "kv_len": st.integers(8, 24),
    "window": st.integers(0, 30), "softcap": st.floats(0.0, 100.0), "documents": st.integers(1, 8),
    "repetitions": st.integers(1, 5), "warmup": st.integers(0, 3), "max_time_s": st.floats(0.01, 10.0),
    "opset": st.sampled_from([1, 21, 23, 24]), "packed_qkv": st.booleans(),
}
OPERATOR_NAMES = st.sampled_from(["Attention", "MatMulSoftmaxMatMul", "FlexAttention", "FlexAttentionExpanded",
                                  "MultiHeadAttention", "GroupQueryAttention"])
VARIANT_NAMES = st.sampled_from(["plain", "causal", "sliding_window", "alibi", "softcap", "document"])


@st.composite
def operator_fields(draw: st.DrawFn) -> dict[str, Any]:
    """An operator spec's fields: a consistent small spec, then some fields plausible and one or two set to any
    number at all (huge, negative, NaN, inf, a float where a whole number goes, a boolean)."""
    operator = draw(OPERATOR_NAMES)
    kv_heads = draw(st.sampled_from([1, 2, 4]))
    q_len = draw(st.integers(1, 8))
    fields: dict[str, Any] = {
        "operator": operator, "dtype": draw(st.sampled_from(["float32", "float16"])),
        "variant": draw(VARIANT_NAMES.filter(lambda v: operator != "MultiHeadAttention" or v != "softcap")),
        "kv_heads": kv_heads, "q_heads": kv_heads * (1 if operator == "MultiHeadAttention" else
                                                     draw(st.sampled_from([1, 2]))),
        "q_len": q_len, "kv_len": q_len + draw(st.integers(0, 16)), "window": draw(st.integers(1, 30)),
        "softcap": draw(st.floats(0.5, 100.0)), "documents": draw(st.integers(1, 2)), "repetitions": 1, "warmup": 0,
    }
    if operator.startswith("FlexAttention") and draw(st.booleans()):
        fields["variant"], fields["score_mod"] = "score_mod", [f"mul {draw(ANY_NUMBER)}", draw(st.sampled_from(
            ["tanh", "exp", "neg", "pow 0.5"]))]
    for name in draw(st.lists(st.sampled_from(sorted(OPERATOR_FIELDS)), max_size=2, unique=True)):
        fields[name] = draw(st.one_of(OPERATOR_FIELDS[name], ANY_NUMBER))
    return fields


def _one_named_line(message: str) -> bool:
    return "\n" not in message and len(message) < 600 and re.search(r"operator spec fields? '", message) is not None


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(fields=operator_fields())
def test_any_operator_spec_is_refused_by_field_or_bounded_and_builds(fields: dict[str, Any]) -> None:
    """Refused: one line naming the field. Accepted: every field within its bound, the runner's planned allocation
    within the budget (tests/workloads/test_operator_bounds.py checks the plan against real peaks), and the model
    builds, passes onnx's checker and gets a finite reference (small specs, so the test stays quick)."""
    try:
        if "score_mod" in fields:
            fields = {**fields, "score_mod": from_expression(fields["score_mod"])}
        spec = validate_spec(OperatorSpec(**fields))
    except WorkloadError as exc:
        event("refused")
        assert _one_named_line(str(exc)), str(exc)
        return
    event("accepted")
    for name, (low, high) in bounds.INT_BOUNDS.items():
        assert low <= getattr(spec, name) <= high
    assert sum(bounds.planned_bytes(spec).values()) <= bounds.memory_budget_bytes()
    # the runner's own preparation, for real: build, check, draw, reference (all small here)
    with tempfile.TemporaryDirectory(prefix="genai-harness-props-") as folder:
        try:
            prepared = prepare_specs([spec], Path(folder))
        except WorkloadError as exc:  # only a reference that is not finite may be refused this late
            assert "NaN or inf" in str(exc) and "field 'score_mod'" in str(exc) and "\n" not in str(exc), str(exc)
            return
        assert prepared[spec.name].reference.shape


@st.composite
def operator_suite_documents(draw: st.DrawFn) -> dict[str, Any]:
    """An operator suite file: [defaults] and one or two [[operators]] tables of arbitrary numbers."""
    tables = draw(st.lists(operator_fields(), min_size=1, max_size=2))
    defaults = draw(st.dictionaries(st.sampled_from(sorted(OPERATOR_FIELDS)), ANY_NUMBER, max_size=3))
    return {"id": "ops", "defaults": defaults, "operators": tables}


@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(doc=operator_suite_documents())
def test_any_operator_suite_file_through_the_cli(doc: dict[str, Any]) -> None:
    """``run --suite`` on an operator suite of arbitrary numbers: a documented exit, one line, never exit 70;
    a refusal of a field names it. (No runtime here: an accepted suite ends at "no runtime takes an ONNX model".)"""
    content = toml_text(doc)
    if content is None:
        return
    with sandbox() as folder:
        path = folder / "ops.toml"
        path.write_bytes(content)
        code, out, err = invoke(["run", "--suite", str(path), "--store", "s.sqlite"])
        assert_contract(code, out, err)
        assert code in (EXIT_CODES["WorkloadError"], EXIT_CODES["ConfigurationError"]), err
        if code == EXIT_CODES["WorkloadError"]:
            assert re.search(r"operator spec fields? '|describe the same cell|a number too long", err), err
        else:
            assert "takes an ONNX model" in err, err
        assert not (folder / "s.sqlite").exists()
