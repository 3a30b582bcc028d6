"""Text generation on plain onnxruntime sessions, against onnxruntime-genai on the same weights (real runtimes).

The bundled tiny-llm has two exports of one checkpoint: the onnxruntime-genai builder's (GroupQueryAttention, a
contrib op) and a standard-op one (torch.onnx dynamo, opset 23: Attention, RotaryEmbedding, RMSNormalization).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from genai_harness.errors import ContextLengthError, ModelError
from genai_harness.factories import Text2TextPipelineFactory
from genai_harness.interface import text2text
from genai_harness.workloads.catalog import MODELS_DIR
from tests.support import assert_one_error_line, clean_env, require_ovep_python, run_cli, run_python

og = pytest.importorskip("onnxruntime_genai")
onnx = pytest.importorskip("onnx")

LLM = MODELS_DIR / "tiny-llm"
STANDARD, BUILDER = LLM / "onnx", LLM / "onnxruntime_genai"
SMOLLM2 = Path.home() / ".cache" / "genai-harness" / "models" / "smollm2-135m" / "float32" / "onnxruntime_genai"
N = 32


@pytest.fixture(scope="module")
def genai() -> text2text.Pipeline:
    return Text2TextPipelineFactory.create("onnxruntime_genai", BUILDER, "CPU")


@pytest.fixture(scope="module")
def plain() -> dict[str, text2text.Pipeline]:
    return {"standard": Text2TextPipelineFactory.create("onnxruntime", STANDARD, "CPU"),
            "builder": Text2TextPipelineFactory.create("onnxruntime", BUILDER, "CPU")}


def long_prompt(pipeline: text2text.Pipeline, n: int = 128) -> tuple[int, ...]:
    text = (MODELS_DIR.parent / "corpus" / "public_domain.txt").read_text(encoding="utf-8")
    return tuple(pipeline.encode(text)[:n])


@pytest.mark.parametrize("export", ["standard", "builder"])
@pytest.mark.parametrize("prompt", ["Once upon a time", "long"])
def test_greedy_ids_agree_with_onnxruntime_genai_token_for_token(genai: Any, plain: dict[str, Any], export: str,
                                                                  prompt: str) -> None:
    ids = long_prompt(genai) if prompt == "long" else tuple(genai.encode(prompt))
    config = text2text.GenerationConfig.exact(N)
    expected = genai(text2text.GenerationInput(token_ids=ids), config).token_ids
    got = plain[export](text2text.GenerationInput(token_ids=ids), config)
    assert got.token_ids == expected
    assert got.text == genai.decode(expected)
    assert len(got.token_ns) == N and got.token_ns == sorted(got.token_ns) and got.start_ns < got.token_ns[0]
    assert got.native_metrics["ort_prefill_ms"] > 0


def test_both_exports_compute_the_same_logits(plain: dict[str, Any], genai: Any) -> None:
    ids = long_prompt(genai, 40)
    follow = genai(text2text.GenerationInput(token_ids=ids), text2text.GenerationConfig.exact(8)).token_ids
    reference = genai.logits_along(ids, follow)
    for pipeline in plain.values():
        logits = pipeline.logits_along(ids, follow)
        assert logits.shape == reference.shape
        assert float(np.max(np.abs(logits - reference))) < 1e-3


def test_io_binding_and_plain_runs_give_the_same_ids() -> None:
    with_binding = Text2TextPipelineFactory.create("onnxruntime", STANDARD, "CPU")
    device = replace(with_binding.device, config={**with_binding.device.config, "io_binding": False})
    without = Text2TextPipelineFactory.create("onnxruntime", STANDARD, device)
    assert with_binding.io_binding and not without.io_binding
    ids = tuple(with_binding.encode("It was the best of times"))
    config = text2text.GenerationConfig.exact(16)
    assert (with_binding(text2text.GenerationInput(token_ids=ids), config).token_ids
            == without(text2text.GenerationInput(token_ids=ids), config).token_ids)
    assert without.numerics.details["io_binding"] is False


def test_the_standard_export_holds_standard_ops_only() -> None:
    model = onnx.load(str(STANDARD / "model.onnx"), load_external_data=False)
    domains = {node.domain for node in model.graph.node}
    ops = {node.op_type for node in model.graph.node}
    assert domains == {""}, domains
    assert {"Attention", "RotaryEmbedding", "RMSNormalization"} <= ops
    assert next(o.version for o in model.opset_import if o.domain == "") >= 23
    builder = onnx.load(str(BUILDER / "model.onnx"), load_external_data=False)
    assert "GroupQueryAttention" in {n.op_type for n in builder.graph.node}  # the other export, for contrast
    assert sum(p.stat().st_size for p in STANDARD.iterdir()) < 10 * 2**20


def test_sampling_is_seeded_and_top_k_one_is_greedy(plain: dict[str, Any]) -> None:
    pipeline = plain["standard"]
    ids = tuple(pipeline.encode("The sea was calm"))

    def run(**sampling: Any) -> list[int]:
        config = text2text.GenerationConfig(max_new_tokens=N, min_new_tokens=N,
                                            sampling=text2text.SamplingConfig(do_sample=True, **sampling))
        return pipeline(text2text.GenerationInput(token_ids=ids), config).token_ids

    greedy = pipeline(text2text.GenerationInput(token_ids=ids), text2text.GenerationConfig.exact(N)).token_ids
    assert run(rng_seed=7) == run(rng_seed=7)
    assert run(rng_seed=7) != run(rng_seed=8)  # random weights: a flat distribution, 32 draws
    assert run(rng_seed=3, top_k=1) == greedy
    streamed = list(pipeline.stream(text2text.GenerationInput(token_ids=ids), text2text.GenerationConfig(
        max_new_tokens=N, min_new_tokens=N, sampling=text2text.SamplingConfig(do_sample=True, rng_seed=7))))
    assert streamed == run(rng_seed=7)


def test_numerics_are_read_back_from_the_session(plain: dict[str, Any]) -> None:
    numerics = plain["standard"].numerics
    assert numerics.precision == "f32" and numerics.kv_cache_precision == "f32"
    assert numerics.details["providers"][0] == "CPUExecutionProvider"
    assert numerics.details["decoder_convention"] == "past_key_values/present"
    assert plain["builder"].actual_device == "CPUExecutionProvider"


def test_a_prompt_beyond_the_context_is_refused(plain: dict[str, Any]) -> None:
    with pytest.raises(ContextLengthError, match="exceeds the model's context of 4096 tokens"):
        plain["standard"]("Hello", text2text.GenerationConfig(max_new_tokens=5000))


@pytest.mark.skipif(not SMOLLM2.is_dir(), reason="smollm2-135m is built by tests/runner/test_model_build_real.py")
def test_the_chat_template_renders_as_onnxruntime_genai_renders_it_and_the_answer_matches(genai: Any) -> None:
    del genai
    ours = Text2TextPipelineFactory.create("onnxruntime", SMOLLM2, "CPU")
    theirs = Text2TextPipelineFactory.create("onnxruntime_genai", SMOLLM2, "CPU")
    question = "What is the capital of France?"
    framed = ours.chat_prompt(question)
    assert framed == theirs.chat_prompt(question) and framed.startswith("<|im_start|>")
    assert ours.encode(framed) == theirs.encode(framed)
    config = text2text.GenerationConfig.exact(12)
    answer = ours(framed, config)
    assert answer.token_ids == theirs(framed, config).token_ids
    assert "Paris" in answer.text


def test_a_model_without_a_chat_template_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    shutil.copytree(STANDARD, folder)
    assert Text2TextPipelineFactory.create("onnxruntime", folder, "CPU").chat_prompt("hi") is None
    (folder / "chat_template.jinja").write_text(
        "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
        "{% if add_generation_prompt %}<bot>{% endif %}")
    assert Text2TextPipelineFactory.create("onnxruntime", folder, "CPU").chat_prompt("hi") == "<user>hi<bot>"


def bad_decoder(folder: Path) -> Path:
    """A folder whose .onnx names its inputs after no exporter (tokens, past.0) beside a real tokenizer."""
    helper, proto = onnx.helper, onnx.TensorProto
    graph = helper.make_graph(
        [helper.make_node("Identity", ["past.0"], ["scores"])], "odd",
        [helper.make_tensor_value_info("tokens", proto.INT64, [1, "s"]),
         helper.make_tensor_value_info("past.0", proto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("scores", proto.FLOAT, [1, 2])])
    folder.mkdir()
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(folder / "model.onnx"))
    shutil.copy2(STANDARD / "tokenizer.json", folder / "tokenizer.json")
    return folder


def test_models_add_refuses_a_decoder_of_no_known_convention_naming_the_expected_inputs(tmp_path: Path) -> None:
    folder = bad_decoder(tmp_path / "odd")
    proc = run_cli("models", "add", "odd", "--task", "text2text", "--framework", "onnxruntime", "--path", folder,
                   cwd=tmp_path, env=clean_env())
    line = assert_one_error_line(proc, exit_code=ModelError.exit_code)
    assert "follow no known convention (it has tokens, past.0 -> scores)" in line
    assert "expected input_ids, attention_mask, past_key_values.0.key/past_key_values.0.value" in line
    assert not (tmp_path / "genai-harness.toml").exists() or "odd" not in (tmp_path / "genai-harness.toml").read_text()
    # the good exports register under the same command
    ok = run_cli("models", "add", "mine", "--task", "text2text", "--framework", "onnxruntime", "--path", STANDARD,
                 cwd=tmp_path, env=clean_env())
    assert ok.returncode == 0, ok.stderr


def test_a_pipeline_on_a_decoder_of_no_known_convention_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"follow no known convention .* expected input_ids"):
        Text2TextPipelineFactory.create("onnxruntime", bad_decoder(tmp_path / "odd"), "CPU")


OVEP_SCRIPT = """
import json, sys
from pathlib import Path
from genai_harness.backends.ort import OnnxRuntimeBackend
from genai_harness.errors import ModelError
from genai_harness.interface import text2text
root = Path(sys.argv[1])
backend = OnnxRuntimeBackend()
devices = {d.label: d for d in backend.enumerate_devices() if d.available}
report = {}
for label in ("CPU", "CPU:OpenVINO"):
    for folder in ("onnxruntime_genai", "onnx"):
        try:
            pipeline = backend.create_text2text(root / folder, devices[label])
            ids = pipeline.encode("Once upon a time")
            result = pipeline(text2text.GenerationInput(token_ids=tuple(ids)), text2text.GenerationConfig.exact(16))
            report[f"{label} {folder}"] = {"ids": result.token_ids, "ran_on": pipeline.actual_device}
        except ModelError as exc:
            report[f"{label} {folder}"] = {"refused": " ".join(str(exc).split())}
print(json.dumps(report))
"""


def test_the_openvino_ep_runs_the_builders_export_and_refuses_standard_attention() -> None:
    """onnxruntime-openvino 1.24 (its own environment): the builder's GroupQueryAttention graph runs and agrees
    with the CPU EP; OpenVINO's ONNX frontend refuses the opset-23 Attention op at session creation."""
    python = require_ovep_python()
    proc = run_python(OVEP_SCRIPT.replace("sys.argv[1]", repr(str(LLM))), python=python,
                      env=clean_env(PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src")), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["CPU:OpenVINO onnxruntime_genai"]["ran_on"] == "OpenVINOExecutionProvider"
    assert report["CPU:OpenVINO onnxruntime_genai"]["ids"] == report["CPU onnxruntime_genai"]["ids"]
    assert report["CPU onnx"]["ids"] == report["CPU onnxruntime_genai"]["ids"]
    assert "does not support the following ONNX operations: Attention" in report["CPU:OpenVINO onnx"]["refused"]
