"""Export to Parquet/CSV and back, keeping the schema's dtypes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from genai_harness.errors import StoreError
from genai_harness.results.export import export, import_file
from genai_harness.results.store import ResultStore, load_results


@pytest.fixture
def merged(tmp_path: Path) -> pd.DataFrame:
    rows = [
        {
            "run_id": "r1",
            "run_started_at": "2024-05-01T12:00:00.123456+00:00",
            "machine_fingerprint": "fp-a",
            "device_options": {"precision": "FP16", "threads": 4},
            "error": 'a "quoted", multi-line\nerror',
            "task": "text2image",
            "status": "ok",
            "repetition": i,
            "image_ms": 1234.5678901234567,
            "step_ms": 0.1 + 0.2,
            "batch_size": 1,
        }
        for i in range(3)
    ]
    ResultStore(tmp_path / "a.sqlite").append(rows)
    ResultStore(tmp_path / "b.sqlite").append([{"run_id": "r2", "status": "timeout", "machine_fingerprint": "fp-b"}])
    return load_results(tmp_path)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_round_trip_keeps_values_and_dtypes(merged: pd.DataFrame, tmp_path: Path, suffix: str) -> None:
    path = export(merged, tmp_path / "out" / f"results{suffix}")
    assert path.is_file()
    back = import_file(path)
    pd.testing.assert_frame_equal(back, merged)


def test_unknown_suffix_and_missing_file(merged: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"\.parquet, \.csv"):
        export(merged, tmp_path / "results.xlsx")
    with pytest.raises(StoreError, match="no results export"):
        import_file(tmp_path / "missing.parquet")
