"""The common interface: Device, DeviceFactory, the generation configs and the pipeline factories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from genai_harness.backends import registry
from genai_harness.backends.base import TASK_TEXT2TEXT, Backend
from genai_harness.backends.registry import BackendSpec, register_spec
from genai_harness.clock import FakeClock
from genai_harness.errors import (
    ConfigurationError,
    DeviceUnavailableError,
    GenerationError,
    TaskNotSupportedError,
    UnknownFrameworkError,
)
from genai_harness.factories import (
    ClassificationPipelineFactory,
    DeviceFactory,
    Text2ImagePipelineFactory,
    Text2TextPipelineFactory,
)
from genai_harness.interface import (
    FRAMEWORK_ORT,
    FRAMEWORK_ORT_GENAI,
    FRAMEWORK_OV_GENAI,
    Device,
    classification,
    text2image,
    text2text,
)

FAKE = "test.fake-enumerator"


def ort_cpu(environment: str = "default") -> Device:
    return Device("CPU", {"execution_provider": "CPUExecutionProvider", "provider_options": {}},
                  framework="onnxruntime", execution_provider="CPUExecutionProvider", type="CPU",
                  vendor="Intel", name="Some CPU", environment=environment)


def ovep(identifier: str, environment: str = "ort-openvino", available: bool = True, reason: str = "") -> Device:
    return Device(identifier, {"execution_provider": "OpenVINOExecutionProvider", "label_suffix": "OpenVINO",
                               "provider_options": {"device_type": identifier}},
                  framework="onnxruntime", execution_provider="OpenVINOExecutionProvider", type=identifier,
                  environment=environment, available=available, reason=reason)


# ---- Device -------------------------------------------------------------------------------------

def test_device_label():
    assert ort_cpu().label == "CPU"
    assert ovep("CPU").label == "CPU:OpenVINO"
    assert ovep("NPU").label == "NPU:OpenVINO"
    assert Device("GPU.1").label == "GPU.1"


@pytest.mark.parametrize(
    ("selector", "plain_cpu", "ovep_cpu", "ovep_npu"),
    [
        ("CPU", True, True, False),
        ("cpu", True, True, False),
        ("CPU:OpenVINO", False, True, False),
        ("cpu:openvino", False, True, False),
        ("CPU:OpenVINO@ort-openvino", False, True, False),
        ("CPU:OpenVINO@default", False, False, False),
        ("CPU@default", True, False, False),
        ("CPU@ORT-OPENVINO", False, True, False),
        ("@ort-openvino", False, True, True),
        ("NPU", False, False, True),
        ("NPU:OpenVINO@ort-openvino", False, False, True),
        ("GPU", False, False, False),
        ("CPU:CUDA", False, False, False),
    ],
)
def test_device_matches_selectors(selector, plain_cpu, ovep_cpu, ovep_npu):
    assert ort_cpu().matches(selector) is plain_cpu
    assert ovep("CPU").matches(selector) is ovep_cpu
    assert ovep("NPU").matches(selector) is ovep_npu


@pytest.mark.parametrize("device", [ort_cpu(), ovep("CPU"), ovep("NPU", available=False, reason="no NPU here")])
def test_device_dict_roundtrip(device):
    data = device.to_dict()
    assert data["label"] == device.label
    assert Device.from_dict(data) == device
    # The same through JSON, as devices cross a subprocess boundary.
    assert Device.from_dict(json.loads(json.dumps(data))) == device
    assert {device}  # hashable although config is a dict


# ---- DeviceFactory ------------------------------------------------------------------------------

@pytest.fixture
def fake_enumerator():
    calls = []

    def enumerate_fake() -> list[Device]:
        calls.append(1)
        return [
            Device("CPU", framework=FAKE, vendor="Acme", name="Acme CPU"),
            Device("NPU", {"label_suffix": "Acme"}, framework=FAKE, vendor="Acme", name="Acme NPU"),
            Device("GPU", framework=FAKE, available=False, reason="driver 1.2 is too old; install 1.3"),
        ]

    DeviceFactory.register(FAKE, enumerate_fake)
    yield calls
    DeviceFactory.unregister(FAKE)


def test_device_factory_register_describe_enumerate(fake_enumerator):
    assert [d.label for d in DeviceFactory.describe(FAKE)] == ["CPU", "NPU:Acme", "GPU"]
    assert [d.label for d in DeviceFactory.enumerate(FAKE)] == ["CPU", "NPU:Acme"]
    assert fake_enumerator  # the registered enumerator was the one used


def test_device_factory_select(fake_enumerator):
    assert DeviceFactory.select(FAKE, "npu").name == "Acme NPU"
    assert DeviceFactory.select(FAKE, "NPU:Acme").name == "Acme NPU"
    assert DeviceFactory.select(FAKE, "CPU").name == "Acme CPU"


def test_device_factory_select_unknown_lists_usable_devices(fake_enumerator):
    with pytest.raises(DeviceUnavailableError) as info:
        DeviceFactory.select(FAKE, "TPU")
    message = str(info.value)
    assert "'TPU'" in message and FAKE in message
    assert "usable devices: CPU, NPU:Acme" in message
    assert "genai-harness devices" in message


def test_device_factory_select_unusable_gives_runtime_reason(fake_enumerator):
    with pytest.raises(DeviceUnavailableError, match=r"driver 1\.2 is too old"):
        DeviceFactory.select(FAKE, "GPU")


def test_device_factory_unregister_falls_back_to_backends(fake_enumerator):
    DeviceFactory.unregister(FAKE)
    with pytest.raises(UnknownFrameworkError):
        DeviceFactory.describe(FAKE)
    DeviceFactory.unregister(FAKE)  # unregistering twice is harmless


def test_device_factory_register_overrides_a_real_backend():
    DeviceFactory.register(FRAMEWORK_ORT, lambda: [ort_cpu()])
    try:
        assert DeviceFactory.enumerate(FRAMEWORK_ORT) == [ort_cpu()]
    finally:
        DeviceFactory.unregister(FRAMEWORK_ORT)


def test_device_factory_enumerates_installed_runtimes_for_real():
    import onnxruntime
    import openvino

    ort_devices = DeviceFactory.enumerate(FRAMEWORK_ORT)
    assert {d.execution_provider for d in ort_devices} <= set(onnxruntime.get_available_providers())
    assert "CPUExecutionProvider" in {d.execution_provider for d in ort_devices}
    assert all(d.framework == FRAMEWORK_ORT and d.available for d in ort_devices)

    ov_physical = {d.identifier for d in DeviceFactory.enumerate(FRAMEWORK_OV_GENAI) if not d.config.get("virtual")}
    assert ov_physical == set(openvino.Core().available_devices)

    assert DeviceFactory.select(FRAMEWORK_ORT_GENAI, "CPU").config["provider"] == "cpu"
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():  # pragma: no cover - GPU builds
        assert DeviceFactory.select(FRAMEWORK_ORT, "GPU:CUDA").execution_provider == "CUDAExecutionProvider"
    else:
        # A device the build lacks is named with the runtime's own facts, not just refused.
        with pytest.raises(DeviceUnavailableError, match="not usable here") as info:
            DeviceFactory.select(FRAMEWORK_ORT, "GPU:CUDA")
        assert f"onnxruntime {onnxruntime.__version__} build" in str(info.value)
        assert "get_available_providers()" in str(info.value)


# ---- generation configs -------------------------------------------------------------------------

def test_text2text_config_defaults_and_exact():
    config = text2text.GenerationConfig()
    assert config.max_new_tokens >= 1 and config.min_new_tokens == 0
    exact = text2text.GenerationConfig.exact(7)
    assert (exact.max_new_tokens, exact.min_new_tokens) == (7, 7)
    assert not exact.sampling.do_sample
    forced = text2text.with_exact_length(text2text.GenerationConfig(max_new_tokens=100), 5)
    assert (forced.max_new_tokens, forced.min_new_tokens) == (5, 5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_new_tokens": 0}, "max_new_tokens must be at least 1, got 0"),
        ({"max_new_tokens": -3}, "got -3"),
        ({"max_new_tokens": 4, "min_new_tokens": 5}, "min_new_tokens must lie in 0..max_new_tokens"),
        ({"min_new_tokens": -1}, "got -1"),
        ({"beam_search": text2text.BeamSearchConfig(num_beams=4)}, "beam search"),
    ],
)
def test_text2text_config_validation(kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        text2text.GenerationConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"image_width": 500}, "image_width must be a positive multiple of 8, got 500"),
        ({"image_height": 0}, "image_height"),
        ({"image_height": -64}, "image_height"),
        ({"num_inference_steps": 0}, "num_inference_steps"),
        ({"num_images_per_prompt": 0}, "num_images_per_prompt"),
    ],
)
def test_text2image_config_validation(kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        text2image.GenerationConfig(**kwargs)


def test_text2image_config_accepts_small_valid_sizes():
    config = text2image.GenerationConfig(image_width=64, image_height=32, num_inference_steps=1)
    assert (config.image_width, config.image_height) == (64, 32)


def test_classification_config_validation():
    with pytest.raises(ConfigurationError, match="batch_size"):
        classification.ClassificationConfig(batch_size=0)


# ---- text2image / classification pipelines over fakes (harness timing and validation) -----------

class FakeImagePipeline(text2image.Pipeline):
    framework = "test.fake-image"

    def __init__(self, wrong_shape: bool = False, **kwargs):
        super().__init__(Device("CPU"), **kwargs)
        self.wrong_shape = wrong_shape

    def _generate(self, prompt, config, on_step):
        for step in range(config.num_inference_steps):
            on_step(step)
        h, w = config.image_height, config.image_width
        shape = (config.num_images_per_prompt, h, w + (8 if self.wrong_shape else 0), 3)
        return np.full(shape, len(prompt) % 256, dtype=np.uint8), {"native": True}


def test_text2image_pipeline_times_each_step():
    pipe = FakeImagePipeline(clock=FakeClock(step_ns=10))
    config = text2image.GenerationConfig(image_width=16, image_height=8, num_inference_steps=3,
                                         num_images_per_prompt=2)
    result = pipe("a cat", config)
    assert result.tensor.shape == (2, 8, 16, 3) and result.tensor.dtype == np.uint8
    assert (result.start_ns, result.step_ns, result.end_ns) == (0, [10, 20, 30], 40)
    assert result.native_metrics == {"native": True}


def test_text2image_pipeline_rejects_a_wrong_tensor():
    pipe = FakeImagePipeline(wrong_shape=True)
    with pytest.raises(GenerationError, match="expected uint8"):
        pipe("a cat", text2image.GenerationConfig(image_width=16, image_height=8, num_inference_steps=1))


class FakeClassifier(classification.Pipeline):
    framework = "test.fake-classifier"

    @property
    def input_shape(self):
        return (3, 4, 4)

    def _infer(self, batch):
        if not batch.size:
            raise ValueError("empty batch")
        return batch.reshape(batch.shape[0], -1)[:, :10]


def test_classification_pipeline_over_a_fake():
    pipe = FakeClassifier(Device("CPU"), clock=FakeClock(step_ns=5, start_ns=100))
    batch = pipe.make_batch(classification.ClassificationConfig(batch_size=3, rng_seed=1))
    assert batch.shape == (3, 3, 4, 4) and batch.dtype == np.float32
    assert np.array_equal(batch, pipe.make_batch(classification.ClassificationConfig(batch_size=3, rng_seed=1)))
    result = pipe(batch)
    assert result.logits.shape == (3, 10) and result.top1().shape == (3,)
    assert (result.start_ns, result.end_ns) == (100, 105)
    with pytest.raises(GenerationError, match="empty batch"):
        pipe(np.zeros((0, 3, 4, 4), np.float32))


# ---- pipeline factories -------------------------------------------------------------------------

class FactoryTestPipeline(text2text.Pipeline):
    framework = "test.factory"

    def __init__(self, model_path: Path, device: Device):
        super().__init__(device)
        self.model_path = model_path

    def _encode(self, text):
        return [len(text)]

    def _decode(self, token_ids):
        return ""

    def _generate_ids(self, input_ids, config, on_token):
        return {}


class FactoryTestBackend(Backend):
    framework: ClassVar[str] = "test.factory"
    tasks: ClassVar[tuple[str, ...]] = (TASK_TEXT2TEXT,)
    runtime_module: ClassVar[str] = "json"
    distributions: ClassVar[tuple[str, ...]] = ("test-factory",)

    def enumerate_devices(self):
        return [self._device("CPU", name="test CPU"), self._device("NPU", available=False, reason="asleep")]

    def create_text2text(self, model_path, device):
        return FactoryTestPipeline(model_path, device)


@pytest.fixture
def factory_backend(monkeypatch):
    monkeypatch.setattr(registry, "_extra_specs", {})
    monkeypatch.setattr(registry, "_loaded", {})
    register_spec(BackendSpec("test.factory", f"{__name__}:FactoryTestBackend"))
    return "test.factory"


def test_text2text_factory_unknown_framework_lists_known_ones():
    with pytest.raises(UnknownFrameworkError) as info:
        Text2TextPipelineFactory.create("no.such.framework", "/nowhere")
    message = str(info.value)
    assert "'no.such.framework'" in message
    for known in (FRAMEWORK_ORT, FRAMEWORK_ORT_GENAI, FRAMEWORK_OV_GENAI):
        assert known in message
    assert info.value.exit_code == 2


def test_text2text_factory_creates_on_the_selected_device(factory_backend, tmp_path):
    pipe = Text2TextPipelineFactory.create(factory_backend, tmp_path)
    assert isinstance(pipe, FactoryTestPipeline)
    assert pipe.model_path == tmp_path and pipe.device.name == "test CPU"
    assert Text2TextPipelineFactory.create(factory_backend, str(tmp_path), "cpu").device.identifier == "CPU"
    explicit = Device("CPU", framework=factory_backend, name="given")
    assert Text2TextPipelineFactory.create(factory_backend, tmp_path, [explicit]).device is explicit
    with pytest.raises(DeviceUnavailableError, match="asleep"):
        Text2TextPipelineFactory.create(factory_backend, tmp_path, "NPU")
    with pytest.raises(DeviceUnavailableError, match="one device"):
        Text2TextPipelineFactory.create(factory_backend, tmp_path, [explicit, explicit])


def test_factories_refuse_tasks_a_backend_does_not_do(factory_backend, tmp_path):
    with pytest.raises(TaskNotSupportedError, match="does not do text2image; it does text2text"):
        Text2ImagePipelineFactory.create(factory_backend, tmp_path)
    with pytest.raises(TaskNotSupportedError, match="classification"):
        ClassificationPipelineFactory.create(factory_backend, tmp_path / "model.onnx")
