"""text2text.Pipeline timing, streaming and errors, over a fake deterministic runtime and a fake clock.

The fake stands in for a runtime only to test harness logic (timing points, the threaded
generator, error wrapping); real runtimes are exercised by the backend tests.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from genai_harness.clock import FakeClock
from genai_harness.errors import GenerationError, ModelError
from genai_harness.interface import Device, text2text

T = TypeVar("T")
GUARD_S = 10.0


def within(fn: Callable[[], T], seconds: float = GUARD_S) -> T:
    """Run ``fn`` in a thread and fail (instead of hanging the suite) if it does not return in time."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"did not finish within {seconds} s: the generator hangs"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class FakeRuntimePipeline(text2text.Pipeline):
    """A deterministic 'runtime': each new id depends on the prompt ids and the previous id.

    ``stop_after`` makes it stop early (as on EOS); ``fail_after`` makes it raise mid-generation.
    """

    framework = "test.fake-runtime"

    def __init__(self, clock=None, *, stop_after: int | None = None, fail_after: int | None = None,
                 failure: BaseException | None = None) -> None:
        super().__init__(Device("CPU", framework=self.framework), **({"clock": clock} if clock else {}))
        self.stop_after = stop_after
        self.fail_after = fail_after
        self.failure = failure or RuntimeError("device lost")
        self.calls: list[list[int]] = []

    def _encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def _decode(self, token_ids) -> str:
        return "".join(chr(ord("a") + i % 26) for i in token_ids)

    def _generate_ids(self, input_ids, config, on_token) -> dict[str, Any]:
        self.calls.append(list(input_ids))
        state = sum(input_ids) % 1000
        produced = 0
        for step in range(config.max_new_tokens):
            if self.fail_after is not None and step == self.fail_after:
                raise self.failure
            if self.stop_after is not None and step == self.stop_after:
                break
            state = (state * 31 + 7 + step) % 1000
            on_token(state)
            produced += 1
        return {"fake_steps": produced}


def test_result_has_exactly_max_new_tokens_and_fake_clock_times():
    clock = FakeClock(step_ns=1_000, start_ns=5_000)
    pipe = FakeRuntimePipeline(clock)
    config = text2text.GenerationConfig.exact(6)
    result = pipe("hello", config)
    assert len(result.token_ids) == 6
    assert result.input_token_ids == [ord(c) for c in "hello"]
    # One reading at the call, one per token, one at return, all from the injected clock.
    assert result.start_ns == 5_000
    assert result.token_ns == [6_000, 7_000, 8_000, 9_000, 10_000, 11_000]
    assert result.end_ns == 12_000
    stamps = [result.start_ns, *result.token_ns, result.end_ns]
    assert all(a < b for a, b in itertools.pairwise(stamps))
    assert result.text == pipe.decode(result.token_ids)
    assert result.native_metrics == {"fake_steps": 6}


def test_scripted_clock_steps_are_reported_as_read():
    clock = FakeClock(steps=[100, 7, 50, 1])
    result = FakeRuntimePipeline(clock)("x", text2text.GenerationConfig.exact(3))
    assert (result.start_ns, result.token_ns, result.end_ns) == (0, [100, 107, 157], 158)


def test_generation_is_deterministic_and_uses_default_config():
    pipe = FakeRuntimePipeline()
    pipe.set_generation_config(text2text.GenerationConfig.exact(4))
    assert pipe.get_generation_config().max_new_tokens == 4
    first, second = pipe("same prompt"), pipe("same prompt")
    assert first.token_ids == second.token_ids and len(first.token_ids) == 4
    assert pipe("other prompt").token_ids != first.token_ids


def test_token_ids_input_skips_tokenization():
    pipe = FakeRuntimePipeline()
    config = text2text.GenerationConfig.exact(3)
    by_ids = pipe(text2text.GenerationInput(token_ids=(104, 105)), config)
    assert by_ids.input_token_ids == [104, 105]
    assert by_ids.token_ids == pipe("hi", config).token_ids


def test_stream_and_generator_give_the_same_ids_as_call():
    pipe = FakeRuntimePipeline()
    config = text2text.GenerationConfig.exact(8)
    expected = pipe("stream me", config).token_ids

    assert within(lambda: list(pipe.stream("stream me", config))) == expected
    assert within(lambda: list(pipe.stream(text2text.GenerationInput("stream me"), config))) == expected

    def by_hand() -> list[int]:
        generator = pipe.create_generator(config)
        assert isinstance(generator, text2text.ThreadedGenerator)
        generator.append_input_tokens("stream ")
        generator.append_input_tokens([ord(c) for c in "me"])  # text and ids may be mixed
        ids = []
        while not generator.is_done():
            ids.append(generator.generate_next_token())
        assert generator.is_done()
        return ids

    assert within(by_hand) == expected


def test_generator_refuses_appending_after_start_and_stepping_after_done():
    pipe = FakeRuntimePipeline()

    def scenario() -> None:
        generator = pipe.create_generator(text2text.GenerationConfig.exact(2))
        generator.append_input_tokens("ab")
        generator.generate_next_token()
        with pytest.raises(GenerationError, match="started"):
            generator.append_input_tokens("more")
        generator.generate_next_token()
        assert generator.is_done()
        with pytest.raises(GenerationError, match="done"):
            generator.generate_next_token()

    within(scenario)


def test_generator_handles_a_runtime_that_stops_early():
    pipe = FakeRuntimePipeline(stop_after=3)
    config = text2text.GenerationConfig(max_new_tokens=10)

    def drain() -> tuple[list[int], bool]:
        generator = pipe.create_generator(config)
        generator.append_input_tokens("early")
        ids = []
        while not generator.is_done():
            ids.append(generator.generate_next_token())
        return ids, generator.is_done()

    ids, done = within(drain)
    assert len(ids) == 3 and done
    assert ids == pipe("early", config).token_ids
    assert within(lambda: list(pipe.stream("early", config))) == ids


def test_generator_over_a_runtime_that_emits_nothing():
    pipe = FakeRuntimePipeline(stop_after=0)
    generator = pipe.create_generator(text2text.GenerationConfig(max_new_tokens=5))
    generator.append_input_tokens("x")
    assert within(generator.is_done) is True


def test_runtime_exception_becomes_generation_error():
    pipe = FakeRuntimePipeline(fail_after=2)
    with pytest.raises(GenerationError, match=r"test\.fake-runtime failed during generation: device lost") as info:
        pipe("boom", text2text.GenerationConfig.exact(5))
    assert isinstance(info.value.__cause__, RuntimeError)


def test_harness_errors_from_a_backend_pass_through_unchanged():
    pipe = FakeRuntimePipeline(fail_after=0, failure=ModelError("model.onnx is corrupt"))
    with pytest.raises(ModelError, match="corrupt"):
        pipe("boom", text2text.GenerationConfig.exact(5))


def test_runtime_exception_mid_stream_becomes_generation_error():
    pipe = FakeRuntimePipeline(fail_after=2)
    config = text2text.GenerationConfig.exact(5)

    def scenario() -> list[int]:
        generator = pipe.create_generator(config)
        generator.append_input_tokens("boom")
        ids = [generator.generate_next_token(), generator.generate_next_token()]
        with pytest.raises(GenerationError, match="device lost"):
            generator.is_done()
        assert generator.is_done()  # after the error the generator is finished, not stuck
        return ids

    assert len(within(scenario)) == 2

    def stream_all() -> None:
        list(pipe.stream("boom", config))

    with pytest.raises(GenerationError, match="device lost"):
        within(stream_all)


def test_pipeline_is_a_context_manager():
    closed = []

    class Closing(FakeRuntimePipeline):
        def close(self) -> None:
            closed.append(True)

    with Closing() as pipe:
        assert pipe("a", text2text.GenerationConfig.exact(1)).token_ids
    assert closed == [True]


# ---- runtimes that time themselves; one generation at a time ------------------------------------------------------

class SelfTimedPipeline(FakeRuntimePipeline):
    """A runtime that records its own per-token times (as openvino-genai does): no callback in its loop."""

    def _generate_timed(self, input_ids: list[int], config: text2text.GenerationConfig,
                        call_start_ns: int) -> text2text.TimedGeneration:
        ids = [(input_ids[-1] + i + 1) % 100 for i in range(config.max_new_tokens)]
        return text2text.TimedGeneration(ids, [call_start_ns + 1000 * (i + 1) for i in range(len(ids))],
                                         {"own": True})

    def _generate_ids(self, input_ids: list[int], config: text2text.GenerationConfig,
                      on_token: text2text.TokenCallback) -> dict[str, Any]:
        raise AssertionError("the call path must not use the per-token callback of a self-timed runtime")


def test_a_self_timed_runtime_gives_its_own_token_times_on_our_clock() -> None:
    pipeline = SelfTimedPipeline(FakeClock(step_ns=10))
    result = pipeline("abc", text2text.GenerationConfig.exact(4))
    assert len(result.token_ids) == 4 and result.native_metrics == {"own": True}
    assert result.token_ns == [result.start_ns + 1000 * (i + 1) for i in range(4)]
    assert result.text == pipeline.decode(result.token_ids)


def test_generations_on_one_pipeline_never_overlap() -> None:
    """Two threads calling one pipeline: the runtime sees one generation at a time."""
    active, overlaps = [0], [0]
    lock = threading.Lock()

    class Slow(FakeRuntimePipeline):
        def _generate_ids(self, input_ids: list[int], config: text2text.GenerationConfig,
                          on_token: text2text.TokenCallback) -> dict[str, Any]:
            with lock:
                active[0] += 1
                overlaps[0] += active[0] > 1
            import time

            time.sleep(0.02)
            with lock:
                active[0] -= 1
            return super()._generate_ids(input_ids, config, on_token)

    pipeline = Slow()
    threads = [threading.Thread(target=pipeline, args=("abc", text2text.GenerationConfig.exact(3)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(GUARD_S)
    assert overlaps[0] == 0


def test_a_finished_stream_has_let_go_of_the_runtime() -> None:
    """The last id of a stream is yielded only once the runtime's generate has returned."""
    returned = threading.Event()

    class Lingering(FakeRuntimePipeline):
        def _generate_ids(self, input_ids: list[int], config: text2text.GenerationConfig,
                          on_token: text2text.TokenCallback) -> dict[str, Any]:
            native = super()._generate_ids(input_ids, config, on_token)
            import time

            time.sleep(0.05)  # bookkeeping after the last token, as openvino-genai does
            returned.set()
            return native

    pipeline = Lingering()
    ids = within(lambda: list(pipeline.stream("abc", text2text.GenerationConfig.exact(3))))
    assert len(ids) == 3 and returned.is_set()
