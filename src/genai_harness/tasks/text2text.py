"""Text generation (LLMs): forced-length generation, TTFT/TPOT/ITL, token agreement, the TTFT and latency objectives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from genai_harness.errors import GenerationError, WorkloadError
from genai_harness.interface import text2text
from genai_harness.interface.tasks import Task
from genai_harness.tasks import reference, timing
from genai_harness.tasks.base import OPTIONAL, REQUIRED, InputField, MeasuredCall, Objective, TaskKind
from genai_harness.tasks.instructions import Count, instruction_metric, text_counts
from genai_harness.tasks.metric import MetricInfo, metric_info
from genai_harness.tasks.prompts import prompt_file_path, prompt_with_tokens, read_prompt_file

T = (Task.TEXT2TEXT,)


def workload_prompt(inputs: Mapping[str, Any], pipeline: Any) -> str:
    """The prompt text of a workload's inputs for ``pipeline``: a corpus cut of ``prompt_tokens`` tokens or the
    text of ``prompt_file``, wrapped in the model's chat template when ``chat`` is true."""
    if "prompt_file" in inputs:
        text = read_prompt_file(inputs["prompt_file"])
    else:
        text = prompt_with_tokens(pipeline.encode, int(inputs["prompt_tokens"]))
    if inputs.get("chat"):
        framed = pipeline.chat_prompt(text)  # the same framing `generate` applies (interface: None = no template)
        if framed is None:
            raise WorkloadError(f"the model on {pipeline.framework} has no chat template; run this workload on a "
                                "model with one (onnxruntime_genai or openvino.genai), or set chat = false")
        text = framed
    return text


class Text2TextTask(TaskKind):
    """Generation of exactly ``new_tokens`` tokens after a prompt of exactly ``prompt_tokens`` tokens cut from the
    corpus, or after the text of ``prompt_file`` (a prompt written for a workload), in the model's chat template
    when ``chat`` is true (the template the runtime reads from the model folder, applied before the timed call)."""

    task: ClassVar[Task] = Task.TEXT2TEXT
    inputs: ClassVar[Mapping[str, InputField]] = {
        "prompt_tokens": (int, OPTIONAL, 1), "new_tokens": (int, REQUIRED, 1),
        "prompt_file": (str, OPTIONAL, None), "chat": (bool, OPTIONAL, None)}
    highest: ClassVar[Mapping[str, float]] = {"prompt_tokens": 1_048_576, "new_tokens": 1_048_576}
    metrics: ClassVar[tuple[MetricInfo, ...]] = (
        metric_info("ttft_ms", "TTFT", "ms", T, "lower", True, "{:.2f}"),
        metric_info("tpot_ms", "TPOT", "ms", T, "lower", True, "{:.3f}"),
        metric_info("decode_tps", "decode", "tokens/s", T, "higher", True, "{:.0f}", reciprocal_of="tpot_ms"),
        # the prompt's tokens over TTFT, call by call: one hypothesis with ttft_ms in a gate's family
        metric_info("prefill_tps", "prefill", "tokens/s", T, "higher", False, "{:.0f}", reciprocal_of="ttft_ms"),
        metric_info("itl_p50_ms", "ITL p50", "ms", T, "lower", False, "{:.3f}"),
        metric_info("itl_p90_ms", "ITL p90", "ms", T, "lower", False, "{:.3f}"),
        metric_info("e2e_ms", "end to end", "ms", T, "lower", False, "{:.1f}"),
        metric_info("energy_per_token_j", "energy per token", "J/token", T, "lower", False, "{:.3g}", "energy"),
        instruction_metric("instructions_prefill", "prefill instructions", T),
        instruction_metric("instructions_per_token", "instructions per token", T),
        instruction_metric("instructions_call", "instructions per call", T),
        metric_info("ref_token_agreement", "tokens equal to reference", "share", T, "higher", False, "{:.3f}",
                    "accuracy"),
        metric_info("ref_first_divergence", "first divergence", "token", T, "higher", False, "{:.0f}", "accuracy"),
        metric_info("ref_logits_max_diff", "logits max diff", "", T, "lower", False, "{:.3g}", "accuracy"),
        metric_info("ref_answer_share", "questions answered", "share", T, "higher", False, "{:.2f}", "accuracy"),
        metric_info("ref_nll", "NLL of the fixed text", "nats/token", T, "lower", False, "{:.3f}", "accuracy"),
        metric_info("ref_nll_checkpoint", "the checkpoint's NLL of the fixed text", "nats/token", T, "lower", False,
                    "{:.3f}", "accuracy"),
    )
    objectives: ClassVar[tuple[Objective, ...]] = (
        Objective("ttft", "ms", "lower", "ttft_ms", "ttft"),
        Objective("tpot", "ms", "lower", "tpot_ms"),
        Objective("latency", "ms", "lower", "ttft_ms", "latency"),
    )
    call_metric: ClassVar[str] = "e2e_ms"
    probe_id: ClassVar[str] = "probe-p32-g8"
    probe_inputs: ClassVar[Mapping[str, Any]] = {"prompt_tokens": 32, "new_tokens": 8}

    def check_inputs(self, inputs: Mapping[str, Any], where: str) -> None:
        if ("prompt_tokens" in inputs) == ("prompt_file" in inputs):
            raise WorkloadError(f"{where}: give either prompt_tokens (a prompt cut from the corpus) or prompt_file "
                                "(a written prompt), not both or neither")
        if "prompt_file" in inputs:
            prompt_file_path(inputs["prompt_file"])

    def measured_call(self, inputs: Mapping[str, Any], pipeline: Any) -> MeasuredCall:
        n_new = int(inputs["new_tokens"])
        prompt = workload_prompt(inputs, pipeline)
        config = text2text.GenerationConfig.exact(n_new)
        last: list[Any] = [None]

        def once() -> dict[str, Any]:
            result = pipeline(prompt, config)
            if len(result.token_ids) != n_new:
                raise GenerationError(f"{pipeline.framework} produced {len(result.token_ids)} tokens, "
                                      f"the workload forces {n_new}")
            last[0] = result.token_ids
            row = timing.text_metrics(result.start_ns, result.token_ns, result.end_ns, len(result.input_token_ids))
            return {**row, "native_metrics": result.native_metrics, "itl_ms": timing.intervals_ms(result.token_ns),
                    "stamps": {"start": result.start_ns, "tokens": list(result.token_ns), "end": result.end_ns}}

        return MeasuredCall(once, lambda: last[0])

    def instruction_counts(self, stamps: Mapping[str, Any], count: Count) -> dict[str, float | None]:
        return text_counts(stamps, count)

    def energy_per_unit(self, record: Mapping[str, Any], joules: float) -> dict[str, float]:
        return {"energy_per_token_j": joules / record["n_new_tokens"]} if record.get("n_new_tokens") else {}

    def agreement(self, inputs: Mapping[str, Any], output: Any, reference_output: Any, measured: Any,
                  reference_pipeline: Any) -> dict[str, Any]:
        """Token agreement and first divergence; where both runtimes expose logits (``logits_along``), also their
        largest difference along the reference's tokens."""
        share, first = reference.token_agreement(output, reference_output)
        agreement: dict[str, Any] = {"ref_token_agreement": share, "ref_first_divergence": first}
        if hasattr(measured, "logits_along") and hasattr(reference_pipeline, "logits_along"):
            prompt_ids = reference_pipeline.encode(workload_prompt(inputs, reference_pipeline))
            agreement["ref_logits_max_diff"] = reference.max_abs_diff(
                measured.logits_along(prompt_ids, reference_output),
                reference_pipeline.logits_along(prompt_ids, reference_output))
        return agreement

    def direct_call(self, pipeline: Any, params: Mapping[str, Any], load_s: float) -> dict[str, Any]:
        """One cold call (the first after load), then ``repeat`` warm ones; the prompt framed by the model's chat
        template unless ``raw``."""
        config = text2text.GenerationConfig.exact(params["max_new_tokens"]) if params.get("exact", True) \
            else text2text.GenerationConfig(max_new_tokens=params["max_new_tokens"])
        prompt, chat = str(params["prompt"]), "raw"
        if not params.get("raw", False):
            framed = pipeline.chat_prompt(prompt)
            prompt, chat = (framed, "applied") if framed is not None else (prompt, "none in model")
        result = pipeline(prompt, config)
        warm = [pipeline(prompt, config) for _ in range(int(params.get("repeat", 0)))]
        return {
            "load_s": load_s, "text": result.text, "token_ids": result.token_ids,
            "input_token_ids": result.input_token_ids, "prompt_sent": prompt, "chat_template": chat,
            "token_times_ms": [(t - result.start_ns) / 1e6 for t in result.token_ns],
            "metrics": timing.text_metrics(result.start_ns, result.token_ns, result.end_ns,
                                           len(result.input_token_ids)),
            "native_metrics": result.native_metrics,
            "warm_metrics": timing.spread([timing.text_metrics(r.start_ns, r.token_ns, r.end_ns,
                                                               len(r.input_token_ids)) for r in warm]),
        }

    def probe_output(self, pipeline: Any) -> Any:
        config = text2text.GenerationConfig.exact(int(self.probe_inputs["new_tokens"]))
        prompt = prompt_with_tokens(pipeline.encode, int(self.probe_inputs["prompt_tokens"]))
        return list(pipeline(prompt, config).token_ids)

    def probe_agrees(self, output: Any, reference_output: Any) -> tuple[bool, str]:
        same = list(output) == list(reference_output)
        shown = f"greedy ids differ ({list(output)[:4]}... vs {list(reference_output)[:4]}...)"
        return same, "greedy ids equal" if same else shown
