"""``genai-harness report`` on real runs: one self-contained HTML file, opened in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import assert_one_error_line, run_cli

from genai_harness.results.store import ResultStore

WORKLOAD = """id = "report-p16-g8"
version = 1
task = "text2text"
[input]
prompt_tokens = 16
new_tokens = 8
[run]
warmup = 1
repetitions = 4
timeout_s = 120
"""
MEASURE = """<script>
const out = [...document.querySelectorAll('figure')].map(f => {
  const r = f.querySelector('svg').getBoundingClientRect();
  return {id: f.id, w: r.width, h: r.height, pt_w: +f.dataset.widthPt, pt_h: +f.dataset.heightPt};
});
document.body.setAttribute('data-measured', JSON.stringify(out));
</script>"""


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: run `make browser` (apt-get install -y chromium)")
    return path


def browse(*args: str, page: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"]
    return subprocess.run([chromium(), *flags, *args, page.as_uri()], capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Two real runs of one onnxruntime-genai cell, the second 1.5x slower (injected)."""
    root = tmp_path_factory.mktemp("report")
    workload = root / "w.toml"
    workload.write_text(WORKLOAD)
    suite = root / "suite.toml"
    suite.write_text(f'id = "report"\n[[entries]]\nworkload = "{workload}"\nmodels = ["tiny-llm"]\n')
    store = root / "s.sqlite"
    common = ("run", "--suite", str(suite), "--framework", "onnxruntime_genai", "--store", str(store), "--quiet")
    for extra in ((), ("--inject-slowdown", "1.5")):
        proc = run_cli(*common, *extra)
        assert proc.returncode == 0, proc.stderr
    runs = list(dict.fromkeys(ResultStore(store).read()["run_id"]))
    return store, runs


def test_console_check_sees_errors(tmp_path: Path) -> None:
    """The console check below can fail: a page with a console error is seen."""
    page = tmp_path / "bad.html"
    page.write_text("<html><body>x<script>console.error('boom'); missing();</script></body></html>")
    proc = browse("--dump-dom", page=page)
    assert ":CONSOLE" in proc.stderr and "Uncaught ReferenceError" in proc.stderr


def test_report_of_real_runs_is_one_self_contained_file(real_store: tuple[Path, list[str]], tmp_path: Path) -> None:
    store, runs = real_store
    out = tmp_path / "out"
    proc = run_cli("report", "--store", store, "--baseline", f"@{runs[0]}", "--out", out, "--png")
    assert proc.returncode == 0, proc.stderr
    page = Path(proc.stdout.strip())
    assert page == out / "report.html"
    text = page.read_text()
    assert len(text.encode()) <= 3 * 2**20
    assert "<script" not in text and not re.search(r"(src|href)=[\"']?https?:", text)
    assert text.count("<figure") >= 5 and text.count("<svg") == text.count("<figure")
    for section in ("Machine", "Runs", "Failed cells", "Compare verdicts", "Statistics per cell"):
        assert f"<h2>{section}</h2>" in text
    assert "regression" in text  # the injected 1.5x slowdown, found by compare
    assert "onnxruntime_genai" in text and "[95 % CI]" in text
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "text2text-ttft_ms.png" in pngs and "relative-speed.png" in pngs
    positions = re.search(r'<figure id="fig-itl-by-position".*?</figure>', text, re.S)
    assert positions is not None and "no per-position times recorded" not in positions.group(0)
    assert "report-p16-g8 | tiny-llm" in positions.group(0)
    order = [text.index(f'id="fig-{name}"') for name in ("itl", "itl-by-position", "text2text-ttft_ms-ecdf")]
    assert order == sorted(order)  # beside the ITL percentiles and the ECDF
    recorded = ResultStore(store).read(columns=["itl_by_position_ms"])["itl_by_position_ms"].dropna()
    assert len(recorded) and all(len(json.loads(v)) == 7 for v in recorded)  # 8 new tokens: 7 gaps


def test_report_opens_in_headless_chromium(real_store: tuple[Path, list[str]], tmp_path: Path) -> None:
    store, runs = real_store
    out = tmp_path / "out"
    assert run_cli("report", "--store", store, "--baseline", f"@{runs[0]}", "--out", out).returncode == 0
    page = out / "report.html"
    shot = tmp_path / "shot.png"
    proc = browse(f"--screenshot={shot}", "--window-size=1280,2400", page=page)
    assert shot.exists(), proc.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 10 and (pixels < 200).mean() > 0.01  # text, tables and figures drawn: not blank
    # Chromium logs every console message (errors, uncaught exceptions) as ``INFO:CONSOLE``: none may appear.
    assert ":CONSOLE" not in proc.stderr, proc.stderr[-2000:]
    # A copy of the page with a measuring script (the report itself holds none): every figure's SVG
    # must have rendered at the size the figure was drawn at (points are CSS pixels x 3/4).
    measured = tmp_path / "measured.html"
    measured.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    dom = browse("--dump-dom", "--window-size=1280,2400", page=measured)
    assert ":CONSOLE" not in dom.stderr, dom.stderr[-2000:]
    match = re.search(r'data-measured="([^"]*)"', dom.stdout)
    assert match, dom.stderr[-2000:]
    figures = json.loads(match.group(1).replace("&quot;", '"'))
    assert len(figures) >= 5
    for figure in figures:
        assert figure["w"] == pytest.approx(figure["pt_w"] * 4 / 3, abs=2), figure
        assert figure["h"] == pytest.approx(figure["pt_h"] * 4 / 3, abs=2), figure


def test_report_bad_input_is_one_line(real_store: tuple[Path, list[str]], tmp_path: Path) -> None:
    store, _ = real_store
    empty = tmp_path / "empty.sqlite"
    ResultStore(empty)
    line = assert_one_error_line(run_cli("report", "--store", empty, "--out", tmp_path / "o"), 11)
    assert "no results in" in line
    line = assert_one_error_line(run_cli("report", "--store", store, "--run", "nope", "--out", tmp_path / "o"), 11)
    assert "nope" in line
    blocker = tmp_path / "file"
    blocker.write_text("")
    line = assert_one_error_line(run_cli("report", "--store", store, "--out", blocker / "sub"), 11)
    assert "cannot write the report" in line and "--out" in line
    missing = assert_one_error_line(run_cli("report", "--store", tmp_path / "none.sqlite", "--out", tmp_path / "o"))
    assert "none.sqlite" in missing
    jobs = assert_one_error_line(run_cli("report", "--store", store, "--jobs", "0", "--out", tmp_path / "o"), 2)
    assert "--jobs 0" in jobs
