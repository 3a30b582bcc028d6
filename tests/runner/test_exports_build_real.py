"""mobius-onnx for real, in the build environment, on the bundled tiny checkpoint: where it is installed, its
standard profile exports a decoder of standard ops only that onnxruntime-genai loads and generates from; where it
is not, the export fails with one line saying what to install (the build records it and goes on)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import support

from genai_harness.workloads.catalog import MODELS_DIR
from genai_harness.workloads.op_census import census_totals, model_census

CODE = """
import json, sys
sys.path.insert(0, sys.argv[3])
from pathlib import Path
from model_build.exports import ExportFailed, export_mobius
try:
    how = export_mobius(Path(sys.argv[1]), Path(sys.argv[2]), "standard")
    print(json.dumps({"ok": how}))
except ExportFailed as exc:
    print(json.dumps({"failed": str(exc)}))
"""


def _build_python() -> Path:
    env = Path(os.environ.get("GENAI_HARNESS_BUILD_ENV") or support.REPO / ".venvs" / "build")
    python = env / "bin" / "python"
    if not python.exists():
        support.missing(f"the build environment {env} does not exist (`genai-harness models build` creates it)")
    return python


def test_mobius_exports_the_tiny_checkpoint_or_says_what_to_install(tmp_path: Path) -> None:
    out = tmp_path / "mobius"
    done = subprocess.run([str(_build_python()), "-c", CODE, str(MODELS_DIR / "tiny-llm" / "hf"), str(out),
                           str(support.REPO / "tools")], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(support.REPO / "src")})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "failed" in result:
        assert result["failed"].startswith("mobius-onnx is not installed in the build environment")
        assert "pip install mobius-onnx==0.1.0" in result["failed"] and "\n" not in result["failed"]
        return
    assert result["ok"]["exporter"] == "mobius-onnx" and result["ok"]["profile"] == "onnx-standard"
    census = model_census(out)
    assert census is not None and set(census) == {"ai.onnx"} and census["ai.onnx"]["Attention"] == 4
    standard, contrib = census_totals(census)
    assert contrib == 0 and standard > 20
    # lazy: onnxruntime-genai is a runtime of the main environment
    import onnxruntime_genai as og

    model = og.Model(str(out))
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=12, min_length=12, do_sample=False)
    generator = og.Generator(model, params)
    generator.append_tokens([1, 2, 3, 4])
    while not generator.is_done():
        generator.generate_next_token()
    assert len(generator.get_sequence(0)) == 12
