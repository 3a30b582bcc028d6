"""The model catalog: bundled tiny models, the onnx wheel's classifiers, and user registration.

Everything runs the real `genai-harness models` command in a subprocess, from the checkout, and checks
the bundled files against the manifest with hashes computed here. Registration works on a copy of the
project config in a temporary folder; a refused registration must leave that file byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from support import REPO, SESSION_CONFIG, assert_one_error_line, run_cli

from genai_harness.hashing import file_sha256, folder_sha256
from genai_harness.workloads.catalog import MODELS_DIR, verify_bundled

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MANIFEST = MODELS_DIR / "manifest.json"
BUNDLED_MAX_BYTES = 48 * 1000 * 1000  # tiny-llm in four formats of the same 7.2 MB of float32 weights, tiny-sd in two
HEX64 = re.compile(r"^[0-9a-f]{64}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def sha256(path: Path) -> str:
    return file_sha256(path)


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    if not MANIFEST.is_file():
        pytest.fail(f"{MANIFEST} is missing: the bundled models are part of the package")
    return json.loads(MANIFEST.read_text())


@pytest.fixture(scope="module")
def listing() -> str:
    proc = run_cli("models")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def listing_json() -> dict[str, dict[str, Any]]:
    proc = run_cli("models", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert isinstance(data, list)
    return {m["id"]: m for m in data}


# ---- listing ------------------------------------------------------------------------------------------------------

EXPECTED = {
    "tiny-llm": ("text2text", "bundled", {"onnxruntime_genai", "openvino"}),
    "tiny-sd": ("text2image", "bundled", {"onnxruntime", "openvino"}),
    "squeezenet": ("classification", "onnx-package", {"onnx"}),
    "resnet50": ("classification", "onnx-package", {"onnx"}),
}


@pytest.mark.parametrize("model_id", sorted(EXPECTED))
def test_models_table_lists_formats_sizes_and_hashes(listing: str, listing_json: dict[str, Any],
                                                     model_id: str) -> None:
    task, source, formats = EXPECTED[model_id]
    rows = [line for line in listing.splitlines() if line.split(" ", 1)[0] == model_id]
    assert len(rows) == 1, listing
    row = rows[0]
    assert task in row and source in row, row
    for key in formats:
        assert re.search(rf"\b{re.escape(key)} \d+\.\d MB", row), f"{key} with its size missing from: {row}"
        assert listing_json[model_id]["formats"][key]["hash"][:12] in row, row


@pytest.mark.parametrize("model_id", sorted(EXPECTED))
def test_models_json_matches_the_files(listing_json: dict[str, Any], model_id: str) -> None:
    task, source, formats = EXPECTED[model_id]
    model = listing_json[model_id]
    assert (model["task"], model["source"]) == (task, source)
    assert formats <= set(model["formats"]), model["formats"]
    for key in formats:
        fmt = model["formats"][key]
        path = Path(fmt["path"])
        assert path.exists(), fmt
        assert HEX16.match(fmt["hash"]), fmt
        on_disk = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*")
                                                                if p.is_file())
        assert fmt["size_bytes"] == on_disk, (key, fmt["size_bytes"], on_disk)
        if source == "onnx-package":
            assert path.name.startswith("light_") and path.suffix == ".onnx"
            assert fmt["hash"] == sha256(path)[:16]
        else:
            assert path.is_relative_to(MODELS_DIR), path
            assert fmt["n_files"] == len([p for p in path.rglob("*") if p.is_file()])


def test_models_json_lists_known_client_models_without_files(listing_json: dict[str, Any]) -> None:
    phi = listing_json["phi-3.5-mini-instruct"]
    assert phi["source"] == "known" and phi["formats"] == {}


# ---- the bundled files against the manifest -----------------------------------------------------------------------

def test_models_verify_passes() -> None:
    proc = run_cli("models", "verify")
    assert proc.returncode == 0, proc.stderr
    assert "match the manifest" in proc.stdout


def test_every_bundled_file_matches_its_manifest_sha256_and_size(manifest: dict[str, Any]) -> None:
    listed: set[str] = set()
    n_checked = 0
    for model_id, entry in manifest["models"].items():
        for key, fmt in entry["formats"].items():
            if not fmt.get("folder"):
                assert fmt.get("stored") is False, f"{model_id}/{key} has no folder but does not say it is not stored"
                continue
            folder = MODELS_DIR / fmt["folder"]
            assert fmt["total_bytes"] == sum(f["size"] for f in fmt["files"]), (model_id, key)
            for f in fmt["files"]:
                path = folder / f["path"]
                assert path.is_file(), path
                assert path.stat().st_size == f["size"], path
                assert sha256(path) == f["sha256"], f"{path} differs from the manifest"
                listed.add(path.relative_to(MODELS_DIR).as_posix())
                n_checked += 1
    on_disk = {p.relative_to(MODELS_DIR).as_posix() for p in MODELS_DIR.rglob("*") if p.is_file()}
    assert on_disk - listed == {"manifest.json"}, "files bundled but not in the manifest"
    assert n_checked >= 40


def test_bundled_models_stay_small() -> None:
    total = sum(p.stat().st_size for p in MODELS_DIR.rglob("*") if p.is_file())
    assert total < BUNDLED_MAX_BYTES, f"bundled models take {total / 1e6:.1f} MB"


@pytest.mark.parametrize("model_id", ["tiny-llm", "tiny-sd"])
def test_manifest_recipe_is_reproducible_provenance(manifest: dict[str, Any], model_id: str) -> None:
    entry = manifest["models"][model_id]
    recipe = entry["recipe"]
    assert isinstance(recipe["seed"], int)
    assert recipe["tool_versions"]["torch"] and recipe["tool_versions"]["onnxruntime-genai"]
    params = recipe["model"].get("num_parameters") if model_id == "tiny-llm" else recipe["num_parameters"]
    assert params, f"{model_id}: recipe has no parameter count"
    assert (params if isinstance(params, int) else sum(params.values())) > 100_000
    assert HEX64.match(entry["checkpoint_sha256"]), entry["checkpoint_sha256"]
    # checkpoint_sha256: sha256 over sorted "path\0sha256\n" of the hf files (hashing.folder_sha256).
    digest = hashlib.sha256()
    for f in sorted(entry["formats"]["hf"]["files"], key=lambda f: f["path"]):
        digest.update(f["path"].encode() + b"\0" + f["sha256"].encode() + b"\n")
    assert digest.hexdigest() == entry["checkpoint_sha256"]


def test_folder_sha256_reproduces_the_bundled_llm_checkpoint_hash(manifest: dict[str, Any]) -> None:
    # The helper tools/build_models.py writes checkpoint_sha256 with, recomputed over the bundled hf/ folder.
    hf = MODELS_DIR / "tiny-llm" / "hf"
    assert folder_sha256(hf) == manifest["models"]["tiny-llm"]["checkpoint_sha256"]


def test_verify_detects_a_changed_byte(tmp_path: Path) -> None:
    copy = tmp_path / "models"
    shutil.copytree(MODELS_DIR, copy)
    target = copy / "tiny-llm" / "onnxruntime_genai" / "genai_config.json"
    data = bytearray(target.read_bytes())
    data[-2] = ord(" ") if data[-2] != ord(" ") else ord("\n")  # same size, different content
    target.write_bytes(bytes(data))
    (copy / "tiny-sd" / "openvino" / "unet" / "openvino_model.xml").unlink()
    problems = verify_bundled(copy)
    assert any("tiny-llm/onnxruntime_genai: genai_config.json sha256 differs" in p for p in problems), problems
    assert any("tiny-sd/openvino: unet/openvino_model.xml is missing" in p for p in problems), problems
    assert verify_bundled(MODELS_DIR) == []


# ---- user registration ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory, listing_json: dict[str, Any]) -> dict[str, Path]:
    """Copies of real model files to register (and to break) in a temporary folder."""
    root = tmp_path_factory.mktemp("user-models")
    paths = {
        "ort_genai": root / "llm-ort",
        "openvino": root / "llm-ov",
        "onnx": root / "squeezenet.onnx",
    }
    shutil.copytree(MODELS_DIR / "tiny-llm" / "onnxruntime_genai", paths["ort_genai"])
    shutil.copytree(MODELS_DIR / "tiny-llm" / "openvino", paths["openvino"])
    shutil.copy(listing_json["squeezenet"]["formats"]["onnx"]["path"], paths["onnx"])
    return paths


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A copy of the project config (environment paths made absolute so the copy stays valid elsewhere)."""
    data = tomllib.loads(SESSION_CONFIG.read_text())
    for table in data.get("environments", {}).values():
        if isinstance(table, dict) and "python" in table:
            table["python"] = str((REPO / table["python"]).absolute())
    path = tmp_path / "genai-harness.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def models_cli(config: Path, *args: str | Path) -> Any:
    return run_cli("--config", config, "models", *args, cwd=config.parent)


def user_models(config: Path) -> dict[str, dict[str, Any]]:
    proc = models_cli(config, "--json")
    assert proc.returncode == 0, proc.stderr
    return {m["id"]: m for m in json.loads(proc.stdout) if m["source"] == "user"}


def test_register_list_and_remove_user_models(config: Path, sources: dict[str, Path]) -> None:
    steps = [
        ("my-llm", "text2text", "onnxruntime_genai", sources["ort_genai"], "onnxruntime_genai"),
        ("my-llm", "text2text", "openvino.genai", sources["openvino"], "openvino"),
        ("my-squeezenet", "classification", "onnxruntime", sources["onnx"], "onnx"),
    ]
    for model_id, task, framework, path, key in steps:
        proc = models_cli(config, "add", model_id, "--task", task, "--framework", framework, "--path", path)
        assert proc.returncode == 0, proc.stderr
        assert f"registered {model_id} ({task}) format {key}: {path}" in proc.stdout
    registered = user_models(config)
    assert set(registered) == {"my-llm", "my-squeezenet"}
    assert set(registered["my-llm"]["formats"]) == {"onnxruntime_genai", "openvino"}
    assert registered["my-llm"]["formats"]["openvino"]["path"] == str(sources["openvino"])
    assert registered["my-squeezenet"]["formats"]["onnx"]["size_bytes"] == sources["onnx"].stat().st_size
    table = models_cli(config).stdout
    assert re.search(r"^my-llm\s+text2text\s+user\s+onnxruntime_genai \d", table, re.M), table
    kept = tomllib.loads(SESSION_CONFIG.read_text()).get("environments", {}).keys()
    assert tomllib.loads(config.read_text()).get("environments", {}).keys() == kept, "the rest must stay"

    proc = models_cli(config, "remove", "my-llm")
    assert proc.returncode == 0 and "removed my-llm" in proc.stdout, proc.stderr
    assert set(user_models(config)) == {"my-squeezenet"}
    assert "my-llm" not in tomllib.loads(config.read_text()).get("models", {})
    before = config.read_bytes()
    err = assert_one_error_line(models_cli(config, "remove", "my-llm"), 2)
    assert "no user model 'my-llm'" in err
    assert config.read_bytes() == before


def test_a_registered_model_runs(config: Path, sources: dict[str, Path]) -> None:
    proc = models_cli(config, "add", "my-squeezenet", "--task", "classification", "--framework", "onnxruntime",
                      "--path", sources["onnx"])
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("--config", config, "classify", "--model", "my-squeezenet", "--framework", "onnxruntime",
                   "--json", cwd=config.parent)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["logits_shape"] == [1, 1000, 1, 1]


def _broken(sources: dict[str, Path], tmp: Path, kind: str) -> Path:
    """A broken copy of a source model (made in ``tmp``)."""
    if kind == "no-genai-config":
        path = shutil.copytree(sources["ort_genai"], tmp / "ort-no-config")
        (path / "genai_config.json").unlink()
    elif kind == "no-ov-tokenizer":
        path = shutil.copytree(sources["openvino"], tmp / "ov-no-tokenizer")
        (path / "openvino_tokenizer.xml").unlink()
    elif kind == "decoder-no-tokenizer":
        path = shutil.copytree(sources["ort_genai"], tmp / "decoder-no-tokenizer")
        (path / "tokenizer.json").unlink()
    elif kind == "truncated-onnx":
        path = tmp / "half.onnx"
        data = sources["onnx"].read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "corrupt-ov-xml":
        path = shutil.copytree(sources["openvino"], tmp / "ov-corrupt")
        xml = path / "openvino_model.xml"
        text = xml.read_bytes()
        xml.write_bytes(text[: len(text) // 3])
    else:
        raise AssertionError(kind)
    return path


BAD_ADDS = [
    # (case, model id, task, framework, path kind, exit code, words the error must contain)
    ("missing-path", "x", "text2text", "onnxruntime_genai", "nowhere", 3, ["does not exist"]),
    ("no-genai-config", "x", "text2text", "onnxruntime_genai", "no-genai-config", 3,
     ["onnxruntime-genai model folder", "missing genai_config.json"]),
    ("no-ov-tokenizer", "x", "text2text", "openvino.genai", "no-ov-tokenizer", 3,
     ["OpenVINO GenAI text2text folder", "missing openvino_tokenizer.xml"]),
    ("truncated-onnx", "x", "classification", "onnxruntime", "truncated-onnx", 3,
     ["half.onnx", "not a readable ONNX model"]),
    ("corrupt-ov-xml", "x", "text2text", "openvino.genai", "corrupt-ov-xml", 3,
     ["openvino_model.xml", "not a readable OpenVINO IR"]),
    ("folder-as-classifier", "x", "classification", "onnxruntime", "ort_genai", 3, ["is a folder", ".onnx"]),
    ("bundled-id", "tiny-llm", "text2text", "onnxruntime_genai", "ort_genai", 2,
     ["'tiny-llm' is a bundled model", "choose another id"]),
    ("onnx-package-id", "squeezenet", "classification", "onnxruntime", "onnx", 2, ["onnx-package model"]),
    ("known-id-wrong-task", "phi-3.5-mini-instruct", "text2image", "openvino.genai", "openvino", 2,
     ["text2text model, not text2image"]),
    ("framework-without-task", "x", "text2image", "onnxruntime_genai", "ort_genai", 6,
     ["onnxruntime_genai does not do text2image"]),
    ("no-decoder-for-onnxruntime", "x", "text2text", "onnxruntime", "openvino", 3,
     ["holds no .onnx decoder"]),
    ("decoder-without-tokenizer", "x", "text2text", "onnxruntime", "decoder-no-tokenizer", 3,
     ["ONNX decoder folder", "missing tokenizer.json"]),
    ("wrong-format-for-folder", "x", "text2text", "openvino.genai", "ort_genai", 3,
     ["missing openvino_model.xml"]),
]


@pytest.mark.parametrize(("case", "model_id", "task", "framework", "kind", "code", "words"), BAD_ADDS,
                         ids=[c[0] for c in BAD_ADDS])
def test_a_refused_registration_is_one_error_line_and_leaves_the_config_as_it_was(
        config: Path, sources: dict[str, Path], tmp_path: Path, case: str, model_id: str, task: str,
        framework: str, kind: str, code: int, words: list[str]) -> None:
    if kind in sources:
        path = sources[kind]
    elif kind == "nowhere":
        path = tmp_path / "no-such-model"
    else:
        path = _broken(sources, tmp_path, kind)
    before = config.read_bytes()
    proc = models_cli(config, "add", model_id, "--task", task, "--framework", framework, "--path", path)
    err = assert_one_error_line(proc, code)
    for word in words:
        assert word in err, err
    assert config.read_bytes() == before, f"{case}: the config file changed"
    assert not config.with_name(config.name + ".tmp").exists()


def test_the_same_name_and_format_twice_is_refused(config: Path, sources: dict[str, Path]) -> None:
    add = ("add", "twice", "--task", "text2text", "--framework", "onnxruntime_genai", "--path", sources["ort_genai"])
    assert models_cli(config, *add).returncode == 0
    before = config.read_bytes()
    err = assert_one_error_line(models_cli(config, *add), 2)
    assert "'twice' already has a onnxruntime_genai format registered" in err and "remove it first" in err
    assert config.read_bytes() == before
    # The other format of the same model is still welcome; a different task for it is not.
    proc = models_cli(config, "add", "twice", "--task", "text2text", "--framework", "openvino.genai",
                      "--path", sources["openvino"])
    assert proc.returncode == 0, proc.stderr
    before = config.read_bytes()
    err = assert_one_error_line(models_cli(config, "add", "twice", "--task", "classification", "--framework",
                                           "onnxruntime", "--path", sources["onnx"]), 2)
    assert "registered as text2text, not classification" in err
    assert config.read_bytes() == before
