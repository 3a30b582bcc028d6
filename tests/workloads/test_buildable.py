"""The catalog of buildable models (pure data and checks)."""

from __future__ import annotations

import pytest

from genai_harness.errors import ConfigurationError
from genai_harness.workloads.buildable import (
    BUILDABLE,
    RANDOM_WEIGHTS,
    buildable,
    export_variants,
    family_of,
    missing_exports,
    shortfall,
)


def test_every_buildable_model_has_float32_and_int4_on_both_runtimes() -> None:
    for model in BUILDABLE.values():
        by_weights = {v.weights: v for v in model.variants if not v.exporter}
        assert {"float32", "int4"} <= set(by_weights)
        assert set(by_weights["int4"].formats) == {"onnxruntime_genai", "openvino"}
        assert by_weights["float32"].model_id == model.id
        assert (model.weights_label == RANDOM_WEIGHTS) is (not model.real_weights)
        assert model.real_weights or RANDOM_WEIGHTS in model.description


def test_family_of_a_variant() -> None:
    assert family_of("smollm2-135m-int4") == ("smollm2-135m", "real weights")
    assert family_of("qwen2.5-0.5b-shape") == ("qwen2.5-0.5b-shape", RANDOM_WEIGHTS)
    assert family_of("tiny-llm") is None


def test_unknown_model_is_one_line_naming_those_there_are() -> None:
    with pytest.raises(ConfigurationError, match=r"smollm2-135m, qwen2\.5-0\.5b-shape"):
        buildable("gpt-5")


@pytest.mark.parametrize(("disk", "memory", "reason"), [
    (1.0, 32.0, "needs 2.2 GB of disk"), (100.0, 1.0, "needs 3.0 GB of memory"), (100.0, None, None),
    (100.0, 32.0, None)])
def test_shortfall(disk: float, memory: float | None, reason: str | None) -> None:
    why = shortfall(2.2, disk, 3.0, memory, "/cache")
    assert (why is None) if reason is None else (reason in why)


def test_the_export_matrix_variants_are_asked_for_separately() -> None:
    model = buildable("smollm2-135m")
    assert [v.model_id for v in export_variants(model)] == ["smollm2-135m-mobius", "smollm2-135m-mobius-ov"]
    core = {v.folder: {fmt: {"folder": f"{v.folder}/{fmt}"} for fmt in v.formats}
            for v in model.variants if not v.exporter}
    assert missing_exports(model, {"variants": core}, exports=False) == []
    assert missing_exports(model, {"variants": core}, exports=True) == [
        "float32-mobius-standard/onnxruntime_genai", "float32-mobius-openvino/onnxruntime_genai"]
    failed = {**core, "float32-mobius-standard": {"onnxruntime_genai": {"failed": "boom"}},
              "float32-mobius-openvino": {"onnxruntime_genai": {"failed": "boom"}}}
    assert missing_exports(model, {"variants": failed}, exports=False) == []
    assert len(missing_exports(model, {"variants": failed}, exports=True)) == 2  # asked again: retried
    del core["int4"]
    assert missing_exports(model, {"variants": core}, exports=False) == ["int4/onnxruntime_genai", "int4/openvino"]
