"""The runtime exports of a catalog model's checkpoint: the onnxruntime-genai builder (fp32 / int4 / int8),
optimum-intel (fp32 / int4 / int8) and mobius-onnx (fp32, per EP profile), each into its own folder, checked for
the files its runtime loads.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from .common import find_bin, fresh_dir, log, run


def export_ort_genai(hf_dir: Path, out_dir: Path, work: Path, precision: str) -> dict:
    """``python -m onnxruntime_genai.models.builder -p PRECISION -e cpu`` of ``hf_dir``; the command as run."""
    fresh_dir(out_dir)
    cache = work / f"ortgenai_cache_{precision}"
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf_dir), "-o", str(out_dir),
           "-p", precision, "-e", "cpu", "-c", str(cache)]
    # GIT_DIR pointing nowhere: the builder stamps `git rev-parse HEAD` of the enclosing checkout otherwise.
    run(cmd, extra_env={"GIT_DIR": str(work / "no-git")})
    for name in ("genai_config.json", "model.onnx"):
        if not (out_dir / name).exists():
            raise SystemExit(f"the onnxruntime-genai builder did not write {out_dir / name}")
    return {"tool": "onnxruntime_genai.models.builder", "precision": precision,
            "command": f"python -m onnxruntime_genai.models.builder -i hf -o OUT -p {precision} -e cpu"}


def export_openvino(hf_dir: Path, out_dir: Path, weight_format: str, group_size: int | None = None) -> dict:
    """``optimum-cli export openvino --weight-format FORMAT`` of ``hf_dir`` (with tokenizer and detokenizer)."""
    fresh_dir(out_dir)
    cmd = [find_bin("optimum-cli"), "export", "openvino", "--model", str(hf_dir), "--task",
           "text-generation-with-past", "--weight-format", weight_format]
    if group_size is not None:
        cmd += ["--group-size", str(group_size)]
    run([*cmd, str(out_dir)])
    for name in ("openvino_tokenizer.xml", "openvino_detokenizer.xml", "openvino_model.xml"):
        if not (out_dir / name).exists():
            raise SystemExit(f"optimum-cli did not write {out_dir / name}")
    shown = " ".join(c for c in cmd[1:] if c != str(hf_dir)).replace("--model", "--model hf")
    return {"tool": "optimum-cli (optimum-intel)", "weight_format": weight_format, "group_size": group_size,
            "command": f"optimum-cli {shown} OUT"}


MOBIUS_PROFILES = {"standard": "onnx-standard", "openvino": "openvino"}
"""mobius-onnx's EP profiles the harness exports with: ``onnx-standard`` (no custom-domain op at all: every
com.microsoft op inlined into its standard function body) and ``openvino`` (the graph its OpenVINO EP profile
asks for: standard Attention, no skip-norm fusion)."""
MOBIUS_PIN = "mobius-onnx==0.1.0"


class ExportFailed(Exception):
    """An exporter that is missing or failed: the message is its own last words (recorded, the build goes on)."""


def _last_words(output: str) -> str:
    """The exporter's own last meaningful line (a Python exception's message, else the last line)."""
    lines = [line.strip() for line in output.splitlines() if line.strip() and not line.lstrip().startswith("File ")]
    errors = [line for line in lines if "Error" in line.split(":")[0] or line.startswith("error")]
    return (errors or lines or ["no output"])[-1][:500]


def run_exporter(cmd: list[str], extra_env: dict[str, str] | None = None) -> None:
    """Run an exporter, its output into the build log; :class:`ExportFailed` with its last words if it fails."""
    log("$ " + " ".join(cmd))
    env = dict(os.environ, **(extra_env or {}))
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "DO_NOT_TRACK"):
        env.setdefault(key, "1")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    # progress bars are carriage-return lines: keep the log readable
    sys.stdout.write("\n".join(line.split("\r")[-1] for line in (done.stdout + done.stderr).splitlines()) + "\n")
    if done.returncode != 0:
        raise ExportFailed(f"exit {done.returncode}: {_last_words(done.stdout + done.stderr)}")


def mobius_version() -> str | None:
    """The installed mobius-onnx version, None when it is not installed in this (the build) environment."""
    from importlib import metadata

    try:
        return metadata.version("mobius-onnx")
    except metadata.PackageNotFoundError:
        return None


def export_mobius(hf_dir: Path, out_dir: Path, profile: str) -> dict:
    """``python -m mobius build --config hf OUT --ep PROFILE --runtime ort-genai``: an ONNX decoder built from
    mobius's onnxscript.nn model definitions (opset 24: Attention, RotaryEmbedding, RMSNormalization) with the
    onnxruntime-genai config beside it, so both onnxruntime-genai and plain onnxruntime sessions load it."""
    version = mobius_version()
    if version is None or importlib.util.find_spec("onnx_shape_inference") is None:
        raise ExportFailed(f"mobius-onnx is not installed in the build environment ({sys.prefix}); "
                           f"`pip install {MOBIUS_PIN}` there (requirements-build.txt names it)")
    fresh_dir(out_dir)
    ep = MOBIUS_PROFILES[profile]
    run_exporter([sys.executable, "-m", "mobius", "build", "--config", str(hf_dir), str(out_dir), "--ep", ep,
                  "--runtime", "ort-genai"])
    for name in ("genai_config.json", "model.onnx"):
        if not (out_dir / name).exists():
            raise ExportFailed(f"mobius build exited 0 but wrote no {name}")
    return {"tool": "mobius (mobius-onnx)", "exporter": "mobius-onnx", "exporter_version": version,
            "profile": ep, "command": f"python -m mobius build --config hf OUT --ep {ep} --runtime ort-genai"}
