"""The runtime exports of a catalog model's checkpoint: the onnxruntime-genai builder (fp32 / int4 / int8) and
optimum-intel (fp32 / int4 / int8), each into its own folder, checked for the files its runtime loads.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .common import find_bin, fresh_dir, run


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
