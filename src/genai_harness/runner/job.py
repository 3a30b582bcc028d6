"""The job a run belongs to: the CI job (or a session a user names) whose runs were taken in a row (pure).

Separate runs of one job share the machine's drift over minutes (a runner warming up, a neighbour starting),
so the gate counts a job, not a run, as the unit between which that drift varies (``gate.compare``). The id
comes from ``run --job NAME``, else ``$GENAI_HARNESS_JOB``, else the CI system's own variables
(:data:`CI_JOB_VARIABLES`); with none, a run names no job and the gate counts it as its own.
"""

from __future__ import annotations

from collections.abc import Mapping

from genai_harness.errors import ConfigurationError

JOB_ENV = "GENAI_HARNESS_JOB"
"""Environment variable naming the job of every run started under it (``run --job`` wins)."""
MAX_JOB_LENGTH = 200
"""Longest job id accepted (a CI job id is far shorter)."""
CI_JOB_VARIABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("github", ("GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_JOB")),
    ("gitlab", ("CI_PROJECT_PATH", "CI_JOB_ID")),
    ("buildkite", ("BUILDKITE_JOB_ID",)),
    ("azure", ("BUILD_BUILDID", "SYSTEM_JOBID")),
    ("circleci", ("CIRCLE_WORKFLOW_JOB_ID",)),
    ("jenkins", ("BUILD_TAG",)),
)
"""Per CI system, the variables whose values together name one job (one attempt of it): the first system whose
variables are all set gives the id ``system:value/value...``. GitHub's run id alone is shared by a workflow's
jobs and reruns, hence the attempt and the job name."""


def check_job(name: str, where: str = "--job") -> str:
    """``name`` as a job id, or :class:`ConfigurationError` saying what is wrong with it (pure)."""
    text = name.strip()
    if not text:
        raise ConfigurationError(f"{where} is empty; name the job (e.g. --job nightly-42) or leave it out")
    if len(text) > MAX_JOB_LENGTH or not text.isprintable():
        raise ConfigurationError(f"{where} must be printable text of at most {MAX_JOB_LENGTH} characters "
                                 f"(e.g. the CI job's id), got {name[:40]!r}...")
    return text


def job_id(explicit: str | None, environ: Mapping[str, str]) -> str | None:
    """The job a run belongs to (pure): ``explicit`` (``run --job``), else ``$GENAI_HARNESS_JOB``, else the
    first CI system of :data:`CI_JOB_VARIABLES` whose variables are all set; None when nothing names one."""
    if explicit is not None:
        return check_job(explicit)
    if environ.get(JOB_ENV) is not None:
        return check_job(environ[JOB_ENV], f"${JOB_ENV}")
    for system, names in CI_JOB_VARIABLES:
        values = [environ.get(name, "").strip() for name in names]
        if all(values):
            return check_job(f"{system}:{'/'.join(values)}", f"the {system} job id")
    return None


CONFIRM_PART = "confirm"
"""A failing CI gate measures the suite again as a second job, ``JOB/confirm``, before it fails (``run
--confirming``, the pytest plugin's ``--genai-confirm``)."""


def confirming_job(job: str | None) -> str:
    """The id of the second job that confirms ``job``'s failing gate, ``JOB/confirm`` (pure); a
    :class:`ConfigurationError` when there is no job to confirm."""
    if job is None:
        raise ConfigurationError("--confirming needs the job it confirms: name it with --job or $GENAI_HARNESS_JOB "
                                 "(a CI system's own job id is found without either)")
    return check_job(f"{job}/{CONFIRM_PART}", "the confirming job id")
