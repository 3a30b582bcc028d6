"""Hostile and careless inputs (issue 14): each gives one line and its documented exit code, and changes
nothing it should not. Real CLI subprocesses, the real catalog and validators, the bundled tiny models."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support import FakeWorkspace, assert_one_error_line, clean_env, cli_command, run_cli, run_fake_cli

from genai_harness.errors import (
    ConfigurationError,
    DeviceUnavailableError,
    ModelError,
    WorkloadError,
)
from genai_harness.workloads.catalog import MODELS_DIR

TINY_LLM = MODELS_DIR / "tiny-llm" / "onnxruntime_genai"


@pytest.fixture
def llm_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "my-llm"
    shutil.copytree(TINY_LLM, copy)
    return copy


def _add(model: Path, cwd: Path, *extra: str, model_id: str = "mine") -> subprocess.CompletedProcess[str]:
    return run_cli("models", "add", model_id, "--task", "text2text", "--framework", "onnxruntime_genai",
                   "--path", model, *extra, cwd=cwd)


# ---- models add: refused at add time, not at first use ---------------------------------------------------------------

def _edit_genai_config(folder: Path, change) -> None:  # type: ignore[no-untyped-def]
    path = folder / "genai_config.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("breakage", ["context_length", "tokenizer", "truncated_data"])
def test_models_add_refuses_a_broken_model_and_leaves_the_config(tmp_path: Path, llm_copy: Path,
                                                                 breakage: str) -> None:
    config = tmp_path / "genai-harness.toml"
    config.write_text("# mine\n")
    if breakage == "context_length":
        _edit_genai_config(llm_copy, lambda d: d["model"].__setitem__("context_length", -1))
        fragment = "context_length is -1"
    elif breakage == "tokenizer":
        (llm_copy / "tokenizer.json").write_text('{"garbage": true}')
        fragment = "not a tokenizer.json"
    else:
        data = llm_copy / "model.onnx.data"
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
        fragment = "truncated"
    line = assert_one_error_line(_add(llm_copy, tmp_path), exit_code=ModelError.exit_code)
    assert fragment in line, line
    assert config.read_text() == "# mine\n"


def test_models_verify_name_checks_a_user_model(tmp_path: Path, llm_copy: Path) -> None:
    assert _add(llm_copy, tmp_path).returncode == 0
    ok = run_cli("models", "verify", "mine", cwd=tmp_path)
    assert ok.returncode == 0 and "valid model" in ok.stdout, ok.stderr
    data = llm_copy / "model.onnx.data"
    data.write_bytes(data.read_bytes()[:1000])
    line = assert_one_error_line(run_cli("models", "verify", "mine", cwd=tmp_path), exit_code=ModelError.exit_code)
    assert "mine/onnxruntime_genai" in line and "truncated" in line


def test_a_hand_edited_config_cannot_reuse_a_bundled_id(tmp_path: Path, llm_copy: Path) -> None:
    (tmp_path / "genai-harness.toml").write_text(
        f'[models.tiny-llm]\ntask = "text2text"\n[models.tiny-llm.formats]\nonnxruntime_genai = "{llm_copy}"\n')
    line = assert_one_error_line(run_cli("models", cwd=tmp_path), exit_code=ConfigurationError.exit_code)
    assert "reserved" in line and "tiny-llm" in line


def _real_libraries(folder: Path) -> tuple[Path, Path]:
    """Two different real shared libraries (extension modules of this Python), copied into ``folder``."""
    import _ctypes
    import _sqlite3

    a, b = folder / "liba.so", folder / "libb.so"
    shutil.copyfile(_ctypes.__file__, a)
    shutil.copyfile(_sqlite3.__file__, b)
    return a, b


def test_custom_ops_library_needs_consent(tmp_path: Path, llm_copy: Path) -> None:
    config = tmp_path / "genai-harness.toml"
    config.write_text("")
    evil, other = _real_libraries(tmp_path)
    _edit_genai_config(llm_copy, lambda d: d["model"]["decoder"]["session_options"].__setitem__(
        "custom_ops_library", str(evil)))
    line = assert_one_error_line(_add(llm_copy, tmp_path), exit_code=ModelError.exit_code)
    assert str(evil) in line and "--allow-custom-ops" in line
    assert config.read_text() == ""
    proc = _add(llm_copy, tmp_path, "--allow-custom-ops")
    assert proc.returncode == 0, proc.stderr
    assert str(evil) in config.read_text()
    # the folder changes afterwards: the new library was never consented to, so nothing loads it
    _edit_genai_config(llm_copy, lambda d: d["model"]["decoder"]["session_options"].__setitem__(
        "custom_ops_library", str(other)))
    line = assert_one_error_line(run_cli("generate", "--model", "mine", "--framework", "onnxruntime_genai",
                                         "--prompt", "hi", cwd=tmp_path), exit_code=ModelError.exit_code)
    assert str(other) in line and "not consented" in line
    # and a folder given by path is never consented
    line = assert_one_error_line(run_cli("generate", "--model", llm_copy, "--framework", "onnxruntime_genai",
                                         "--prompt", "hi", cwd=tmp_path), exit_code=ModelError.exit_code)
    assert "custom-ops" in line or "shared library" in line


def test_custom_ops_consent_is_bound_to_the_library_content_not_its_name(tmp_path: Path, llm_copy: Path) -> None:
    """Issue 24 item 9: another .so put under the consented name asks again; approving again renews the consent."""
    import hashlib

    config = tmp_path / "genai-harness.toml"
    config.write_text("")
    first, second = _real_libraries(tmp_path)
    library = llm_copy / "libcustom.so"  # relative in genai_config.json: onnxruntime-genai looks in the folder
    shutil.copyfile(first, library)
    _edit_genai_config(llm_copy, lambda d: d["model"]["decoder"]["session_options"].__setitem__(
        "custom_ops_library", "libcustom.so"))
    assert _add(llm_copy, tmp_path, "--allow-custom-ops").returncode == 0
    assert hashlib.sha256(first.read_bytes()).hexdigest() in config.read_text()
    verified = run_cli("models", "verify", "mine", cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    shutil.copyfile(second, library)  # another library, same name
    for command in (("models", "verify", "mine"),
                    ("generate", "--model", "mine", "--framework", "onnxruntime_genai", "--prompt", "hi")):
        line = assert_one_error_line(run_cli(*command, cwd=tmp_path), exit_code=ModelError.exit_code)
        assert "not the file you consented to" in line and "content changed" in line, line
        assert f"models add mine --task text2text --path {llm_copy}" in line and "--allow-custom-ops" in line
    renewed = _add(llm_copy, tmp_path, "--allow-custom-ops")  # the one line's fix, as it says
    assert renewed.returncode == 0, renewed.stderr
    assert hashlib.sha256(second.read_bytes()).hexdigest() in config.read_text()
    assert hashlib.sha256(first.read_bytes()).hexdigest() not in config.read_text()
    assert run_cli("models", "verify", "mine", cwd=tmp_path).returncode == 0
    # a consent an older harness recorded by name only no longer suffices
    config.write_text(f'[models.mine]\ntask = "text2text"\nallow_custom_ops = ["libcustom.so"]\n'
                      f'[models.mine.formats]\nonnxruntime_genai = "{llm_copy}"\n')
    line = assert_one_error_line(run_cli("models", "verify", "mine", cwd=tmp_path), exit_code=ModelError.exit_code)
    assert "without its content" in line and "--allow-custom-ops" in line
    assert _add(llm_copy, tmp_path, "--allow-custom-ops").returncode == 0
    assert run_cli("models", "verify", "mine", cwd=tmp_path).returncode == 0
    # a library that cannot be found cannot be hashed, so it cannot be consented to
    library.unlink()
    line = assert_one_error_line(run_cli("models", "verify", "mine", cwd=tmp_path), exit_code=ModelError.exit_code)
    assert "libcustom.so" in line and "bound" in line
    before = config.read_text()
    line = assert_one_error_line(_add(llm_copy, tmp_path, "--allow-custom-ops", model_id="again"),
                                 exit_code=ModelError.exit_code)
    assert "libcustom.so" in line and config.read_text() == before


def test_an_unknown_model_names_the_config_that_was_read(tmp_path: Path) -> None:
    line = assert_one_error_line(run_cli("generate", "--model", "registered-elsewhere", "--framework",
                                         "onnxruntime_genai", "--prompt", "hi", cwd=tmp_path), exit_code=3)
    assert f"{tmp_path / 'genai-harness.toml'} does not exist" in line


def test_a_user_model_deleted_while_the_catalog_scans_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from genai_harness.workloads import catalog

    folder = tmp_path / "vanishing"
    folder.mkdir()
    for i in range(5):
        (folder / f"f{i}").write_text("x")
    real_rglob = Path.rglob

    def rglob_then_delete(self: Path, pattern: str):  # type: ignore[no-untyped-def]
        for index, item in enumerate(real_rglob(self, pattern)):
            if index == 1:
                shutil.rmtree(folder)  # the user deletes it mid-scan
            yield item

    monkeypatch.setattr(Path, "rglob", rglob_then_delete)
    assert catalog._stat_hash(folder) == (0, "missing")


# ---- direct commands: options ---------------------------------------------------------------------------------

BASE = ["generate", "--model", "tiny-llm", "--framework", "onnxruntime_genai"]


@pytest.mark.parametrize("args", [
    [*BASE, "--prompt", "hi", "--timeout", "nan"],
    [*BASE, "--prompt", "hi", "--timeout", "-1"],
    [*BASE, "--prompt", "hi", "--timeout", "inf"],
    ["imagine", "--model", "tiny-sd", "--framework", "onnxruntime", "--prompt", "a", "--out", "x.png",
     "--guidance-scale", "nan"],
    [*BASE, "--prompt", "hi", "--device", ""],
    ["run", "--device", ""],
    ["imagine", "--model", "tiny-sd", "--framework", "onnxruntime", "--prompt", "a", "--out", "x.png",
     "--steps", "-3"],
], ids=["timeout-nan", "timeout-negative", "timeout-inf", "guidance-nan", "generate-device-empty",
        "run-device-empty", "negative-steps"])
def test_bad_numbers_and_empty_names_are_refused_before_anything_runs(tmp_path: Path, args: list[str]) -> None:
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and re.match(r"genai-harness( \w+)?: error: ", proc.stderr)
    assert not (tmp_path / "results").exists()


def test_a_prompt_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([*cli_command(), *BASE, "--prompt", b"caf\xe9 \xff".decode("utf-8", "surrogateescape")],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert "UTF-8" in assert_one_error_line(proc, exit_code=2)
    bad = tmp_path / "prompt.txt"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    proc = run_cli(*BASE, "--prompt-file", bad, cwd=tmp_path)
    assert "not UTF-8" in assert_one_error_line(proc, exit_code=2)


def test_prompt_file_gives_the_same_text_as_prompt(tmp_path: Path) -> None:
    prompt = "The lighthouse keeper counted the ships " * 3
    (tmp_path / "p.txt").write_text(prompt)
    by_file = run_cli(*BASE, "--prompt-file", tmp_path / "p.txt", "--max-new-tokens", "4", "--json", cwd=tmp_path)
    by_arg = run_cli(*BASE, "--prompt", prompt, "--max-new-tokens", "4", "--json", cwd=tmp_path)
    assert by_file.returncode == 0 and by_arg.returncode == 0, by_file.stderr + by_arg.stderr
    assert json.loads(by_file.stdout)["token_ids"] == json.loads(by_arg.stdout)["token_ids"]


def test_framework_openvino_means_the_framework_that_serves_that_format(tmp_path: Path) -> None:
    proc = run_cli("generate", "--model", "tiny-llm", "--framework", "openvino", "--prompt", "hi",
                   "--max-new-tokens", "2", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["device"]["framework"] == "openvino.genai"


def test_run_and_generate_take_a_model_path_alike(tmp_path: Path) -> None:
    workload = tmp_path / "one.toml"
    workload.write_text('id = "one"\nversion = 1\ntask = "text2text"\n[input]\nprompt_tokens = 16\nnew_tokens = 4\n'
                        "[run]\nwarmup = 0\nrepetitions = 1\n")
    store = tmp_path / "s.sqlite"
    proc = run_cli("run", "--suite", workload, "--model", TINY_LLM, "--framework", "onnxruntime_genai",
                   "--device", "CPU", "--store", store, "--json", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["status"] for r in rows] == ["ok"] and rows[0]["model_id"] == str(TINY_LLM)
    generated = run_cli("generate", "--model", TINY_LLM, "--framework", "onnxruntime_genai", "--prompt", "hi",
                        "--max-new-tokens", "2", cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr
    not_a_model = tmp_path / "empty-folder"
    not_a_model.mkdir()
    for command in (["run", "--suite", workload, "--store", store], ["generate", "--prompt", "hi", "--framework",
                                                                     "onnxruntime_genai"]):
        line = assert_one_error_line(run_cli(*command, "--model", not_a_model, cwd=tmp_path), exit_code=3)
        assert "not a model of any format" in line


# ---- workload and suite files ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("content", "fragment"), [
    (bytes(range(256)) * 400, "not UTF-8"),
    (b"\x00" * (2 * 1024 * 1024), "larger than"),
    (("a = " + "[" * 30000 + "]" * 30000).encode(), "nested too deeply"),
    (b'id = "w"\nversion = 1\ntask = "text2text"\n[input]\nprompt_tokens = 8\nnew_tokens = 2\n'
     b"[run]\nrepetitions = 1000000000\n", "at most 10000"),
], ids=["not-utf8", "huge", "nested", "repetitions"])
def test_bad_workload_and_suite_files_are_one_line(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "w.toml"
    path.write_bytes(content)
    line = assert_one_error_line(run_cli("run", "--suite", path, cwd=tmp_path), exit_code=WorkloadError.exit_code)
    assert fragment in line, line
    assert path.read_bytes() == content and not (tmp_path / "results").exists()


def test_a_single_workload_file_given_as_suite(tmp_path: Path) -> None:
    ws = FakeWorkspace(tmp_path)
    workload = ws.workload("solo", repetitions=1)
    line = assert_one_error_line(run_fake_cli("run", "--suite", workload, cwd=tmp_path), exit_code=7)
    assert "--model" in line
    proc = run_fake_cli("run", "--suite", workload, "--model", "fake-ok", "--framework", "fake", "--device", "CPU",
                        "--store", tmp_path / "s.sqlite", "--json", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [(r["workload_id"], r["model_id"], r["status"]) for r in json.loads(proc.stdout)] == [
        ("solo", "fake-ok", "ok")]


# ---- the Python API -------------------------------------------------------------------------------------------

def test_public_surface_is_what_all_says() -> None:
    import genai_harness
    import genai_harness.runner.benchmark  # importing submodules must not widen the surface

    assert dir(genai_harness) == sorted(genai_harness.__all__)
    for name in genai_harness.__all__:
        assert getattr(genai_harness, name) is not None
    for private in ("Any", "Path", "Sequence", "TYPE_CHECKING"):
        assert private not in dir(genai_harness)


def test_run_takes_a_name_or_a_list() -> None:
    import inspect

    import genai_harness

    params = inspect.signature(genai_harness.run).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    assert {"frameworks", "devices", "models", "store", "pythons", "config", "progress"} <= set(params)
    with pytest.raises(DeviceUnavailableError, match="NOPE"):  # not "unknown framework 'o'"
        genai_harness.run("smoke", frameworks="onnxruntime", devices="NOPE", progress=False)
    with pytest.raises(ConfigurationError, match="name or a list of names"):
        genai_harness.run("smoke", frameworks=5, progress=False)  # type: ignore[arg-type]


def test_multi_is_refused_for_text2text_instead_of_crashing(tmp_path: Path) -> None:
    """openvino-genai's LLMPipeline dies with SIGFPE on MULTI:CPU: the backend refuses it up front."""
    proc = run_cli("generate", "--model", "tiny-llm", "--framework", "openvino.genai", "--device", "MULTI:CPU",
                   "--prompt", "hi", "--max-new-tokens", "2", cwd=tmp_path)
    line = assert_one_error_line(proc, exit_code=DeviceUnavailableError.exit_code)
    assert "MULTI:CPU" in line and "AUTO" in line


def test_the_readme_links_only_files_of_the_repository() -> None:
    from support import REPO

    readme = (REPO / "README.md").read_text()
    assert "../shared" not in readme
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    assert links, "the README links its docs"
    for link in links:
        assert (REPO / link).is_file(), link
    workloads = (REPO / "docs" / "workloads.md").read_text()
    assert "[[entries]]" in workloads and "[run]" in workloads and "prompt_tokens" in workloads
