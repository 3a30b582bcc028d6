"""The three precisions of quantized models, on the real runtimes: int4 reads int4 on both, f32 reads float32.

The int4/int8 models are the bundled tiny-llm quantized in the test's folder (support.quantized): MatMulNBits for
onnxruntime-genai, u4/i8 Constants with NNCF's decompression subgraph for OpenVINO. Both runtimes load and run them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from support.quantized import openvino_compressed, ort_genai_quantized

from genai_harness.backends import numerics as nx
from genai_harness.backends import weight_precision as wp
from genai_harness.errors import NumericsError
from genai_harness.factories import DeviceFactory, Text2TextPipelineFactory
from genai_harness.interface.text2text import GenerationConfig
from genai_harness.workloads.catalog import MODELS_DIR

onnx = pytest.importorskip("onnx")
openvino = pytest.importorskip("openvino")
pytest.importorskip("openvino_genai")
pytest.importorskip("onnxruntime_genai")

LLM = MODELS_DIR / "tiny-llm"
ORT, OV = "onnxruntime_genai", "openvino.genai"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("quantized")
    return {
        "ort-int4-asym": ort_genai_quantized(root / "ort-int4-asym", block=32, symmetric=False, accuracy_level=4),
        "ort-int4-sym": ort_genai_quantized(root / "ort-int4-sym", block=64, symmetric=True, accuracy_level=0),
        "ov-u4": openvino_compressed(root / "ov-u4", kind="u4", group=32),
        "ov-i8": openvino_compressed(root / "ov-i8", kind="i8", group=32),
    }


def cpu(framework: str, **request: Any) -> Any:
    device = DeviceFactory.select(framework, "CPU")
    return dataclasses.replace(device, config={**device.config, **request})


def load(framework: str, path: Path, **request: Any) -> Any:
    return Text2TextPipelineFactory.create(framework, path, cpu(framework, **request))


def generates(pipeline: Any) -> None:
    """The model is real: it generates the forced number of tokens."""
    result = pipeline("hello world", GenerationConfig(max_new_tokens=6, min_new_tokens=6))
    assert len(result.token_ids) == 6


def test_an_int4_model_reads_int4_on_both_runtimes(models: dict[str, Path]) -> None:
    ort = load(ORT, models["ort-int4-asym"])
    ov = load(OV, models["ov-u4"])
    assert ort.numerics.weight_precision.startswith("int4 asym, block 32 (MatMulNBits), ")
    assert ov.numerics.weight_precision.startswith("int4 asym, group 32 (u4), ")
    # the storage dtype is not the precision: MatMulNBits packs int4 in uint8
    assert "u8" in ort.numerics.weight_dtypes and "int8" not in ort.numerics.weight_precision
    for pipeline in (ort, ov):
        details = pipeline.numerics.details["weight_precision"]
        assert details["precision"] == "int4" and details["schemes"][0]["symmetric"] is False
        assert details["schemes"][0]["share"] > 0.7  # the embedding stays float32
        generates(pipeline)


def test_the_f32_model_reads_float32_on_both_runtimes() -> None:
    for framework, folder in ((ORT, "onnxruntime_genai"), (OV, "openvino")):
        numerics = load(framework, LLM / folder).numerics
        assert numerics.weight_precision == "float32", framework
        assert numerics.details["weight_precision"]["schemes"][0]["share"] == 1.0


def test_symmetric_blocks_and_int8_groups_are_told_apart(models: dict[str, Path]) -> None:
    sym = load(ORT, models["ort-int4-sym"]).numerics
    assert sym.weight_precision.startswith("int4 sym, block 64 (MatMulNBits)")
    i8 = load(OV, models["ov-i8"])
    assert i8.numerics.weight_precision.startswith("int8 sym, group 32 (i8)")
    generates(i8)


def test_matmulnbits_accuracy_level_is_the_compute_precision(models: dict[str, Path]) -> None:
    """accuracy_level 4 quantizes activations to int8; level 0 computes in the activations' float type."""
    assert load(ORT, models["ort-int4-asym"]).numerics.precision == "int8"
    assert load(ORT, models["ort-int4-sym"]).numerics.precision == "f32"
    assert load(ORT, LLM / "onnxruntime_genai").numerics.precision == "f32"


def test_the_onnx_reader_agrees_with_the_onnx_package(models: dict[str, Path]) -> None:
    model = onnx.load(str(models["ort-int4-asym"] / "model.onnx"), load_external_data=False)
    nbits = [n for n in model.graph.node if n.op_type == "MatMulNBits"]
    attrs = [{a.name: a.i for a in n.attribute} for n in nbits]
    weights, inputs = wp.onnx_weight_precision(models["ort-int4-asym"] / "model.onnx")
    assert sum(weights.schemes[s] for s in weights.schemes if s.precision == "int4") == sum(
        a["K"] * a["N"] for a in attrs)
    assert {a["block_size"] for a in attrs} == {32} and weights.extra["accuracy_level"] == 4
    past = {i.name: i.type.tensor_type.elem_type for i in model.graph.input if i.name.startswith("past_key_values")}
    assert past and set(past.values()) == {onnx.TensorProto.FLOAT}
    assert wp.kv_cache_dtype(inputs) == "f32"


def test_kv_cache_precision_is_read_back_from_each_runtime(models: dict[str, Path], tmp_path: Path) -> None:
    """OpenVINO: KV_CACHE_PRECISION as the plugin resolves it: the IR's own rt_info runtime_options where the export
    wrote one (optimum-intel writes f16 here), else the device's default (u8 on some CPUs, f16 or bf16 on others);
    onnxruntime-genai: the decoder's past_key_values type."""
    from genai_harness.backends.ov_genai_numerics import runtime_options

    device_default = nx.kv_cache_word(openvino.Core().get_property("CPU", "KV_CACHE_PRECISION"))
    for path in (LLM / "openvino", models["ov-u4"]):
        from_ir = runtime_options(path / "openvino_model.xml").get("KV_CACHE_PRECISION")
        assert from_ir is not None  # the bundled export carries one
        assert load(OV, path).numerics.kv_cache_precision == nx.kv_cache_word(from_ir)
    bare = tmp_path / "bare"
    openvino_compressed(bare)
    xml = bare / "openvino_model.xml"
    text = xml.read_text()
    xml.write_text(text.replace(text[text.index("<runtime_options>"):text.index("</runtime_options>") + 18], ""))
    assert runtime_options(xml) == {}
    assert load(OV, bare).numerics.kv_cache_precision == device_default
    assert load(OV, models["ov-u4"], precision="f32").numerics.kv_cache_precision == "f32"
    assert load(ORT, models["ort-int4-asym"]).numerics.kv_cache_precision == "f32"


def test_a_refusal_advises_only_what_precision_accepts_and_that_is_honoured(models: dict[str, Path]) -> None:
    with pytest.raises(NumericsError, match=r"computed at int8; .* run with precision default or int8$") as info:
        load(ORT, models["ort-int4-asym"], precision="f32")
    assert info.value.exit_code == 15
    honoured = load(ORT, models["ort-int4-asym"], precision="int8")
    nx.check_honoured(ORT, honoured.device.config, honoured.numerics)
    assert load(ORT, models["ort-int4-sym"], precision="f32").numerics.precision == "f32"
    with pytest.raises(NumericsError, match=r"INFERENCE_PRECISION_HINT takes a float type.*precision default or f32"):
        load(OV, models["ov-u4"], precision="int8")


def test_a_cell_reads_its_ir_once_and_a_changed_file_anew(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Weight dtypes, weight schemes and runtime options come from one parse of the IR (a real model's took 0.4 s
    read three times), the same figures as reading each alone; a file changed since is read again."""
    from genai_harness.backends import model_dtypes
    from genai_harness.backends.ov_genai_numerics import runtime_options

    ir = tmp_path / "ir"
    openvino_compressed(ir)
    xml = ir / "openvino_model.xml"
    parses: list[Any] = []
    parse = model_dtypes.ET.parse
    monkeypatch.setattr(model_dtypes.ET, "parse", lambda source, *a: parses.append(source) or parse(source, *a))
    elements, (weights, _inputs), options = wp.model_weight_elements([xml]), wp.model_weight_precision([xml]), \
        runtime_options(xml)
    assert len(parses) == 1
    assert elements == model_dtypes.parse_ir(xml).const_elements and elements["u4"] > 0  # one file's own reader agrees
    assert weights.precision == "int4" and "KV_CACHE_PRECISION" in options
    text = xml.read_text()
    xml.write_text(text.replace(text[text.index("<runtime_options>"):text.index("</runtime_options>") + 18], ""))
    assert runtime_options(xml) == {} and len(parses) == 3
