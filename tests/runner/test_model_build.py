"""``models build`` around the build environment: refusals before anything starts, an interrupted or failed build
that leaves nothing registered and nothing half-written, reuse of a finished build. The build environment here is a
stand-in interpreter (a shell script) so these run in seconds; tests/runner/test_model_build_real.py builds for real.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import support

from genai_harness.config import load_config
from genai_harness.errors import ModelError
from genai_harness.runner import model_build
from genai_harness.workloads.buildable import BUILD_MANIFEST, buildable
from genai_harness.workloads.catalog import Catalog


def _fake_env(tmp_path: Path, script: str) -> Path:
    """A build environment whose `python` runs ``script`` (bash; $4 is the staging folder) and is marked ready."""
    env = tmp_path / "buildenv"
    (env / "bin").mkdir(parents=True)
    python = env / "bin" / "python"
    python.write_text("#!/bin/bash\nset -e\nout=\"$4\"\n" + script)
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    (env / model_build.READY_MARKER).write_text(model_build._pins_digest(model_build.source_root()) + "\n")
    return env


def _catalog(tmp_path: Path) -> Catalog:
    config = tmp_path / "genai-harness.toml"
    if not config.exists():
        config.write_text("")
    return Catalog(load_config(config))


def _finished_build(out: Path, model_id: str, exports: bool = False) -> str:
    """A stand-in build: every format folder a real tiny-llm copy, then the manifest last (the export-matrix
    variants only with ``exports``, as ``models build --exports`` makes them)."""
    spec = buildable(model_id)
    tiny = Path(model_build.source_root()) / "src/genai_harness/workloads/models/tiny-llm"
    lines, variants = [], {}
    for variant in spec.variants:
        if variant.exporter and not exports:
            continue
        for fmt in variant.formats:
            folder = f"{variant.folder}/{fmt}"
            lines.append(f'mkdir -p "$out/{variant.folder}" && cp -r "{tiny / fmt}" "$out/{folder}"')
            variants.setdefault(variant.folder, {})[fmt] = {"folder": folder}
    manifest = json.dumps({"id": model_id, "variants": variants, "reference_summary": {}})
    lines.append(f"echo '[build_models] step 1/1: copied'\ncat > \"$out/{BUILD_MANIFEST}\" <<'EOF'\n{manifest}\nEOF")
    return "\n".join(lines) + "\n"


@pytest.mark.usefixtures("room_for_stand_in_builds")  # a stand-in build in this process
def test_a_finished_build_is_registered_with_its_family_then_reused(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAI_HARNESS_BUILD_ENV", str(_fake_env(tmp_path, _finished_build(Path(), "smollm2-135m"))))
    said: list[str] = []
    outcome = model_build.build_model("smollm2-135m", _catalog(tmp_path), tmp_path / "cache", said.append)
    assert not outcome.reused and outcome.registered == ("smollm2-135m", "smollm2-135m-int4", "smollm2-135m-int8")
    assert any("needs about 2.2 GB of disk" in line for line in said) and "  step 1/1: copied" in said
    catalog = _catalog(tmp_path)
    int4 = catalog.get("smollm2-135m-int4")
    assert int4.family == "smollm2-135m" and int4.weights == "real weights"
    assert set(int4.formats) == {"onnxruntime_genai", "openvino"}
    assert not list((tmp_path / "cache").glob(".smollm2-135m.partial-*"))
    again = model_build.build_model("smollm2-135m", catalog, tmp_path / "cache", said.append)
    assert again.reused and again.folder == outcome.folder


@pytest.mark.usefixtures("room_for_stand_in_builds")  # a stand-in build in this process
def test_a_failed_build_leaves_nothing_registered_nor_half_written(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    script = 'mkdir -p "$out/hf" && echo half > "$out/hf/model.safetensors"\necho "[build_models] step 1/7"\nexit 9\n'
    monkeypatch.setenv("GENAI_HARNESS_BUILD_ENV", str(_fake_env(tmp_path, script)))
    with pytest.raises(ModelError, match=r"building smollm2-135m failed \(exit 9\).*full log"):
        model_build.build_model("smollm2-135m", _catalog(tmp_path), tmp_path / "cache", lambda _: None)
    left = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert left == [".smollm2-135m.lock", "smollm2-135m.build.log"]
    assert "smollm2-135m" not in _catalog(tmp_path).models


@pytest.mark.usefixtures("room_for_stand_in_builds")  # a stand-in build in this process
def test_an_unfinished_build_folder_is_removed_and_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAI_HARNESS_BUILD_ENV", str(_fake_env(tmp_path, _finished_build(Path(), "smollm2-135m"))))
    cache = tmp_path / "cache"
    (cache / "smollm2-135m" / "hf").mkdir(parents=True)  # killed before its manifest: never reused
    (cache / ".smollm2-135m.partial-1").mkdir()
    said: list[str] = []
    outcome = model_build.build_model("smollm2-135m", _catalog(tmp_path), cache, said.append)
    assert not outcome.reused and not (outcome.folder / "hf").exists()
    assert sum("removing the unfinished build" in line for line in said) == 2


@pytest.mark.usefixtures("room_for_stand_in_builds")  # a stand-in build in this process
def test_a_refusal_of_the_build_tool_is_its_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = 'echo "build refused: /x/SmolLM2.gguf: not a readable GGUF file" >&2\nexit 3\n'
    monkeypatch.setenv("GENAI_HARNESS_BUILD_ENV", str(_fake_env(tmp_path, script)))
    with pytest.raises(ModelError, match=r"^/x/SmolLM2.gguf: not a readable GGUF file$"):
        model_build.build_model("smollm2-135m", _catalog(tmp_path), tmp_path / "cache", lambda _: None)


@pytest.mark.usefixtures("room_for_stand_in_builds")  # a stand-in build in this process
def test_short_disk_or_memory_is_refused_before_anything_starts(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAI_HARNESS_BUILD_ENV", str(_fake_env(tmp_path, "touch \"$out\"/ran; exit 0\n")))
    monkeypatch.setattr(model_build, "_free_gb", lambda path: 0.5)
    with pytest.raises(ModelError, match=r"refused: needs 2\.2 GB of disk .* 0\.5 GB free"):
        model_build.build_model("smollm2-135m", _catalog(tmp_path), tmp_path / "cache", lambda _: None)
    assert not list((tmp_path / "cache").glob("*smollm2-135m*[!k]"))  # only the lock file


def test_cli_refusals_are_one_line(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("")
    env = support.clean_env(GENAI_HARNESS_CONFIG=str(config))
    support.assert_one_error_line(support.run_cli("models", "build", "gpt-5", env=env), 2)
    support.assert_one_error_line(support.run_cli("models", "build", env=env), 2)


def test_ctrl_c_stops_the_build_and_its_children_and_leaves_nothing(tmp_path: Path) -> None:
    """A real `models build` interrupted mid-way (SIGINT, as Ctrl-C): exit 130, the build tool and the exporter it
    started are gone, no staging folder is left and nothing is registered."""
    import signal
    import subprocess
    import time

    spec = buildable("smollm2-135m")
    if model_build._free_gb(tmp_path) < spec.disk_gb or model_build._available_memory_gb() < spec.memory_gb:
        pytest.skip(f"the CLI's build checks for {spec.disk_gb} GB of disk and {spec.memory_gb} GB of memory before it "
                    "starts, and this machine has less free now")
    script = ('mkdir -p "$out/hf" && echo half > "$out/hf/model.safetensors"\n'
              f'sleep 300 & echo $! > "{tmp_path}/child.pid"\necho "[build_models] step 1/7: exporting"\nwait\n')
    env_dir = _fake_env(tmp_path, script)
    config = tmp_path / "genai-harness.toml"
    config.write_text("")
    env = support.clean_env(GENAI_HARNESS_CONFIG=str(config), GENAI_HARNESS_BUILD_ENV=str(env_dir),
                            GENAI_HARNESS_CACHE=str(tmp_path / "cache"))
    proc = subprocess.Popen([*support.cli_command(), "models", "build", "smollm2-135m"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "step 1/7" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    child = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists(), "the exporter outlived the interrupted build"
    assert not list((tmp_path / "cache" / "models").glob(".smollm2-135m.partial-*"))
    assert not (tmp_path / "cache" / "models" / "smollm2-135m").exists()
    assert "smollm2-135m" not in _catalog(tmp_path).models
