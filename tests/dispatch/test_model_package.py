"""Model packages (onnxruntime-genai's docs/model_package.md): written by the harness, read back by the real
onnxruntime's ModelPackageContext (which variant it selects), the installed onnxruntime-genai's own answer, broken
manifests refused in one line, and the declared choice set beside a measured decision."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import onnxruntime as ort
import onnxruntime_genai as og
import pytest
import support
from support.dispatch_stores import profile
from support.variant_stores import FAMILY, VARIANTS, family_rows

from genai_harness.dispatch.decision import Constraints
from genai_harness.dispatch.package_choice import DeclaredChoice, compare, declared_choice
from genai_harness.dispatch.ranking import rank
from genai_harness.errors import ModelError
from genai_harness.workloads.model_package import PackageVariant, is_model_package, read_package, write_package

TINY = support.REPO / "src/genai_harness/workloads/models/tiny-llm/onnxruntime_genai"


def _models(**folders: Path) -> list[SimpleNamespace]:
    return [SimpleNamespace(id=name, formats={"onnxruntime_genai": SimpleNamespace(path=path)})
            for name, path in folders.items()]


def test_a_written_package_is_read_back_and_onnxruntime_selects_the_first_cpu_variant(tmp_path: Path) -> None:
    copy = tmp_path / "tiny-copy"
    copy.mkdir()
    for item in TINY.iterdir():
        (copy / item.name).symlink_to(item)
    package = write_package(tmp_path / "pkg", [("second-build", copy, "CPUExecutionProvider", "cpu", "b"),
                                               ("first-build", TINY, "CPUExecutionProvider", "cpu", "a")])
    assert is_model_package(package) and not is_model_package(TINY)
    assert [v.name for v in read_package(package)] == ["second-build", "first-build"]
    declared = declared_choice(package, _models(tiny=TINY, copy=copy))
    # the real onnxruntime: the CPU EP scores no compatibility string, so the first declared variant is taken
    assert declared.selected.name == "second-build" and declared.model_id == "copy"
    assert f"onnxruntime {ort.__version__}" in declared.how and "first declared CPU variant" in declared.how
    # what the installed onnxruntime-genai says of the package, in its own words (0.18's wheel refuses it)
    try:
        og.Config(str(package))
        assert declared.genai.endswith("reads the package")
    except RuntimeError as exc:
        assert declared.genai == f"onnxruntime-genai {og.__version__} cannot load the package: {exc}"
    # onnxruntime can still open the selected variant's folder as a flat model, and so can onnxruntime-genai
    assert og.Config(str(declared.selected.folder)) is not None


def test_writing_refuses_a_used_folder_and_a_folder_that_is_no_genai_model(tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    with pytest.raises(ModelError, match="not an empty folder"):
        write_package(tmp_path / "used", [("a", TINY, "CPUExecutionProvider", "cpu", "")])
    with pytest.raises(ModelError, match=r"has no genai_config\.json"):
        write_package(tmp_path / "new", [("a", tmp_path / "used", "CPUExecutionProvider", "cpu", "")])
    with pytest.raises(ModelError, match="repeated or not a plain folder name"):
        write_package(tmp_path / "new", [("a", TINY, "X", "", ""), ("a", TINY, "X", "", "")])
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(("manifest", "expected"), [
    (None, "has no manifest.json"),
    ("{not json", "is not JSON"),
    ({"components": {"other": {}}}, "declares no variants under components.model.variants"),
    ({"components": {"model": {"variants": {"a": {"device": "cpu"}}}}}, "names no execution provider"),
    ({"components": {"model": {"variants": {"a": {"ep": "CPUExecutionProvider", "variant_directory": "../x"}}}}},
     "leaves the package"),
    ({"components": {"model": {"variants": {"a": {"ep": "CPUExecutionProvider"}}}}}, "has no genai_config.json"),
])
def test_a_broken_package_is_one_line_naming_the_file(tmp_path: Path, manifest: object, expected: str) -> None:
    if manifest is not None:
        (tmp_path / "manifest.json").write_text(manifest if isinstance(manifest, str) else json.dumps(manifest))
    with pytest.raises(ModelError, match=re.escape(expected)) as caught:
        read_package(tmp_path)
    assert "\n" not in str(caught.value) and str(tmp_path) in str(caught.value)


def _declared(model_id: str | None, device: str = "npu") -> DeclaredChoice:
    variant = PackageVariant("v", "OpenVINOExecutionProvider", device, "x", Path("/p/v"))
    return DeclaredChoice(Path("/p"), (variant,), variant, "selected by test", "reads", model_id)


def test_the_declared_choice_is_set_beside_the_measured_one() -> None:
    here = profile()
    # onnxruntime_genai targets only, as a package holds onnxruntime-genai folders
    genai = {m: (w, {k: t for k, t in targets.items() if t[0] == "onnxruntime_genai"}, s, a)
             for m, (w, targets, s, a) in VARIANTS.items()}
    frame = family_rows(here, genai)
    decision = rank(frame, task="text2text", model=FAMILY, objective="tpot", machine=here, variants=list(VARIANTS))
    assert (decision.winner.model_id, decision.device) == ("phi-mini-int4", "CPU")
    agree = compare(_declared("phi-mini-int4", "cpu"), decision)
    assert agree[-1] == "  verdict: the declaration agrees with the measurement"
    disagree = compare(_declared("phi-mini", "cpu"), decision)[-1]
    assert disagree.startswith("  verdict: the declaration disagrees: its variant ranks #3 of 3 (slower: ")
    floored = rank(frame, task="text2text", model=FAMILY, objective="tpot", machine=here, variants=list(VARIANTS),
                   constraints=Constraints(min_quality=0.9))
    excluded = compare(_declared("phi-mini-int4", "cpu"), floored)[-1]
    assert "its variant was excluded (phi-mini-int4 on onnxruntime_genai CPU" in excluded
    assert "quality below the floor" in excluded
    assert "never measured here" in compare(_declared("phi-mini-fp16", "npu"), decision)[-1]
    assert "no catalog model" in compare(_declared(None), decision)[-1]


def test_a_single_model_decision_is_compared_with_its_package_too() -> None:
    here = profile()
    frame = family_rows(here)
    alone = rank(frame, task="text2text", model="phi-mini-int4", objective="tpot", machine=here,
                 constraints=Constraints(frameworks=("onnxruntime_genai",)))
    assert alone.winner.model_id == "" and alone.device == "CPU"
    assert compare(_declared("phi-mini-int4", "cpu"), alone)[-1].endswith("agrees with the measurement")
    assert "never measured here" in compare(_declared("phi-mini", "cpu"), alone)[-1]
