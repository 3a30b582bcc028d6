"""What the dispatcher decides: the constraints a target must meet, a measured candidate, and the decision."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from genai_harness.analysis.keys import target_label

QUALITY_METRICS: dict[str, tuple[str, str]] = {
    "answers": ("ref_answer_share", "share of the float32 checkpoint's question set answered correctly"),
    "agreement": ("ref_token_agreement", "greedy token agreement with the float32 checkpoint"),
}
"""Quality measures a floor can name -> (the column ``run --reference`` records, what it means)."""


@dataclass(frozen=True)
class Constraints:
    """What a candidate must satisfy: a peak-memory cap (MiB), allowed precisions, frameworks, devices and model
    variants, and a quality floor (``min_quality`` on ``quality_metric``: ``answers`` or ``agreement``, 0-1)."""

    max_memory_mib: float | None = None
    precisions: tuple[str, ...] | None = None
    frameworks: tuple[str, ...] | None = None
    devices: tuple[str, ...] | None = None
    min_quality: float | None = None
    quality_metric: str = "answers"
    variants: tuple[str, ...] | None = None


NO_CONSTRAINTS = Constraints()
"""Any target will do."""


@dataclass(frozen=True)
class Candidate:
    """One measured target and what the evidence says it will give."""

    framework: str
    device: str
    environment: str
    execution_provider: str | None
    precision: str | None
    threads: int | None
    options: dict[str, Any]
    expected: float
    ci_low: float
    ci_high: float
    unit: str
    peak_rss_mib: float | None
    load_s: float | None
    """An app's first start: the empty-cache load (``load_cold_s``) where the target compiles, else ``load_s``."""
    n: int
    evidence: str
    """``this machine``, ``same hardware class (other machine)`` or ``stale: ...``."""
    reason: str = ""
    """For an alternative: why it lost to the winner (slower, tied but more memory ...)."""
    model_id: str = ""
    """The catalog model (the variant of a family) this target ran."""
    weight_precision: str | None = None
    """What the variant's weights are for compute (``int4 asym, block 32 (MatMulNBits)``, ``float32`` ...)."""
    answer_share: float | None = None
    """Median share of the checkpoint's question set answered correctly (``run --reference``); None: not measured."""
    agreement: float | None = None
    """Median greedy token agreement with the float32 checkpoint; None: not measured."""

    @property
    def target(self) -> str:
        """The readable target key."""
        return target_label(asdict(self))

    @property
    def choice(self) -> str:
        """The variant and target, ``smollm2-135m-int4 on onnxruntime_genai CPU [CPU]`` (the target alone when the
        model is unnamed)."""
        return f"{self.model_id} on {self.target}" if self.model_id else self.target

    def quality(self, metric: str) -> float | None:
        """This candidate's measured quality on ``metric`` (``answers`` or ``agreement``), None when unmeasured."""
        return self.answer_share if metric == "answers" else self.agreement


@dataclass(frozen=True)
class Decision:
    """The dispatcher's pick for one task, model and objective, with the ranked alternatives and why."""

    task: str
    model: str
    objective: str
    winner: Candidate | None
    alternatives: list[Candidate] = field(default_factory=list)
    reason: str = ""
    evidence_rows: int = 0
    newest_evidence: str | None = None
    evidence_age_s: float | None = None
    stale: bool = False
    static: bool = False
    excluded: list[str] = field(default_factory=list)

    @property
    def framework(self) -> str | None:
        """The winner's framework."""
        return self.winner.framework if self.winner else None

    @property
    def device(self) -> str | None:
        """The winner's device selector."""
        return self.winner.device if self.winner else None

    @property
    def environment(self) -> str | None:
        """The winner's Python environment."""
        return self.winner.environment if self.winner else None

    @property
    def expected(self) -> float | None:
        """The winner's expected value of the objective."""
        return self.winner.expected if self.winner else None

    @property
    def options(self) -> dict[str, Any]:
        """The winner's device options (as recorded with its evidence)."""
        return dict(self.winner.options) if self.winner else {}

    @property
    def ci_low(self) -> float | None:
        """Low end of the 95 % interval of the winner's expected value."""
        return self.winner.ci_low if self.winner else None

    @property
    def ci_high(self) -> float | None:
        """High end of the 95 % interval of the winner's expected value."""
        return self.winner.ci_high if self.winner else None

    @property
    def unit(self) -> str | None:
        """The unit of the objective (``ms``, ``items/s``, ``MiB``, ``s``)."""
        return self.winner.unit if self.winner else None

    @property
    def ranked(self) -> list[Candidate]:
        """Winner first, then the alternatives."""
        return ([self.winner] if self.winner else []) + list(self.alternatives)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``pick --json``)."""
        out = asdict(self)
        for item, source in zip([out["winner"], *out["alternatives"]], self.ranked, strict=False):
            if item is not None:
                item["target"] = source.target
        return out


def decision_from_dict(data: dict[str, Any]) -> Decision:
    """Inverse of :meth:`Decision.to_dict` (pure)."""
    names = {f.name for f in fields(Candidate)}

    def candidate(item: dict[str, Any] | None) -> Candidate | None:
        return None if item is None else Candidate(**{k: v for k, v in item.items() if k in names})

    return Decision(**{**data, "winner": candidate(data.get("winner")),
                       "alternatives": [candidate(a) for a in data.get("alternatives", [])]})
