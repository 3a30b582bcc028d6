"""Every backend against its real runtime: streaming, timestamps, native metrics, typed errors,
truthful devices and agreement across execution providers.

The OpenVINO EP lives in its own environment (.venvs/ort-openvino, see tests/support); the tests that need it
run a short script there with PYTHONPATH=src and are marked ``ovep``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import (
    OVEP_ENV,
    REPO,
    assert_one_error_line,
    clean_env,
    require_ovep_python,
    run_cli,
)

from genai_harness.config import HarnessConfig
from genai_harness.errors import (
    DeviceUnavailableError,
    GenerationError,
    ModelError,
    ModelFormatError,
    TaskNotSupportedError,
)
from genai_harness.factories import (
    ClassificationPipelineFactory,
    DeviceFactory,
    Text2ImagePipelineFactory,
    Text2TextPipelineFactory,
)
from genai_harness.interface import Device, text2image, text2text
from genai_harness.interface.classification import ClassificationConfig
from genai_harness.workloads.catalog import MODELS_DIR, Catalog

pytest.importorskip("onnxruntime_genai")
pytest.importorskip("openvino_genai")

LLM = MODELS_DIR / "tiny-llm"
SD = MODELS_DIR / "tiny-sd"
LLM_FOLDERS = {"onnxruntime_genai": LLM / "onnxruntime_genai", "openvino.genai": LLM / "openvino",
               "onnxruntime": LLM / "onnx"}
SD_FOLDERS = {"onnxruntime": SD / "onnx", "openvino.genai": SD / "openvino"}
TEXT_FRAMEWORKS = sorted(LLM_FOLDERS)
PROMPT = "Once upon a time"
N = 24


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return Catalog(HarnessConfig(tmp_path_factory.mktemp("cfg") / "genai-harness.toml"))


@pytest.fixture(scope="module")
def llms() -> dict[str, text2text.Pipeline]:
    return {fw: Text2TextPipelineFactory.create(fw, path, "CPU") for fw, path in LLM_FOLDERS.items()}


@pytest.fixture(scope="module")
def reference(llms: dict[str, text2text.Pipeline]) -> dict[str, text2text.GenerationResult]:
    """One plain __call__ per backend: what streaming must reproduce."""
    return {fw: p(PROMPT, text2text.GenerationConfig.exact(N)) for fw, p in llms.items()}


def light_model(catalog: Catalog, model_id: str) -> Path:
    return catalog.get(model_id).format_for("onnx", "onnxruntime").path


# ---- text: streaming, timestamps, native metrics ------------------------------------------------------------------

@pytest.mark.parametrize("framework", TEXT_FRAMEWORKS)
def test_call_gives_exactly_n_tokens_with_monotone_timestamps(reference: dict[str, Any], framework: str) -> None:
    result = reference[framework]
    assert len(result.token_ids) == len(result.token_ns) == N
    stamps = [result.start_ns, *result.token_ns, result.end_ns]
    assert stamps == sorted(stamps), "clock readings must not go backwards"
    assert result.start_ns < result.token_ns[0] and result.token_ns[-1] <= result.end_ns
    assert result.text and isinstance(result.text, str)


@pytest.mark.parametrize("framework", TEXT_FRAMEWORKS)
def test_generator_streams_the_same_ids_as_call(llms: dict[str, Any], reference: dict[str, Any],
                                                framework: str) -> None:
    pipeline = llms[framework]
    generator = pipeline.create_generator(text2text.GenerationConfig.exact(N))
    generator.append_input_tokens(PROMPT)
    ids = []
    while not generator.is_done():
        ids.append(generator.generate_next_token())
        assert len(ids) <= N, "the generator runs past max_new_tokens"
    assert ids == reference[framework].token_ids
    assert generator.is_done()
    with pytest.raises(GenerationError, match="generation is done"):
        generator.generate_next_token()


@pytest.mark.parametrize("framework", TEXT_FRAMEWORKS)
def test_generator_takes_token_ids_in_pieces(llms: dict[str, Any], reference: dict[str, Any], framework: str) -> None:
    pipeline = llms[framework]
    ids = pipeline.encode(PROMPT)
    generator = pipeline.create_generator(text2text.GenerationConfig.exact(N))
    generator.append_input_tokens(ids[:2])
    generator.append_input_tokens(ids[2:])
    out = []
    while not generator.is_done():
        out.append(generator.generate_next_token())
    assert out == reference[framework].token_ids


@pytest.mark.parametrize("framework", TEXT_FRAMEWORKS)
def test_stream_yields_the_same_ids_as_call(llms: dict[str, Any], reference: dict[str, Any], framework: str) -> None:
    streamed = list(llms[framework].stream(PROMPT, text2text.GenerationConfig.exact(N)))
    assert streamed == reference[framework].token_ids
    by_ids = list(llms[framework].stream(text2text.GenerationInput(token_ids=tuple(llms[framework].encode(PROMPT))),
                                         text2text.GenerationConfig.exact(N)))
    assert by_ids == streamed


@pytest.mark.parametrize("framework", TEXT_FRAMEWORKS)
def test_default_generation_config_is_used_and_replaceable(llms: dict[str, Any], reference: dict[str, Any],
                                                           framework: str) -> None:
    pipeline = llms[framework]
    saved = pipeline.get_generation_config()
    try:
        pipeline.set_generation_config(text2text.GenerationConfig.exact(5))
        assert pipeline(PROMPT).token_ids == reference[framework].token_ids[:5]
    finally:
        pipeline.set_generation_config(saved)


def test_openvino_native_metrics_sit_beside_ours(reference: dict[str, Any]) -> None:
    result = reference["openvino.genai"]
    native = result.native_metrics
    assert native["ov_num_generated_tokens"] == N
    assert native["ov_num_input_tokens"] == len(result.input_token_ids)
    assert native["ov_ttft_ms"] > 0 and native["ov_tpot_ms"] > 0 and native["ov_load_ms"] > 0
    ours_e2e_ms = (result.end_ns - result.start_ns) / 1e6
    assert native["ov_generate_ms"] <= ours_e2e_ms * 1.5 + 5, (native, ours_e2e_ms)
    assert "token_times" in native and "no streamer" in native["token_times"]


def test_openvino_token_times_are_the_runtimes_own_without_a_streamer(reference: dict[str, Any]) -> None:
    """__call__ runs openvino-genai without a Python callback: the per-token times are its raw_metrics', placed
    on our clock; they bracket the call and give the TPOT openvino-genai itself reports."""
    result = reference["openvino.genai"]
    native = result.native_metrics
    assert result.start_ns < result.token_ns[0] <= result.token_ns[-1] <= result.end_ns
    ours_tpot_ms = (result.token_ns[-1] - result.token_ns[0]) / 1e6 / (N - 1)
    # openvino-genai's TPOT averages the N token durations (the first one included); ours the N-1 gaps.
    assert ours_tpot_ms == pytest.approx(native["ov_tpot_ms"], rel=0.5), (ours_tpot_ms, native["ov_tpot_ms"])


def test_onnxruntime_genai_records_the_span_its_own_benchmark_reports(reference: dict[str, Any]) -> None:
    """Beside our TTFT (Generator creation included: what a user waits for), the prompt-processing span of
    onnxruntime-genai's benchmark_e2e.py (append_tokens alone), so either comparison can be made."""
    result = reference["onnxruntime_genai"]
    native = result.native_metrics
    ttft_ms = (result.token_ns[0] - result.start_ns) / 1e6
    assert native["ortg_generator_create_ms"] > 0 and native["ortg_prompt_processing_ms"] > 0
    assert native["ortg_generator_create_ms"] + native["ortg_prompt_processing_ms"] < ttft_ms


def test_onnxruntime_genai_text_comes_out_whole(llms: dict[str, Any]) -> None:
    """Random weights emit byte tokens in any order: Tokenizer.decode stops at the first invalid UTF-8, the
    streaming decoder (used by the backend) goes on, so the text of every token is there."""
    pipeline = llms["onnxruntime_genai"]
    ids = [1898, 1438, 531, 256, 1887, 1642, 1974, 1306, 1276, 1982, 577, 1160]  # found by a random search
    whole = pipeline.decode(ids)
    import onnxruntime_genai as og

    cut = og.Tokenizer(pipeline._model).decode(ids)
    assert len(whole) > len(cut) + 10, (whole, cut)
    assert whole.startswith(cut.rstrip("\ufffd"))
    assert whole.endswith(pipeline.decode(ids[-3:]).strip()[-3:])


@pytest.mark.parametrize("framework", TEXT_FRAMEWORKS)
def test_back_to_back_streams_never_overlap_in_the_runtime(llms: dict[str, Any], reference: dict[str, Any],
                                                           framework: str) -> None:
    """A stream that has yielded its last token returns only once the runtime's generate call has returned.

    Before, the next generation could start while openvino-genai was still finishing the previous one, and
    it failed now and then with ``vector::_M_range_check`` (5 in 40 back-to-back pairs on a 2-core EPYC)."""
    config = text2text.GenerationConfig.exact(N)
    ids = tuple(llms[framework].encode(PROMPT))
    for _ in range(15):
        assert list(llms[framework].stream(PROMPT, config)) == reference[framework].token_ids
        assert list(llms[framework].stream(text2text.GenerationInput(token_ids=ids), config)) == \
            reference[framework].token_ids


# ---- images and classification: timestamps and what ran -----------------------------------------------------------

@pytest.mark.parametrize("framework", sorted(SD_FOLDERS))
def test_image_steps_are_timed(framework: str) -> None:
    pipeline = Text2ImagePipelineFactory.create(framework, SD_FOLDERS[framework], "CPU")
    config = text2image.GenerationConfig(image_width=32, image_height=32, num_inference_steps=3,
                                         num_images_per_prompt=2, rng_seed=3)
    result = pipeline("a house", config)
    assert result.tensor.shape == (2, 32, 32, 3) and result.tensor.dtype == np.uint8
    assert len(result.step_ns) == 3
    stamps = [result.start_ns, *result.step_ns, result.end_ns]
    assert stamps == sorted(stamps)
    if framework == "openvino.genai":
        assert result.native_metrics["ov_generate_ms"] > 0


@pytest.mark.parametrize("framework", ["onnxruntime", "openvino.genai"])
@pytest.mark.parametrize("model_id", ["squeezenet", "resnet50"])
def test_classifier_runs_a_batch_where_it_says(catalog: Catalog, framework: str, model_id: str) -> None:
    pipeline = ClassificationPipelineFactory.create(framework, light_model(catalog, model_id), "CPU")
    assert pipeline.input_shape == (3, 224, 224)
    batch = pipeline.make_batch(ClassificationConfig(batch_size=2, rng_seed=1))
    result = pipeline(batch)
    assert result.logits.shape[0] == 2 and result.top1().shape == (2,)
    assert result.start_ns < result.end_ns
    if framework == "onnxruntime":
        assert pipeline.actual_device == "CPUExecutionProvider"
    else:
        assert pipeline.execution_devices == ["CPU"]


# ---- errors, each its own type -------------------------------------------------------------------------------------

def test_a_model_without_the_framework_format_is_a_model_format_error(catalog: Catalog) -> None:
    with pytest.raises(ModelFormatError, match=r"'tiny-sd' has no onnxruntime_genai format .*it has: onnxruntime, "
                                               r"openvino.*rebuild the bundled models"):
        catalog.get("tiny-sd").format_for("onnxruntime_genai", "onnxruntime_genai")
    with pytest.raises(ModelFormatError, match=r"has no openvino format .*it has: none.*genai-harness models add "
                                               r"phi-3.5-mini-instruct --framework openvino.genai"):
        catalog.get("phi-3.5-mini-instruct").format_for("openvino", "openvino.genai")
    with pytest.raises(ModelError, match=r"unknown model 'nope'.*tiny-llm"):
        catalog.get("nope")
    assert issubclass(ModelFormatError, ModelError) and ModelFormatError.exit_code == 3


@pytest.mark.parametrize(("factory", "framework", "path", "task"), [
    (Text2ImagePipelineFactory, "onnxruntime_genai", SD / "onnx", "text2image"),
    (ClassificationPipelineFactory, "onnxruntime_genai", SD / "onnx" / "unet" / "model.onnx", "classification"),
])
def test_a_task_the_backend_does_not_do_is_task_not_supported(factory: Any, framework: str, path: Path,
                                                              task: str) -> None:
    with pytest.raises(TaskNotSupportedError, match=rf"^{framework} does not do {task}; it does "):
        factory.create(framework, path, "CPU")


@pytest.mark.parametrize(("framework", "selector"), [
    ("openvino.genai", "GPU"), ("openvino.genai", "NPU"), ("onnxruntime", "GPU"), ("onnxruntime_genai", "GPU:CUDA"),
])
def test_an_unusable_device_is_unavailable_with_the_runtime_reason(framework: str, selector: str) -> None:
    described = [d for d in DeviceFactory.describe(framework) if d.matches(selector)]
    assert described, f"{framework} does not even list {selector}"
    if any(d.available for d in described):
        pytest.skip(f"this machine has a usable {selector} for {framework}")
    with pytest.raises(DeviceUnavailableError) as info:
        DeviceFactory.select(framework, selector)
    message = str(info.value)
    assert f"device {selector!r} of {framework} is not usable here" in message
    for device in described:
        assert device.reason and device.reason in message  # the runtime's own words, not ours


def test_the_openvino_gpu_reason_is_the_plugin_load_error() -> None:
    gpu = [d for d in DeviceFactory.describe("openvino.genai") if d.identifier == "GPU"]
    if not gpu or gpu[0].available:
        pytest.skip("this machine has an OpenVINO GPU")
    reason = gpu[0].reason
    assert "gpu" in reason.lower() and ("OpenCL" in reason or "no device" in reason), reason


def test_an_unknown_device_lists_the_usable_ones() -> None:
    with pytest.raises(DeviceUnavailableError, match=r"unknown device 'TPU' for openvino.genai; usable devices: "
                                                     r".*CPU"):
        DeviceFactory.select("openvino.genai", "TPU")


@pytest.mark.parametrize("factory", [Text2TextPipelineFactory, Text2ImagePipelineFactory])
def test_openvino_refuses_a_hand_made_device_it_does_not_have(factory: Any) -> None:
    """Bypassing select: the pipeline itself checks the device against available_devices."""
    present = __import__("openvino").Core().available_devices
    if "GPU" in present:
        pytest.skip("this machine has an OpenVINO GPU")
    path = LLM_FOLDERS["openvino.genai"] if factory is Text2TextPipelineFactory else SD_FOLDERS["openvino.genai"]
    device = Device("GPU", config={"device": "GPU", "properties": {}}, framework="openvino.genai")
    with pytest.raises(DeviceUnavailableError, match=r"OpenVINO has no device 'GPU' here; available_devices = "):
        factory.create("openvino.genai", path, device)


@pytest.mark.parametrize("framework", TEXT_FRAMEWORKS)
def test_an_empty_prompt_is_a_generation_error_in_the_runtimes_words(llms: dict[str, Any], framework: str) -> None:
    config = text2text.GenerationConfig.exact(4)
    with pytest.raises(GenerationError, match=rf"(?s)^{framework} failed during generation: .*(empty|length)"):
        llms[framework](text2text.GenerationInput(token_ids=()), config)
    # the same type through the streaming path
    with pytest.raises(GenerationError, match=r"(?s)(empty|length cannot be 0)"):
        list(llms[framework].stream(text2text.GenerationInput(token_ids=()), config))


def test_an_out_of_vocabulary_id_fails_inside_onnxruntime_genai(llms: dict[str, Any]) -> None:
    """(openvino-genai's Gather returns zeros for it instead: no error to test there.)"""
    pipeline, bad = llms["onnxruntime_genai"], text2text.GenerationInput(token_ids=(5000,))
    with pytest.raises(GenerationError, match=r"onnxruntime_genai failed during generation: .*out of data bounds"):
        pipeline(bad, text2text.GenerationConfig.exact(2))
    with pytest.raises(GenerationError, match=r"onnxruntime_genai failed during generation \(prefill\): .*out of data"):
        list(pipeline.stream(bad, text2text.GenerationConfig.exact(2)))


@pytest.mark.parametrize("framework", TEXT_FRAMEWORKS)
def test_a_started_generator_takes_no_more_input(llms: dict[str, Any], framework: str) -> None:
    generator = llms[framework].create_generator(text2text.GenerationConfig.exact(3))
    generator.append_input_tokens(PROMPT)
    generator.generate_next_token()
    with pytest.raises(GenerationError, match="appending after the first token is not supported"):
        generator.append_input_tokens(" more")


@pytest.mark.parametrize("framework", TEXT_FRAMEWORKS)
def test_the_context_length_is_enforced_the_same_way_on_both(llms: dict[str, Any], framework: str) -> None:
    """tiny-llm has a 4096-token context: exactly 4096 runs, one more is refused before generation."""
    pipeline = llms[framework]
    ids = tuple(pipeline.encode("the cat sat on the mat. " * 900))[:4092]
    assert len(ids) == 4092
    result = pipeline(text2text.GenerationInput(token_ids=ids), text2text.GenerationConfig.exact(4))
    assert len(result.token_ids) == 4
    with pytest.raises(ModelError, match=r"prompt of 4092 tokens \+ 5 new exceeds the model's context of 4096"):
        pipeline(text2text.GenerationInput(token_ids=ids), text2text.GenerationConfig.exact(5))


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Copies of the bundled models with one file cut in half."""
    root = tmp_path_factory.mktemp("corrupted")
    cases = {"onnxruntime_genai": (LLM_FOLDERS["onnxruntime_genai"], "model.onnx"),
             "openvino.genai": (LLM_FOLDERS["openvino.genai"], "openvino_model.bin"),
             "onnxruntime": (SD_FOLDERS["onnxruntime"], "unet/model.onnx"),
             "openvino.genai-sd": (SD_FOLDERS["openvino.genai"], "vae_decoder/openvino_model.bin")}
    out = {}
    for name, (source, part) in cases.items():
        target = shutil.copytree(source, root / name.replace(".", "_"))
        data = (target / part).read_bytes()
        (target / part).write_bytes(data[: len(data) // 2])
        out[name] = target
    return out


@pytest.mark.parametrize(("case", "factory", "framework", "words"), [
    ("onnxruntime_genai", Text2TextPipelineFactory, "onnxruntime_genai", "onnxruntime-genai cannot load"),
    ("openvino.genai", Text2TextPipelineFactory, "openvino.genai", "openvino-genai cannot load"),
    ("onnxruntime", Text2ImagePipelineFactory, "onnxruntime", "onnxruntime cannot load"),
    ("openvino.genai-sd", Text2ImagePipelineFactory, "openvino.genai", "openvino-genai cannot load"),
])
def test_a_corrupted_model_is_a_model_error(corrupted: dict[str, Path], case: str, factory: Any, framework: str,
                                            words: str) -> None:
    with pytest.raises(ModelError) as info:
        factory.create(framework, corrupted[case], "CPU")
    assert type(info.value) is ModelError
    assert words in str(info.value) and str(corrupted[case]) in str(info.value)


@pytest.mark.parametrize(("factory", "framework", "path", "missing"), [
    (Text2TextPipelineFactory, "openvino.genai", LLM / "onnxruntime_genai", "openvino_model.xml"),
    (Text2TextPipelineFactory, "onnxruntime_genai", LLM / "openvino", "genai_config.json"),
    (Text2ImagePipelineFactory, "onnxruntime", SD / "openvino", "text_encoder/model.onnx"),
    (Text2ImagePipelineFactory, "openvino.genai", LLM / "openvino", "model_index.json"),
])
def test_a_folder_of_another_format_names_the_missing_file(factory: Any, framework: str, path: Path,
                                                           missing: str) -> None:
    with pytest.raises(ModelError, match=missing):
        factory.create(framework, path, "CPU")


# ---- truthful devices and agreement across execution providers (the OpenVINO EP environment) ---------------------

OVEP_SCRIPT = r"""
import json, sys
import numpy as np
import onnxruntime as ort
from genai_harness import text2image
from genai_harness.interface.classification import ClassificationConfig
from genai_harness.errors import DeviceMismatchError
from genai_harness.factories import ClassificationPipelineFactory, Text2ImagePipelineFactory
from genai_harness.interface import Device

args = json.loads(sys.argv[1])
report = {"providers": ort.get_available_providers(), "raw": {}, "harness": {}}
EP = "OpenVINOExecutionProvider"
for device_type in ("NPU", "GPU", "CPU", "AUTO"):
    so = ort.SessionOptions()
    so.log_severity_level = 4
    # onnxruntime itself: no error, whatever the device_type
    session = ort.InferenceSession(args["classifiers"]["squeezenet"], sess_options=so,
                                   providers=[(EP, {"device_type": device_type}), "CPUExecutionProvider"])
    report["raw"][device_type] = session.get_providers()
    device = Device(device_type, config={"execution_provider": EP, "provider_options": {"device_type": device_type},
                                         "label_suffix": "OpenVINO"}, framework="onnxruntime",
                    environment="ort-openvino")
    try:
        pipeline = ClassificationPipelineFactory.create("onnxruntime", args["classifiers"]["squeezenet"], device)
        report["harness"][device_type] = {"ok": pipeline.actual_device}
    except DeviceMismatchError as exc:
        report["harness"][device_type] = {"error": type(exc).__name__, "message": str(exc)}

device = Device("CPU", config={"execution_provider": EP, "provider_options": {"device_type": "CPU"},
                               "label_suffix": "OpenVINO", "precision": "f32"}, framework="onnxruntime",
                environment="ort-openvino")
arrays = {}
for name, path in args["classifiers"].items():
    pipeline = ClassificationPipelineFactory.create("onnxruntime", path, device)
    arrays[name] = pipeline(pipeline.make_batch(ClassificationConfig(batch_size=2, rng_seed=11))).logits
sd = Text2ImagePipelineFactory.create("onnxruntime", args["sd"], device)
config = text2image.GenerationConfig(image_width=64, image_height=64, num_inference_steps=4, rng_seed=7)
arrays["sd"] = sd("a red cat", config).tensor
report["sd_actual"] = sd.actual_device
np.savez(args["out"], **arrays)
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def classifiers(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """squeezenet and resnet50 as shipped, and cut before their final Softmax.

    The onnx wheel's light_* models generate constant weights (0.02) in-graph, so every class gets the same
    score and the softmax output is exactly 1/1000 on any runtime: agreement there proves little. The
    pre-softmax scores are a real 50-layer computation (about 1e10 and 1e19) that differs per input item.
    """
    import onnx

    root = tmp_path_factory.mktemp("classifiers")
    paths = {}
    for model_id in ("squeezenet", "resnet50"):
        source = light_model(catalog, model_id)
        paths[model_id] = str(source)
        model = onnx.load(str(source))
        softmax = next(n for n in model.graph.node if n.op_type == "Softmax")
        model.graph.node.remove(softmax)
        del model.graph.output[:]
        output = onnx.helper.make_empty_tensor_value_info(softmax.input[0])
        output.type.tensor_type.elem_type = onnx.TensorProto.FLOAT
        model.graph.output.append(output)
        target = root / f"{model_id}-scores.onnx"
        onnx.save(model, str(target))
        paths[f"{model_id}-scores"] = str(target)
    return paths


@pytest.fixture(scope="module")
def ovep_run(classifiers: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The OpenVINO EP script's report and arrays (one subprocess in the ort-openvino venv)."""
    python = require_ovep_python()
    out = tmp_path_factory.mktemp("ovep") / "arrays.npz"
    args = {"classifiers": classifiers, "sd": str(SD_FOLDERS["onnxruntime"]), "out": str(out)}
    proc = subprocess.run([str(python), "-c", OVEP_SCRIPT, json.dumps(args)], cwd=REPO,
                          env=clean_env(PYTHONPATH=str(REPO / "src")), capture_output=True, text=True, timeout=180,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    with np.load(out) as arrays:
        report["arrays"] = {k: arrays[k] for k in arrays.files}
    return report


@pytest.fixture(scope="module")
def cpu_ep_run(classifiers: dict[str, str]) -> dict[str, np.ndarray]:
    """The same computations on the CPU EP of this (default) environment."""
    arrays = {}
    for name, path in classifiers.items():
        pipeline = ClassificationPipelineFactory.create("onnxruntime", path, "CPU")
        assert pipeline.actual_device == "CPUExecutionProvider"
        arrays[name] = pipeline(pipeline.make_batch(ClassificationConfig(batch_size=2, rng_seed=11))).logits
    sd = Text2ImagePipelineFactory.create("onnxruntime", SD_FOLDERS["onnxruntime"], "CPU")
    config = text2image.GenerationConfig(image_width=64, image_height=64, num_inference_steps=4, rng_seed=7)
    arrays["sd"] = sd("a red cat", config).tensor
    return arrays


@pytest.mark.ovep
@pytest.mark.parametrize("device_type", ["NPU", "GPU"])
def test_a_silent_openvino_ep_fallback_is_a_device_mismatch(ovep_run: dict[str, Any], device_type: str) -> None:
    if device_type in ovep_run["raw"] and "OpenVINOExecutionProvider" in ovep_run["raw"][device_type]:
        pytest.skip(f"this machine's OpenVINO EP has a {device_type}")
    # onnxruntime accepts the request without a word and runs on the CPU EP: only get_providers() tells.
    assert ovep_run["raw"][device_type] == ["CPUExecutionProvider"]
    outcome = ovep_run["harness"][device_type]
    assert outcome.get("error") == "DeviceMismatchError", outcome
    message = outcome["message"]
    assert f"asked for {device_type}:OpenVINO" in message  # requested
    assert "CPUExecutionProvider" in message and "get_providers()" in message  # actual


@pytest.mark.ovep
def test_real_openvino_ep_devices_are_accepted(ovep_run: dict[str, Any]) -> None:
    assert "OpenVINOExecutionProvider" in ovep_run["providers"]
    for device_type in ("CPU", "AUTO"):  # AUTO: a virtual device over the CPU the EP has
        assert ovep_run["raw"][device_type][0] == "OpenVINOExecutionProvider"
        assert ovep_run["harness"][device_type] == {"ok": "OpenVINOExecutionProvider"}
    assert ovep_run["sd_actual"] == "OpenVINOExecutionProvider"


@pytest.mark.ovep
@pytest.mark.parametrize("model_id", ["squeezenet", "resnet50"])
def test_classification_agrees_across_execution_providers(ovep_run: dict[str, Any], cpu_ep_run: dict[str, Any],
                                                          model_id: str) -> None:
    ov, cpu = ovep_run["arrays"], cpu_ep_run
    # Both sides in f32 (the OpenVINO EP asked for precision FP32). The shipped models end in a softmax over
    # nearly equal scores of about 1e10: a relative difference of 1e-6 between the EPs is an absolute 1e4 there,
    # so the softmax outputs are ill-conditioned (0.125 on 8 classes on one EP, 0.001 on all on the other, on a
    # 2-core AMD EPYC) and comparing them proves nothing. They must still be distributions of the right shape.
    assert ov[model_id].shape == cpu[model_id].shape and ov[model_id].shape[0] == 2
    np.testing.assert_allclose(ov[model_id].reshape(2, -1).sum(axis=1), 1.0, rtol=1e-4)
    np.testing.assert_allclose(cpu[model_id].reshape(2, -1).sum(axis=1), 1.0, rtol=1e-4)
    # Pre-softmax scores. Measured relative difference OpenVINO EP vs CPU EP: squeezenet 1.9e-6 (scores ~6.8e9),
    # resnet50 9.1e-6 (scores ~9.7e18); they are not bit-identical, so the two EPs really computed separately.
    scores_ov, scores_cpu = ov[f"{model_id}-scores"].reshape(2, -1), cpu[f"{model_id}-scores"].reshape(2, -1)
    np.testing.assert_allclose(scores_ov, scores_cpu, rtol=1e-4, atol=0)
    # The tolerance separates inputs: the two batch items differ by ~1e-3 relative.
    assert not np.allclose(scores_cpu[0], scores_cpu[1], rtol=1e-4, atol=0)


@pytest.mark.ovep
def test_tiny_sd_agrees_across_execution_providers(ovep_run: dict[str, Any], cpu_ep_run: dict[str, Any]) -> None:
    ov, cpu = ovep_run["arrays"]["sd"], cpu_ep_run["sd"]
    assert ov.shape == cpu.shape == (1, 64, 64, 3)
    d = np.abs(ov.astype(np.int16) - cpu.astype(np.int16))
    # measured: max 0, mean 0 (uint8 hides the float differences)
    assert d.max() <= 1 and d.mean() < 0.1, (d.max(), d.mean())


@pytest.mark.ovep
def test_cli_refuses_an_openvino_ep_npu_it_does_not_have(ovep_listing: dict[str, Any]) -> None:
    npu = [d for d in ovep_listing["devices"] if d["framework"] == "onnxruntime" and d["label"] == "NPU:OpenVINO"]
    if npu and npu[0]["available"]:
        pytest.skip("this machine's OpenVINO EP has an NPU")
    err = assert_one_error_line(run_cli("classify", "--model", "squeezenet", "--framework", "onnxruntime",
                                        "--device", f"NPU:OpenVINO@{OVEP_ENV}"), 5)
    assert "'NPU:OpenVINO' of onnxruntime is not usable here" in err
    assert "silently run on the CPU EP" in err


def test_openvino_scheduling_devices_are_listed_and_run(catalog: Catalog) -> None:
    """AUTO, HETERO and MULTI over the physical devices; AUTO reports the device it really chose."""
    import openvino

    present = list(openvino.Core().available_devices)
    devices = {d.identifier: d for d in DeviceFactory.describe("openvino.genai")}
    for name in ("AUTO", f"HETERO:{','.join(present)}", f"MULTI:{','.join(present)}"):
        assert name in devices and devices[name].available and devices[name].config["virtual"]
    classifier = ClassificationPipelineFactory.create("openvino.genai", light_model(catalog, "squeezenet"), "AUTO")
    assert classifier.actual_device in present  # EXECUTION_DEVICES, not the word AUTO
    result = classifier(classifier.make_batch(ClassificationConfig(batch_size=2)))
    assert result.logits.shape[0] == 2


def test_onnxruntime_runs_through_get_ep_devices_as_well_as_provider_names(catalog: Catalog) -> None:
    """The add_provider_for_devices path (how plugin EPs are reached) gives the same session and logits."""
    import dataclasses

    model = light_model(catalog, "squeezenet")
    by_name = DeviceFactory.select("onnxruntime", "CPU")
    assert by_name.config["ep_device"]["ep_name"] == "CPUExecutionProvider"
    by_ep_device = dataclasses.replace(by_name, config={**by_name.config, "use_ep_devices": True})
    a = ClassificationPipelineFactory.create("onnxruntime", model, by_name)
    b = ClassificationPipelineFactory.create("onnxruntime", model, by_ep_device)
    batch = a.make_batch(ClassificationConfig(batch_size=2))
    assert b.actual_device == "CPUExecutionProvider"
    np.testing.assert_array_equal(a(batch).logits, b(batch).logits)
    gone = dataclasses.replace(by_ep_device, config={**by_ep_device.config, "ep_device": {
        "ep_name": "VendorNpuExecutionProvider", "type": "NPU", "vendor_id": 1, "device_id": 2}})
    with pytest.raises(DeviceUnavailableError, match="no longer offers the EP device"):
        ClassificationPipelineFactory.create("onnxruntime", model, gone)
