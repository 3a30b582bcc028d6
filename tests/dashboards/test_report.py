"""``genai-harness report`` on real runs: one self-contained HTML file, opened in headless Chromium."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from support import assert_one_error_line, run_cli
from support.frames import results_frame

import genai_harness
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
    assert text.index('<section id="answer">') < text.index("<details")  # the answer comes first
    for section in ("Machine", "Runs", "failed cells", "Compare verdicts", "Statistics per cell", "Figures: text2text"):
        assert re.search(f"<summary>[^<]*{section}", text), section
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
    measured.write_text(page.read_text().replace("<details>", "<details open>").replace("</body>", MEASURE + "</body>"))
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


PAYLOAD = "q\"><img src=x onerror=document.title='pwned'>"
MATH = "w$\\frac{$x"
SHOT = """<script>
const box = e => {
  const r = document.querySelector(e).getBoundingClientRect();
  return {top: r.top, bottom: r.bottom};
};
document.body.setAttribute('data-measured', JSON.stringify({
  answer: box('#answer table.answer'), block: box('#answer'), details: box('details'),
  rows: document.querySelector('#answer table.answer').rows.length}));
</script>"""


def store_of(frame: pd.DataFrame, path: Path) -> Path:
    """``frame``'s rows written through the store API, one append per cell (as the runner writes them)."""
    store = ResultStore(path)
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    cells: dict[tuple, list[dict]] = {}
    for row in records:
        key = tuple(str(row.get(c)) for c in ("run_id", "framework", "device", "environment", "task", "workload_id",
                                             "model_id"))
        cells.setdefault(key, []).append(row)
    for rows in cells.values():
        store.append(rows)
    return path


def measure_first_screen(page: Path, tmp_path: Path) -> dict:
    """Where the answer block lies in Chromium at 1280x800 (CSS pixels from the top of the page)."""
    measured = tmp_path / "first-screen.html"
    measured.write_text(page.read_text().replace("</body>", SHOT + "</body>"))
    dom = browse("--dump-dom", "--window-size=1280,800", page=measured)
    assert ":CONSOLE" not in dom.stderr, dom.stderr[-2000:]
    match = re.search(r'data-measured="([^"]*)"', dom.stdout)
    assert match, dom.stderr[-2000:]
    return json.loads(match.group(1).replace("&quot;", '"'))


def test_the_report_answers_on_its_first_screen(tmp_path: Path) -> None:
    """Three targets, three tasks: at 1280x800 the answer (best target, margin, quality, memory per workload and
    the summary score) is on screen without scrolling, before any table of detail or figure."""
    store = store_of(results_frame(devices=3, runs=1, repetitions=6), tmp_path / "s.sqlite")
    out = tmp_path / "out"
    proc = run_cli("report", "--store", store, "--out", out)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    page = out / "report.html"
    text = page.read_text()
    answer = text[text.index('<section id="answer">'):text.index("</section>")]
    assert "better than" in answer and "MiB" in answer and "tokens equal to reference" in answer
    assert "Summary score per target" in answer and "<figure" not in answer
    assert text.count('<figure id="fig-text2text-ttft_ms"') == 1
    assert text.count("machine: bench-host") == 1  # the machine once, not beneath every figure
    box = measure_first_screen(page, tmp_path)
    assert box["rows"] == 5  # a head and one row per workload (2 text prompt lengths, image, classification)
    assert box["answer"]["top"] >= 0 and box["answer"]["bottom"] <= 800, box
    assert box["block"]["bottom"] <= box["details"]["top"], box
    shot = tmp_path / "first.png"
    proc = browse(f"--screenshot={shot}", "--window-size=1280,800", page=page)
    assert shot.exists(), proc.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (800, 1280) and (pixels < 128).mean() > 0.01  # text on the first screen


def test_hostile_ids_are_text_and_unknown_tasks_are_skipped(tmp_path: Path) -> None:
    """A crafted store: markup in a model id, mathtext in every label, a 200-character environment and one row
    of a task this version does not know. The report is written, scripts nothing and names what it skipped."""
    frame = results_frame(devices=2, runs=1, repetitions=3)
    frame["model_id"] = frame["model_id"] + PAYLOAD
    for column in ("workload_id", "framework", "device"):
        frame[column] = frame[column] + MATH
    frame["environment"] = "env-" + "long" * 50
    mystery = frame.iloc[:1].assign(workload_id="mystery", model_id="m")
    store = store_of(pd.concat([frame, mystery], ignore_index=True), tmp_path / "s.sqlite")
    with contextlib.closing(sqlite3.connect(store)) as conn, conn:  # a row of a task from a newer version
        conn.execute("UPDATE cells SET task = 'mystery-task' WHERE workload_id = 'mystery'")
    out = tmp_path / "out"
    proc = run_cli("report", "--store", store, "--out", out)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("genai-harness: note: skipped 1 row(s)"), proc.stderr
    assert "'mystery-task'" in lines[0] and "constrained_layout" not in proc.stderr
    page = out / "report.html"
    text = page.read_text()
    assert "<img" not in text and "&quot;&gt;&lt;img" in text
    assert re.findall(r'<figure id="fig-pick-text2text-([^"]*)"', text) != []
    assert all(re.fullmatch(r"[a-z0-9-]+", i) for i in re.findall(r'<figure id="fig-pick-[a-z0-9]+-([^"]*)"', text))
    assert "$\\frac{$x" in text  # shown as written, in the tables and as SVG text
    opened = tmp_path / "opened.html"
    opened.write_text(text.replace("<details>", "<details open>"))
    dom = browse("--dump-dom", "--window-size=1280,800", page=opened)
    assert "<title>genai-harness report</title>" in dom.stdout and "<img" not in dom.stdout, dom.stderr[-2000:]


def test_a_model_folder_whose_name_holds_markup_gives_a_safe_report(real_store: tuple[Path, list[str]],
                                                                     tmp_path: Path) -> None:
    """``run --model "./q\\"><img ...>"``: a real run of a model folder whose name breaks out of an attribute,
    then its report, opened in Chromium: the name is text, the page's title and elements are the report's."""
    store, _ = real_store
    bundled = Path(genai_harness.__file__).parent / "workloads" / "models" / "tiny-llm" / "onnxruntime_genai"
    folder = tmp_path / PAYLOAD
    shutil.copytree(bundled, folder)
    suite = next(store.parent.glob("suite.toml"))
    own = tmp_path / "s.sqlite"
    proc = run_cli("run", "--suite", suite, "--model", f"./{PAYLOAD}", "--framework", "onnxruntime_genai",
                   "--store", own, "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert PAYLOAD in "".join(ResultStore(own).read(columns=["model_id"])["model_id"])
    proc = run_cli("report", "--store", own, "--out", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    text = (tmp_path / "out" / "report.html").read_text()
    assert "<img" not in text and "fig-pick-text2text-" in text
    opened = tmp_path / "opened.html"
    opened.write_text(text.replace("<details>", "<details open>"))
    dom = browse("--dump-dom", "--window-size=1280,800", page=opened)
    assert "<title>genai-harness report</title>" in dom.stdout and "<img" not in dom.stdout, dom.stderr[-2000:]
