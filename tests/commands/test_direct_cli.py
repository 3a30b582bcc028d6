"""`genai-harness generate`, `imagine` and `classify`: one real backend, one device, one call.

Each command runs as a real subprocess from the checkout (so genai-harness.toml and its ort-openvino
environment count); the work itself runs in a worker process of the selected environment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from support import OVEP_ENV, assert_one_error_line, run_cli

pytest.importorskip("onnxruntime_genai")
pytest.importorskip("openvino_genai")

N = 8
PROMPT = "Once upon a time"
BUNDLED = "src/genai_harness/workloads/models/tiny-llm"


@pytest.fixture(scope="module", params=["onnxruntime_genai", "openvino.genai"])
def generated(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    framework = request.param
    proc = run_cli("generate", "--model", "tiny-llm", "--framework", framework, "--device", "CPU",
                   "--prompt", PROMPT, "--max-new-tokens", str(N), "--json")
    assert proc.returncode == 0, proc.stderr
    return framework, json.loads(proc.stdout)


def test_generate_json_has_ids_text_times_and_metrics(generated: tuple[str, dict[str, Any]]) -> None:
    framework, answer = generated
    assert len(answer["token_ids"]) == N and all(isinstance(t, int) for t in answer["token_ids"])
    assert isinstance(answer["text"], str) and answer["text"]
    times = answer["token_times_ms"]
    assert len(times) == N and times[0] > 0 and times == sorted(times)
    metrics = answer["metrics"]
    assert metrics["n_new_tokens"] == N and metrics["n_input_tokens"] == len(answer["input_token_ids"]) > 0
    assert metrics["ttft_ms"] == pytest.approx(times[0])
    assert metrics["tpot_ms"] == pytest.approx((times[-1] - times[0]) / (N - 1))
    assert metrics["e2e_ms"] >= times[-1] and metrics["decode_tps"] > 0
    assert answer["device"]["framework"] == framework and answer["device"]["label"] == "CPU"
    assert answer["environment"] == "default" and answer["load_s"] > 0 and answer["peak_rss_mb"] > 10
    if framework == "openvino.genai":
        assert answer["native_metrics"]["ov_num_generated_tokens"] == N
        assert answer["actual_device"] == "CPU"


def test_generate_plain_output_names_tokens_and_device() -> None:
    proc = run_cli("generate", "--model", "tiny-llm", "--framework", "onnxruntime_genai", "--prompt", PROMPT,
                   "--max-new-tokens", "3")
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stdout.splitlines() if line.startswith("-- ")]
    assert notes[0].startswith("-- 3 tokens on CPU (CPU), load ") and "peak RSS" in notes[0]
    assert notes[1].startswith("-- cold call: ttft_ms") and "tpot_ms" in notes[1]
    assert notes[2].startswith("-- precision f32, ") and "weights float32 (stored as f32,i64)" in notes[2], notes[2]
    assert notes[2].endswith(", KV cache f32")
    assert notes[3] == "-- prompt: sent as it is (the model has no chat template)"
    assert notes[4].startswith("-- timed: one cold call, the first after load") and "--repeat N" in notes[4]


CHAT_TEMPLATE = ("{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """tiny-llm in both formats with a chat template in tokenizer_config.json (where both runtimes read it)."""
    import shutil

    from genai_harness.workloads.catalog import MODELS_DIR

    root = tmp_path_factory.mktemp("chat")
    folders = {}
    for framework, folder in (("onnxruntime_genai", "onnxruntime_genai"), ("openvino.genai", "openvino")):
        target = shutil.copytree(MODELS_DIR / "tiny-llm" / folder, root / folder)
        config = json.loads((target / "tokenizer_config.json").read_text())
        (target / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": CHAT_TEMPLATE}))
        folders[framework] = target
    return folders


def generate_json(model: Path | str, framework: str, *extra: str) -> dict[str, Any]:
    proc = run_cli("generate", "--model", model, "--framework", framework, "--prompt", "hi there",
                   "--max-new-tokens", "4", "--json", *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_generate_applies_the_chat_template_the_same_way_on_both_runtimes(chat_model: dict[str, Path]) -> None:
    answers = {fw: generate_json(path, fw) for fw, path in chat_model.items()}
    raw = {fw: generate_json(path, fw, "--raw") for fw, path in chat_model.items()}
    framed = "<s><|user|>\nhi there</s>\n<|assistant|>\n"
    for framework in chat_model:
        assert answers[framework]["chat_template"] == "applied" and answers[framework]["prompt_sent"] == framed
        assert raw[framework]["chat_template"] == "raw" and raw[framework]["prompt_sent"] == "hi there"
        assert len(answers[framework]["input_token_ids"]) > len(raw[framework]["input_token_ids"]) + 5
    ort, ov = answers["onnxruntime_genai"], answers["openvino.genai"]
    assert ort["input_token_ids"] == ov["input_token_ids"] and ort["input_token_ids"][0] == 1  # <s>, once
    assert raw["onnxruntime_genai"]["input_token_ids"] == raw["openvino.genai"]["input_token_ids"]
    assert generate_json("tiny-llm", "openvino.genai")["chat_template"] == "none in model"


def test_generate_repeat_times_warm_calls_after_the_cold_one(chat_model: dict[str, Path]) -> None:
    answer = generate_json("tiny-llm", "onnxruntime_genai", "--repeat", "3")
    warm = answer["warm_metrics"]
    assert warm["ttft_ms"]["n"] == 3 and warm["ttft_ms"]["min"] <= warm["ttft_ms"]["median"] <= warm["ttft_ms"]["max"]
    assert warm["n_new_tokens"]["median"] == 4
    assert generate_json("tiny-llm", "onnxruntime_genai")["warm_metrics"] == {}
    proc = run_cli("generate", "--model", chat_model["openvino.genai"], "--framework", "openvino", "--prompt", "hi",
                   "--max-new-tokens", "3", "--repeat", "2")
    assert proc.returncode == 0, proc.stderr
    notes = proc.stdout.splitlines()[-3:]
    assert notes[0].startswith("-- prompt: framed by the model's chat template")
    assert notes[1] == "-- timed: one cold call, the first after load (one-time allocations and caches included)"
    assert notes[2].startswith("-- 2 warm calls, median [min-max]: ttft_ms ")


@pytest.mark.parametrize("command", [
    ("generate", "--model", "tiny-llm", "--framework", "openvino.genai", "--prompt", PROMPT, "--max-new-tokens", "3"),
    ("classify", "--model", "squeezenet", "--framework", "openvino.genai"),
])
def test_direct_commands_run_at_the_precision_and_threads_asked(command: tuple[str, ...]) -> None:
    proc = run_cli(*command, "--precision", "f32", "--threads", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["numerics"]["precision"] == "f32" and answer["numerics"]["threads"] == 1
    assert answer["numerics"]["details"]["INFERENCE_PRECISION_HINT"] == "float32"
    assert answer["requested"] == {"precision": "f32", "threads": 1}


def test_a_precision_the_runtime_cannot_honour_is_refused_in_one_line() -> None:
    err = assert_one_error_line(run_cli("classify", "--model", "squeezenet", "--framework", "onnxruntime",
                                        "--precision", "f16"), 15)
    assert "onnxruntime cannot run at precision f16" in err and "stores f32 weights" in err


# ---- imagine --------------------------------------------------------------------------------------------------------

IMAGE_TARGETS = {
    "onnxruntime": ("onnxruntime", "CPU"),
    "openvino.genai": ("openvino.genai", "CPU"),
    "onnxruntime-ovep": ("onnxruntime", f"CPU:OpenVINO@{OVEP_ENV}"),
}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The PNG each non-OVEP target writes (the OVEP one is made by its own, marked test)."""
    out = tmp_path_factory.mktemp("images")
    paths = {}
    for name in ("onnxruntime", "openvino.genai"):
        paths[name] = imagine(name, out / f"{name}.png")
    return paths


def imagine(target: str, out: Path) -> Path:
    framework, device = IMAGE_TARGETS[target]
    # Both runtimes in f32: OpenVINO's CPU default is bf16 where the CPU has it natively.
    proc = run_cli("imagine", "--model", "tiny-sd", "--framework", framework, "--device", device,
                   "--prompt", "a red cat", "--size", "64x64", "--steps", "2", "--seed", "1", "--out", out,
                   "--precision", "f32")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote {out} (64x64) on {device.split('@')[0]} "), proc.stdout
    assert "image_ms" in proc.stdout and "step_ms" in proc.stdout
    assert "precision f32" in proc.stdout, proc.stdout
    return out


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (64, 64) and image.mode == "RGB"
        return np.asarray(image).astype(np.int16)


@pytest.mark.parametrize("target", ["onnxruntime", "openvino.genai"])
def test_imagine_writes_a_png_of_the_requested_size(images: dict[str, Path], target: str) -> None:
    assert pixels(images[target]).std() > 5


def test_imagine_gives_the_same_image_on_both_runtimes(images: dict[str, Path]) -> None:
    d = np.abs(pixels(images["onnxruntime"]) - pixels(images["openvino.genai"]))
    assert d.max() <= 1 and d.mean() < 0.1, (d.max(), d.mean())


@pytest.mark.ovep
def test_imagine_on_the_openvino_ep_environment(ovep_listing: dict[str, Any], images: dict[str, Path],
                                                tmp_path: Path) -> None:
    path = imagine("onnxruntime-ovep", tmp_path / "ovep.png")
    d = np.abs(pixels(path) - pixels(images["onnxruntime"]))
    assert d.max() <= 1, d.max()


# ---- classify -------------------------------------------------------------------------------------------------------

def test_classify_json() -> None:
    proc = run_cli("classify", "--model", "squeezenet", "--framework", "onnxruntime", "--batch", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["logits_shape"] == [2, 1000, 1, 1] and len(answer["top1"]) == 2
    assert answer["metrics"]["batch_size"] == 2
    assert answer["metrics"]["inference_ms"] > 0 and answer["metrics"]["items_per_s"] > 0
    assert answer["actual_device"] == "CPUExecutionProvider"


@pytest.mark.ovep
def test_classify_on_the_openvino_ep_runs_there(ovep_listing: dict[str, Any]) -> None:
    proc = run_cli("classify", "--model", "resnet50", "--framework", "onnxruntime", "--device",
                   f"CPU:OpenVINO@{OVEP_ENV}", "--batch", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["actual_device"] == "OpenVINOExecutionProvider" and answer["environment"] == OVEP_ENV
    assert answer["logits_shape"] == [2, 1000]


# ---- errors: one line, the documented exit code ---------------------------------------------------------------------

IMAGINE = ("imagine", "--model", "tiny-sd", "--framework", "onnxruntime", "--prompt", "a cat", "--steps", "1")

ERRORS = [
    ("size-not-multiple-of-8", [*IMAGINE, "--size", "6x6"], 2, ["image_width must be a positive multiple of 8"]),
    ("size-not-a-size", [*IMAGINE, "--size", "abc"], 2, ["--size 'abc' must be WIDTHxHEIGHT"]),
    ("not-png", [*IMAGINE, "--size", "64x64", "--out=OUT/x.jpg"], 2, ["must end in .png"]),
    ("unknown-model", ["generate", "--model", "no-such-model", "--framework", "onnxruntime_genai", "--prompt", "a"],
     3, ["unknown model 'no-such-model'", "tiny-llm"]),
    ("framework-without-the-task", ["imagine", "--model", "tiny-sd", "--framework", "onnxruntime_genai",
                                    "--prompt", "a", "--size", "64x64"], 6,
     ["onnxruntime_genai does not do text2image; it does text2text"]),
    ("model-of-another-task", ["generate", "--model", "tiny-sd", "--framework", "openvino.genai", "--prompt", "a"],
     2, ["'tiny-sd' is a text2image model, not text2text"]),
    ("known-model-not-registered", ["generate", "--model", "phi-3.5-mini-instruct", "--framework",
                                    "onnxruntime_genai", "--prompt", "a"], 3,
     ["has no onnxruntime_genai format", "genai-harness models add phi-3.5-mini-instruct"]),
    ("onnxruntime-genai-folder-on-openvino", ["generate", "--model", f"{BUNDLED}/onnxruntime_genai", "--framework",
                                              "openvino", "--prompt", "a"], 3,
     ["is an onnxruntime-genai model folder (genai_config.json) and an ONNX decoder with a KV cache "
      "(.onnx + tokenizer.json), not an OpenVINO model folder",
      "run it with --framework onnxruntime_genai or --framework onnxruntime", "optimum-cli export openvino"]),
    ("openvino-folder-on-onnxruntime-genai", ["generate", "--model", f"{BUNDLED}/openvino", "--framework",
                                              "onnxruntime_genai", "--prompt", "a"], 3,
     ["is an OpenVINO model folder", "run it with --framework openvino.genai", "onnxruntime_genai.models.builder"]),
    ("unusable-device", ["generate", "--model", "tiny-llm", "--framework", "openvino.genai", "--device", "GPU",
                         "--prompt", "a"], 5, ["device 'GPU' of openvino.genai is not usable here"]),
    ("unknown-environment", ["generate", "--model", "tiny-llm", "--framework", "openvino.genai", "--device",
                             "CPU@nowhere", "--prompt", "a"], 2, ["unknown environment 'nowhere'"]),
    ("zero-tokens", ["generate", "--model", "tiny-llm", "--framework", "onnxruntime_genai", "--prompt", "a",
                     "--max-new-tokens", "0"], 2, ["max_new_tokens must be at least 1"]),
    ("unknown-framework", ["generate", "--model", "tiny-llm", "--framework", "tensorflow", "--prompt", "a"], 2,
     ["unknown framework 'tensorflow'"]),
]


@pytest.mark.parametrize(("case", "args", "code", "words"), ERRORS, ids=[e[0] for e in ERRORS])
def test_a_bad_request_is_one_error_line_with_its_exit_code(tmp_path: Path, case: str, args: list[str], code: int,
                                                            words: list[str]) -> None:
    out = tmp_path / "x.png"
    args = [a.replace("OUT/", f"{tmp_path}/") for a in args]
    if args[0] == "imagine" and not any(a.startswith("--out") for a in args):
        args += ["--out", str(out)]
    if case == "unusable-device":
        from genai_harness.factories import DeviceFactory

        if any(d.available for d in DeviceFactory.describe("openvino.genai") if d.identifier == "GPU"):
            pytest.skip("this machine has an OpenVINO GPU")
    err = assert_one_error_line(run_cli(*args), code)
    for word in words:
        assert word in err, err
    assert not list(tmp_path.iterdir()), "a failed command must not write its output"


@pytest.mark.ovep
def test_an_openvino_ep_npu_that_is_not_there_is_exit_5(ovep_listing: dict[str, Any], tmp_path: Path) -> None:
    npu = [d for d in ovep_listing["devices"] if d["framework"] == "onnxruntime" and d["label"] == "NPU:OpenVINO"]
    if npu and npu[0]["available"]:
        pytest.skip("this machine's OpenVINO EP has an NPU")
    err = assert_one_error_line(run_cli("imagine", "--model", "tiny-sd", "--framework", "onnxruntime", "--device",
                                        f"NPU:OpenVINO@{OVEP_ENV}", "--prompt", "a", "--size", "64x64",
                                        "--out", tmp_path / "never.png"), 5)
    assert "NPU" in err and "get_available_openvino_device_ids()" in err
    assert not (tmp_path / "never.png").exists()
