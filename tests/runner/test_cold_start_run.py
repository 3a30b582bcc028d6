"""Compile and cache through the real run layer and real runtimes: OpenVINO's own CACHE_DIR (and the OpenVINO EP's
``cache_dir`` in the ort-openvino environment), in a harness cache of the test's own.

No verdict here depends on a clock (the suite must hold at load 5): a warm load is proven by OpenVINO's
LOADED_FROM_CACHE and by the cache folder (a load that found its blob writes none), a cold one by the folder it
started from; which load gave which figure by the rows' own fields. How much faster a warm start is, measured side
by side with the load average, is benchmarks/cold_start.py's (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import support

from genai_harness.backends import compile_cache as cc
from genai_harness.errors import ConfigurationError
from genai_harness.runner.benchmark import check_cold_start, run


def _suite(folder: Path, workloads: list[str], model: str = "squeezenet") -> Path:
    """A suite of classification workloads (one warm-up, two repetitions) on ``model``."""
    folder.mkdir(parents=True, exist_ok=True)
    body = ['id = "cold"']
    for name in workloads:
        (folder / f"{name}.toml").write_text(
            f'id = "{name}"\nversion = 1\ntask = "classification"\n\n[input]\nbatch_size = 1\n\n'
            "[run]\nwarmup = 1\nrepetitions = 2\ntimeout_s = 300\n")
        body += ["", "[[entries]]", f'workload = "{name}.toml"', f'models = ["{model}"]']
    suite = folder / "cold.suite.toml"
    suite.write_text("\n".join(body) + "\n")
    return suite


def _run(suite: Path, store: Path, **options: Any) -> pd.DataFrame:
    options.setdefault("cold_start", True)  # the test session turns them off ($GENAI_HARNESS_COLD_START)
    frame = run(str(suite), frameworks=options.pop("frameworks", ["openvino.genai"]),
                devices=options.pop("devices", ["CPU"]), store=store, progress=False, **options)
    assert len(frame) and (frame["status"] == "ok").all(), frame[["status", "error"]].drop_duplicates()
    return frame


def _cell(frame: pd.DataFrame, workload: str) -> pd.Series:
    cell = frame[frame["workload_id"] == workload]
    assert cell["cache_key"].nunique() == 1 and cell["load_s"].nunique() == 1  # cell figures, on every row
    return cell.iloc[0]


def _blobs(root: Path, key: str) -> cc.Snapshot:
    return cc.snapshot(root / "compiled" / key)


def test_openvino_cells_record_compile_and_both_loads_with_the_warm_one_read_from_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "harness-cache"
    monkeypatch.setenv("GENAI_HARNESS_CACHE", str(cache))
    suite = _suite(tmp_path / "suite", ["cold-a", "cold-b"])
    frame = _run(suite, tmp_path / "s.sqlite")
    first, second = _cell(frame, "cold-a"), _cell(frame, "cold-b")
    key = first["cache_key"]
    assert key.startswith("openvino_") and key.count("/") == 2 and second["cache_key"] == key
    files = _blobs(cache, key)
    assert files and all(name.endswith(".blob") for name in files)  # OpenVINO's own cache files
    # the first cell started from an empty cache: its own load is the cold one; its extra loads gave the rest
    assert first["cache_state"] == "cold" and first["load_cold_s"] == first["load_s"]
    assert first["compile_s"] > 0 and first["load_warm_s"] > 0 and first["cache_hit"] == 1
    assert first["cache_mib"] == pytest.approx(cc.size_mib(files), rel=0.01) and pd.isna(first["cache_note"])
    # the second found it warm (OpenVINO's LOADED_FROM_CACHE), and took the rest from the first cell of the run
    assert second["cache_state"] == "warm" and second["cache_hit"] == 1 and second["load_warm_s"] == second["load_s"]
    assert (second["compile_s"], second["load_cold_s"]) == (first["compile_s"], first["load_cold_s"])
    assert "from this run's cell cold-a of the same target and model" in second["cache_note"]

    again = _cell(_run(_suite(tmp_path / "again", ["cold-a"]), tmp_path / "s.sqlite"), "cold-a")
    assert again["cache_state"] == "warm" and again["cache_hit"] == 1 and again["load_warm_s"] == again["load_s"]
    assert again["load_cold_s"] > 0 and again["cache_mib"] == pytest.approx(first["cache_mib"], rel=0.01)
    assert _blobs(cache, key) == files  # warm loads wrote nothing; the empty-cache load used a scratch folder
    assert sorted(p.name for p in (cache / "compiled" / key).parent.iterdir()) == [Path(key).name]

    cold = _cell(_run(_suite(tmp_path / "again", ["cold-a"]), tmp_path / "s.sqlite", cold=True,
                      cold_start=False), "cold-a")
    assert cold["cache_state"] == "cold" and cold["load_cold_s"] == cold["load_s"] and pd.isna(cold["compile_s"])
    rewritten = _blobs(cache, key)
    assert rewritten.keys() == files.keys() and rewritten != files  # --cold emptied it: compiled and written anew


def test_a_read_only_cache_folder_is_left_out_and_the_row_says_so(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "harness-cache"
    (cache / "compiled").mkdir(parents=True)
    os.chmod(cache / "compiled", stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setenv("GENAI_HARNESS_CACHE", str(cache))
    try:
        row = _cell(_run(_suite(tmp_path / "suite", ["ro"]), tmp_path / "s.sqlite"), "ro")
        assert not list((cache / "compiled").iterdir())
    finally:
        os.chmod(cache / "compiled", stat.S_IRWXU)
    assert row["cache_state"] == "off" and row["compile_s"] == row["load_s"] and pd.isna(row["load_cold_s"])
    assert f"{cache / 'compiled'} is read-only; loaded without a cache" in row["cache_note"]


def test_a_corrupted_cache_is_compiled_anew_and_the_row_says_the_warm_load_missed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "harness-cache"
    monkeypatch.setenv("GENAI_HARNESS_CACHE", str(cache))
    suite = _suite(tmp_path / "suite", ["bad"])
    key = _cell(_run(suite, tmp_path / "s.sqlite", cold_start=False), "bad")["cache_key"]
    for name in _blobs(cache, key):
        (cache / "compiled" / key / name).write_bytes(b"not a compiled model")
    row = _cell(_run(suite, tmp_path / "s.sqlite", cold_start=False), "bad")
    assert row["cache_state"] == "warm" and row["cache_hit"] == 0
    assert "the warm load did not read the cache" in row["cache_note"]
    assert "LOADED_FROM_CACHE is false" in row["cache_note"]
    assert all(size > 100 for _ino, _mtime, size in _blobs(cache, key).values())  # OpenVINO wrote it anew


def test_the_openvino_ep_caches_through_its_cache_dir_and_a_cpu_ep_records_no_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    support.require_ovep_python()
    cache = tmp_path / "harness-cache"
    monkeypatch.setenv("GENAI_HARNESS_CACHE", str(cache))
    frame = _run(_suite(tmp_path / "suite", ["ep"]), tmp_path / "s.sqlite", frameworks=["onnxruntime"],
                 devices=["CPU:OpenVINO", "CPU"])
    ep = frame[frame["device"] == "CPU:OpenVINO"].iloc[0]
    assert ep["environment"] == support.OVEP_ENV and ep["cache_key"].startswith("onnxruntime-openvino_")
    files = _blobs(cache, ep["cache_key"])
    assert files and ep["cache_state"] == "cold" and ep["cache_mib"] == pytest.approx(cc.size_mib(files), rel=0.01)
    assert ep["compile_s"] > 0 and ep["load_warm_s"] > 0
    # whether the EP's warm load read its blob is judged by the folder, and a miss is said, never hidden
    assert ep["cache_hit"] in (0, 1) and (ep["cache_hit"] == 0) == ("did not read the cache" in str(ep["cache_note"]))
    cpu = frame[frame["execution_provider"] == "CPUExecutionProvider"]
    assert len(cpu) and cpu[["cache_key", "compile_s", "load_cold_s", "cache_mib"]].isna().all().all()


def test_the_cold_start_loads_follow_the_option_else_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENAI_HARNESS_COLD_START", raising=False)
    assert check_cold_start(None) and not check_cold_start(False)
    monkeypatch.setenv("GENAI_HARNESS_COLD_START", "OFF")
    assert not check_cold_start(None) and check_cold_start(True)
    monkeypatch.setenv("GENAI_HARNESS_COLD_START", "sometimes")
    with pytest.raises(ConfigurationError, match=r"^\$GENAI_HARNESS_COLD_START is 'sometimes'; set it to on or off"):
        check_cold_start(None)


def test_an_ep_that_writes_epcontext_models_is_measured_and_one_it_cannot_read_back_is_left_out(
        tmp_path: Path) -> None:
    """A target whose config says it caches through EPContext models (as a plugin EP's may): the OpenVINO EP of
    onnxruntime-openvino writes one into the cell's cache folder; on this CPU it then cannot load it again
    (1.24.1: "EP_FAIL : Unhandled exception type: 1"), so the next cell loads without it and says so."""
    import onnx

    from genai_harness.interface.devices import Device
    from genai_harness.runner.environments import Environment
    from genai_harness.runner.launcher import call_worker
    from genai_harness.worker.protocol import CellRequest, ModelRef
    from genai_harness.workloads.spec import parse_workload

    python = support.require_ovep_python()
    model = Path(onnx.__file__).parent / "backend/test/data/light/light_squeezenet.onnx"
    config = {"execution_provider": "OpenVINOExecutionProvider", "provider_options": {"device_type": "CPU"},
              cc.CACHE_MECHANISM_KEY: {cc.EPCONTEXT: True}}
    device = Device("CPU", config, framework="onnxruntime", environment=support.OVEP_ENV)
    workload = parse_workload({"id": "ctx", "version": 1, "task": "classification", "input": {"batch_size": 1},
                               "run": {"warmup": 1, "repetitions": 2, "timeout_s": 300}}, "inline")
    request = CellRequest("onnxruntime", device, workload, ModelRef(str(model), "squeezenet"), support.OVEP_ENV,
                          cache_root=str(tmp_path / "compiled"))
    environment = Environment(support.OVEP_ENV, python)
    first = call_worker(environment, request, 600.0).reply.cold_start
    assert first is not None and first["cache_state"] == "cold" and first["cache_mib"] > 0 and first["compile_s"] > 0
    written = sorted(cc.snapshot(tmp_path / "compiled" / first["cache_key"]))
    assert written[0].endswith("_ctx.onnx") and len(written) >= 2  # the EPContext model and its compiled part
    second = call_worker(environment, request, 600.0).reply
    assert second.repetitions and second.cold_start is not None  # the cell ran and measured
    cold = second.cold_start
    if cold["cache_state"] == "off":  # the EP could not read its own EPContext model back
        assert "could not be read" in cold["cache_note"] and "loaded without it" in cold["cache_note"]
        assert cold["compile_s"] == second.load_s
    else:  # an EP that reads it back: a warm start, proven by the folder
        assert cold["cache_state"] == "warm" and cold["cache_hit"] == 1
