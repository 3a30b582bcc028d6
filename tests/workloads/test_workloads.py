"""Workload specs and suites (shipped and malformed), their hash, and prompts of an exact token count."""

from __future__ import annotations

from pathlib import Path

import pytest

from genai_harness.errors import WorkloadError
from genai_harness.tasks import prompts
from genai_harness.tasks.base import REQUIRED
from genai_harness.workloads.spec import INPUT_FIELDS, TASKS, Workload, load_workload, parse_workload
from genai_harness.workloads.suites import STANDARD_DIR, load_suite, standard_suites, standard_workloads

TINY_LLM_GENAI = Path(prompts.CORPUS_FILE).resolve().parents[1] / "models" / "tiny-llm" / "onnxruntime_genai"

TEXT_WORKLOAD = """\
id = "chat"
version = 1
task = "text2text"
description = "a chat turn"
[input]
prompt_tokens = 128
new_tokens = 32
[run]
warmup = 1
repetitions = 3
timeout_s = 60
"""


def write(tmp_path: Path, text: str, name: str = "w.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ---- shipped workloads and suites --------------------------------------------------------------------------------

def test_every_shipped_workload_parses() -> None:
    files = sorted(STANDARD_DIR.glob("*.toml"))
    workloads = standard_workloads()
    assert len(files) >= 10 and len(workloads) == len(files), "two shipped workloads share an id"
    for path in files:
        workload = load_workload(path)
        assert workload.id == path.stem, f"{path.name}: id {workload.id!r} differs from the file name"
        assert workload.task in TASKS and workload.version >= 1
        fields = INPUT_FIELDS[workload.task]
        assert set(workload.inputs) <= set(fields)
        assert {name for name, (_, default, _) in fields.items() if default is REQUIRED} <= set(workload.inputs)
        assert workload.repetitions >= 1 and workload.timeout_s >= 1
        assert Workload.from_dict(workload.to_dict()) == workload


def test_shipped_text_workloads_are_named_after_their_shape() -> None:
    for workload in standard_workloads().values():
        if workload.task == "text2text" and "prompt_file" in workload.inputs:  # a written prompt: its category
            assert workload.id.startswith("assistant-") and workload.inputs["chat"], workload.id
        elif workload.task == "text2text":
            p, g = workload.inputs["prompt_tokens"], workload.inputs["new_tokens"]
            assert workload.id.endswith(f"-p{p}-g{g}"), workload.id


@pytest.mark.parametrize("name", ["smoke", "client"])
def test_shipped_suites_parse(name: str) -> None:
    assert name in standard_suites()
    suite = load_suite(name)
    assert suite.id == name and suite.description
    assert suite.entries and all(entry.models for entry in suite.entries)
    assert {entry.workload.task for entry in suite.entries} == set(TASKS)


def test_assistant_suite_has_mlperf_client_categories_on_a_real_model() -> None:
    suite = load_suite("assistant")
    categories = {entry.workload.id.removeprefix("assistant-") for entry in suite.entries}
    assert categories == {"content-generation", "creative-writing", "summarization-1k", "summarization-4k",
                          "code-analysis", "structured-json"}
    assert all(entry.models == ("smollm2-135m", "smollm2-135m-int4") for entry in suite.entries)
    assert all(prompts.read_prompt_file(entry.workload.inputs["prompt_file"]) for entry in suite.entries)


def test_smoke_suite_names_the_bundled_models() -> None:
    models = {m for entry in load_suite("smoke").entries for m in entry.models}
    assert {"tiny-llm", "tiny-sd"} <= models


def test_a_suite_file_by_path_resolves_workloads_next_to_it(tmp_path: Path) -> None:
    write(tmp_path, TEXT_WORKLOAD, "mine.toml")
    suite_file = write(tmp_path, '[[entries]]\nworkload = "mine.toml"\nmodels = ["m1", "m2"]\n'
                                 '[[entries]]\nworkload = "classify-b1"\nmodels = ["squeezenet"]\n', "s.toml")
    suite = load_suite(str(suite_file))
    assert suite.id == "s"  # the file stem when the file names no id
    assert [e.workload.id for e in suite.entries] == ["chat", "classify-b1"]
    assert suite.entries[0].models == ("m1", "m2")


# ---- the workload hash ---------------------------------------------------------------------------------------------

def test_workload_hash_is_stable_and_ignores_description_and_timeout(tmp_path: Path) -> None:
    a = load_workload(write(tmp_path, TEXT_WORKLOAD, "a.toml"))
    b = load_workload(write(tmp_path, TEXT_WORKLOAD.replace("a chat turn", "other words")
                            .replace("timeout_s = 60", "timeout_s = 900"), "b.toml"))
    assert a.hash == b.hash == load_workload(tmp_path / "a.toml").hash
    assert len(a.hash) == 16 and int(a.hash, 16) >= 0
    assert Workload.from_dict(a.to_dict()).hash == a.hash


@pytest.mark.parametrize(("old", "new"), [
    ("prompt_tokens = 128", "prompt_tokens = 129"),
    ("new_tokens = 32", "new_tokens = 64"),
    ("version = 1", "version = 2"),
    ('id = "chat"', 'id = "chat2"'),
    ("warmup = 1", "warmup = 2"),
    ("repetitions = 3", "repetitions = 5"),
    ("[run]", "[run]\nmin_time_s = 5"),
])
def test_workload_hash_changes_with_what_defines_the_measurement(tmp_path: Path, old: str, new: str) -> None:
    base = load_workload(write(tmp_path, TEXT_WORKLOAD, "a.toml"))
    assert old in TEXT_WORKLOAD
    changed = load_workload(write(tmp_path, TEXT_WORKLOAD.replace(old, new), "b.toml"))
    assert changed.hash != base.hash


def test_shipped_workload_hashes_are_distinct() -> None:
    hashes = [w.hash for w in standard_workloads().values()]
    assert len(set(hashes)) == len(hashes)


# ---- malformed workload files -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    pytest.param(TEXT_WORKLOAD.replace('id = "chat"\n', ""), ["'id'", "missing", "add id = <str>"], id="missing-id"),
    pytest.param(TEXT_WORKLOAD.replace("version = 1\n", ""), ["'version'", "add version = <int>"],
                 id="missing-version"),
    pytest.param(TEXT_WORKLOAD.replace("new_tokens = 32\n", ""), ["[input]", "'new_tokens'", "add new_tokens = <int>"],
                 id="missing-input"),
    pytest.param(TEXT_WORKLOAD.replace("= 128", '= "ten"'), ["[input]", "'prompt_tokens'", "must be int", "'ten'"],
                 id="wrong-type"),
    pytest.param(TEXT_WORKLOAD.replace("= 128", "= 12.5"), ["'prompt_tokens'", "must be int", "12.5"],
                 id="float-for-int"),
    pytest.param(TEXT_WORKLOAD.replace("= 128", "= true"), ["'prompt_tokens'", "must be int"], id="bool-for-int"),
    pytest.param(TEXT_WORKLOAD.replace('id = "chat"', "id = 5"), ["'id'", "must be str"], id="id-not-str"),
    pytest.param(TEXT_WORKLOAD.replace("= 128", "= -4"), ["'prompt_tokens'", "at least 1", "-4"], id="negative"),
    pytest.param(TEXT_WORKLOAD.replace("new_tokens = 32", "new_tokens = 0"), ["'new_tokens'", "at least 1", "0"],
                 id="zero"),
    pytest.param(TEXT_WORKLOAD.replace("repetitions = 3", "repetitions = 0"), ["[run]", "'repetitions'", "at least 1"],
                 id="zero-repetitions"),
    pytest.param(TEXT_WORKLOAD.replace("timeout_s = 60", "timeout_s = 0.5"), ["[run]", "'timeout_s'", "at least 1"],
                 id="tiny-timeout"),
    pytest.param(TEXT_WORKLOAD.replace("warmup = 1", "warmup = -1"), ["'warmup'", "at least 0"], id="negative-warmup"),
    pytest.param(TEXT_WORKLOAD.replace("timeout_s = 60", "timeout_s = nan"), ["'timeout_s'", "finite"],
                 id="nan-timeout"),
    pytest.param(TEXT_WORKLOAD.replace("[input]", "[input]\nprompt_tokns = 3"),
                 ["[input]", "prompt_tokns", "allowed: prompt_tokens, new_tokens"], id="unknown-input-field"),
    pytest.param(TEXT_WORKLOAD.replace("[run]", "[run]\nrepeats = 3"), ["[run]", "repeats", "allowed: warmup"],
                 id="unknown-run-field"),
    pytest.param("colour = 1\n" + TEXT_WORKLOAD, ["colour", "allowed: id, version, task"], id="unknown-top-field"),
    pytest.param(TEXT_WORKLOAD.replace('task = "text2text"', 'task = "speech"'),
                 ["'task'", "'speech'", "use one of text2text, text2image, classification"], id="unknown-task"),
    pytest.param("run = 3\n" + TEXT_WORKLOAD.split("[run]")[0], ["[run] must be a table"], id="run-not-table"),
    pytest.param(TEXT_WORKLOAD.replace("new_tokens = 32", "new_tokens = [32"), ["not valid TOML", "fix the syntax"],
                 id="invalid-toml"),
])
def test_malformed_workload_names_file_field_and_fix(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write(tmp_path, text, "broken.toml")
    with pytest.raises(WorkloadError) as info:
        load_workload(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    assert info.value.exit_code == 7


@pytest.mark.parametrize(("dim", "value"), [("width", 60), ("height", 100)])
def test_image_size_must_be_a_multiple_of_8(tmp_path: Path, dim: str, value: int) -> None:
    text = f'id = "img"\nversion = 1\ntask = "text2image"\n[input]\n{dim} = {value}\n'
    path = write(tmp_path, text)
    with pytest.raises(WorkloadError, match=rf"{path}.*'{dim}' must be a multiple of 8, got {value}"):
        load_workload(path)


def test_image_workload_defaults_and_float_coercion(tmp_path: Path) -> None:
    text = 'id = "img"\nversion = 1\ntask = "text2image"\n[input]\nwidth = 64\nguidance_scale = 3\n'
    workload = load_workload(write(tmp_path, text))
    assert workload.inputs["width"] == 64 and workload.inputs["height"] == 512
    assert workload.inputs["guidance_scale"] == 3.0 and isinstance(workload.inputs["guidance_scale"], float)
    assert (workload.warmup, workload.repetitions, workload.timeout_s) == (1, 3, 300.0)


def test_missing_workload_file(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError, match="does not exist"):
        load_workload(tmp_path / "nope.toml")


def test_parse_workload_names_its_source() -> None:
    with pytest.raises(WorkloadError, match=r"^inline: required field 'task'"):
        parse_workload({"id": "x", "version": 1}, "inline")


# ---- malformed suites ---------------------------------------------------------------------------------------------

def test_unknown_suite_lists_the_shipped_suites() -> None:
    with pytest.raises(WorkloadError) as info:
        load_suite("nosuch")
    message = str(info.value)
    assert "'nosuch'" in message
    for name in standard_suites():
        assert name in message
    assert "suite file path" in message


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param('[[entries]]\nmodels = ["tiny-llm"]\n', "#1: field 'workload'", id="entry-without-workload"),
    pytest.param('[[entries]]\nworkload = "text-p128-g32"\nmodels = ["a"]\n[[entries]]\nworkload = 3\n',
                 "#2: field 'workload'", id="second-entry-bad-workload"),
    pytest.param('[[entries]]\nworkload = "text-p128-g32"\nmodels = "tiny-llm"\n', "'models' must be a list",
                 id="models-not-list"),
    pytest.param('id = "x"\n', "at least one [[entries]]", id="no-entries"),
    pytest.param('[[entries]\n', "not valid TOML", id="invalid-toml"),
    pytest.param('[[entries]]\nworkload = "nosuch-workload"\nmodels = []\n', "'nosuch-workload' not found",
                 id="unknown-workload"),
])
def test_malformed_suite_names_the_file(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text, "suite.toml")
    with pytest.raises(WorkloadError) as info:
        load_suite(str(path))
    assert str(path) in str(info.value) or "nosuch-workload" in str(info.value)
    assert expected in str(info.value), str(info.value)


def test_unknown_workload_in_a_suite_lists_the_standard_ones(tmp_path: Path) -> None:
    path = write(tmp_path, '[[entries]]\nworkload = "nosuch"\nmodels = []\n', "suite.toml")
    with pytest.raises(WorkloadError, match="text-p128-g32"):
        load_suite(str(path))


def test_a_malformed_workload_in_a_suite_names_the_workload_file(tmp_path: Path) -> None:
    bad = write(tmp_path, TEXT_WORKLOAD.replace("= 128", '= "ten"'), "bad.toml")
    path = write(tmp_path, '[[entries]]\nworkload = "bad.toml"\nmodels = ["m"]\n', "suite.toml")
    with pytest.raises(WorkloadError, match=rf"{bad} \[input\]: field 'prompt_tokens' must be int"):
        load_suite(str(path))


# ---- prompts of an exact token count ------------------------------------------------------------------------------

def words(text: str) -> list[int]:
    return [hash(w) % 50_000 for w in text.split()]


def chars(text: str) -> list[int]:
    return [ord(c) for c in text]


@pytest.mark.parametrize("encode", [words, chars], ids=["words", "chars"])
@pytest.mark.parametrize("n", [1, 2, 7, 128, 1000])
def test_prompt_with_tokens_is_exact_with_toy_encoders(encode, n: int) -> None:
    text = prompts.prompt_with_tokens(encode, n)
    assert len(encode(text)) == n
    assert prompts.corpus_text().startswith(text[:20])  # cut from the bundled corpus


@pytest.mark.parametrize("encode", [words, chars], ids=["words", "chars"])
def test_prompt_longer_than_the_corpus_cycles_it(encode) -> None:
    corpus = "alpha beta gamma delta"
    for n in (3, 4, 5, 9, 50):
        text = prompts.prompt_with_tokens(encode, n, corpus=corpus)
        assert len(encode(text)) == n, (n, text)
    assert prompts.prompt_with_tokens(words, 9, corpus=corpus).split() == (corpus.split() * 3)[:9]
    corpus_words = len(prompts.corpus_text().split())
    long = prompts.prompt_with_tokens(words, corpus_words + 500)
    assert len(words(long)) == corpus_words + 500


def test_prompt_is_deterministic() -> None:
    assert prompts.prompt_with_tokens(words, 64) == prompts.prompt_with_tokens(words, 64)


@pytest.mark.parametrize("n", [0, -3])
def test_prompt_needs_at_least_one_token(n: int) -> None:
    with pytest.raises(WorkloadError, match="at least 1"):
        prompts.prompt_with_tokens(chars, n)


def test_prompt_that_cannot_be_cut_exactly_is_a_clear_error() -> None:
    def pairs(text: str) -> list[int]:  # only ever an even number of tokens
        return [0] * (2 * len(text.split()))

    with pytest.raises(WorkloadError, match="exactly 3 tokens"):
        prompts.prompt_with_tokens(pairs, 3)


def test_corpus_has_no_section_headers() -> None:
    text = prompts.corpus_text()
    assert len(text) > 10_000 and "=== " not in text


@pytest.fixture(scope="module")
def tiny_llm_encode():
    if not all((TINY_LLM_GENAI / name).is_file() for name in ("genai_config.json", "tokenizer.json")):
        pytest.skip(f"bundled model folder {TINY_LLM_GENAI} is absent (build it with tools/build_models.py)")
    pytest.importorskip("onnxruntime_genai")
    from genai_harness import Text2TextPipelineFactory

    pipeline = Text2TextPipelineFactory.create("onnxruntime_genai", TINY_LLM_GENAI, "CPU")
    return pipeline.encode


@pytest.mark.parametrize("n", [1, 128, 1024, 4096])
def test_prompt_with_tokens_is_exact_with_the_real_tiny_llm_tokenizer(tiny_llm_encode, n: int) -> None:
    text = prompts.prompt_with_tokens(tiny_llm_encode, n)
    assert len(tiny_llm_encode(text)) == n


# ---- numerics requests in [run] -------------------------------------------------------------------------------------

def test_run_table_takes_precision_threads_and_reference(tmp_path: Path) -> None:
    base = write(tmp_path, TEXT_WORKLOAD)
    plain = load_workload(base)
    assert (plain.precision, plain.threads, plain.reference) == ("default", None, False)
    asked = load_workload(write(tmp_path, TEXT_WORKLOAD.replace("[run]", '[run]\nprecision = "f32"\nthreads = 2\n'
                                                      "reference = true"), "asked.toml"))
    assert (asked.precision, asked.threads, asked.reference) == ("f32", 2, True)
    assert asked.hash != plain.hash  # a precision request changes what is measured
    assert Workload.from_dict(asked.to_dict()) == asked


@pytest.mark.parametrize(("line", "expected"), [
    ('precision = "fp8"', "field 'precision' is 'fp8'; use one of default, f32, bf16, f16"),
    ("precision = 32", "field 'precision' must be str"),
    ("threads = -1", "field 'threads' must be at least 0"),
    ('reference = "yes"', "field 'reference' must be true or false"),
])
def test_bad_numerics_requests_name_the_field(tmp_path: Path, line: str, expected: str) -> None:
    with pytest.raises(WorkloadError, match=expected.replace("(", r"\(")):
        load_workload(write(tmp_path, TEXT_WORKLOAD.replace("[run]", f"[run]\n{line}")))


def test_a_text_workload_takes_either_prompt_tokens_or_a_prompt_file(tmp_path: Path) -> None:
    base = {"id": "w", "version": 1, "task": "text2text"}
    both = {**base, "input": {"prompt_tokens": 8, "prompt_file": "client/code_analysis.txt", "new_tokens": 4}}
    with pytest.raises(WorkloadError, match=r"either prompt_tokens .* or prompt_file"):
        parse_workload(both, "w.toml")
    with pytest.raises(WorkloadError, match="either prompt_tokens"):
        parse_workload({**base, "input": {"new_tokens": 4}}, "w.toml")
    with pytest.raises(WorkloadError, match=r"prompt_file .nope\.txt. is neither a shipped prompt"):
        parse_workload({**base, "input": {"prompt_file": "nope.txt", "new_tokens": 4}}, "w.toml")
    mine = tmp_path / "mine.txt"
    mine.write_text("Say hello.")
    workload = parse_workload({**base, "input": {"prompt_file": str(mine), "chat": True, "new_tokens": 4}}, "w.toml")
    assert workload.inputs == {"prompt_file": str(mine), "chat": True, "new_tokens": 4}
    # an older workload's inputs (and so its hash) do not gain the new optional fields
    assert parse_workload({**base, "input": {"prompt_tokens": 8, "new_tokens": 4}}, "w").inputs == {
        "prompt_tokens": 8, "new_tokens": 4}
