"""Generated text equals Hugging Face's decode of the same ids, on onnxruntime-genai as on openvino-genai.

onnxruntime-genai's own decoders stop at, or drop the characters after, an invalid UTF-8 sequence (lone byte tokens,
which random weights and truncated generations emit); the pipeline decodes a byte-level BPE from its tokenizer.json.
The reference is tests/data/golden_byte_level_decode.json, made by Hugging Face ``tokenizers`` (make_golden.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from genai_harness.backends.byte_level import ByteLevelDecoder
from genai_harness.factories import DeviceFactory, Text2TextPipelineFactory
from genai_harness.interface.text2text import GenerationConfig
from genai_harness.workloads.catalog import MODELS_DIR

pytest.importorskip("onnxruntime_genai")
pytest.importorskip("openvino_genai")

GOLDEN = json.loads((Path(__file__).parents[1] / "data" / "golden_byte_level_decode.json").read_text("utf-8"))
LLM = MODELS_DIR / "tiny-llm"


@pytest.fixture(scope="module")
def pipelines() -> dict[str, object]:
    return {fw: Text2TextPipelineFactory.create(fw, LLM / folder, DeviceFactory.select(fw, "CPU"))
            for fw, folder in (("onnxruntime_genai", "onnxruntime_genai"), ("openvino.genai", "openvino"))}


def test_the_golden_cases_hold_lone_bytes() -> None:
    """The reference exercises the defect: texts with U+FFFD and text after it."""
    texts = [text for _ids, text in GOLDEN["cases"]]
    assert GOLDEN["cases"][0][1] == "hello world\ufffdhello world\ufffd\ufffdhello worldhe"
    assert sum("\ufffd" in t for t in texts) > 50 and len(texts) == 300


def test_onnxruntime_genai_text_equals_hugging_face(pipelines: dict[str, object]) -> None:
    ort = pipelines["onnxruntime_genai"]
    wrong = [(ids, text, ort.decode(ids)) for ids, text in GOLDEN["cases"] if ort.decode(ids) != text]
    assert not wrong, wrong[:3]


def test_openvino_text_equals_hugging_face_but_for_runs_of_replacement_characters(pipelines: dict[str, object]
                                                                                   ) -> None:
    """openvino-tokenizers writes one U+FFFD where Hugging Face writes one per invalid sequence (F6 AF: two)."""
    ov = pipelines["openvino.genai"]

    def runs(text: str) -> str:
        return re.sub("\ufffd+", "\ufffd", text)

    assert all(runs(ov.decode(ids)) == runs(text) for ids, text in GOLDEN["cases"])
    assert ov.decode(GOLDEN["cases"][1][0]) == " com worears ariendpe\ufffd ast" != GOLDEN["cases"][1][1]


def test_a_generated_text_is_the_decode_of_its_ids_on_both_runtimes(pipelines: dict[str, object]) -> None:
    config = GenerationConfig(max_new_tokens=48, min_new_tokens=48)
    decoder = ByteLevelDecoder.from_folder(LLM / "onnxruntime_genai")
    assert decoder is not None
    for pipeline in pipelines.values():
        result = pipeline("Once upon a time", config)
        assert result.text == decoder.decode(result.token_ids) or pipeline.framework == "openvino.genai"
        assert re.sub("\ufffd+", "\ufffd", result.text) == re.sub("\ufffd+", "\ufffd", decoder.decode(result.token_ids))


def test_a_tokenizer_that_is_no_byte_level_bpe_keeps_the_runtimes_decoder(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"type": "Unigram", "vocab": []},
                                                         "decoder": {"type": "Metaspace"}}))
    assert ByteLevelDecoder.from_folder(tmp_path) is None
    assert ByteLevelDecoder.from_folder(tmp_path / "missing") is None
    (tmp_path / "tokenizer.json").write_text("{not json")
    assert ByteLevelDecoder.from_folder(tmp_path) is None
