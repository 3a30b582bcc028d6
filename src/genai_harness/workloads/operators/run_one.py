"""Run one operator model on one runtime target, in its own interpreter (numpy + the runtime only).

Run by path (``python run_one.py MODEL.onnx FEEDS.npz OUT.npz TARGET REPS``) so it works in any
environment, the OpenVINO-EP venv included, without genai_harness or onnx installed there. TARGET is an
onnxruntime execution provider name or ``openvino``. Writes ``Y`` and the per-run latencies (ms) to OUT;
a refusal is printed on stderr in the runtime's own words with exit status 3.
"""

import sys
import time

import numpy as np


def main() -> int:
    model_path, feeds_path, out_path, target, reps = sys.argv[1:6]
    feeds = dict(np.load(feeds_path))
    started = time.perf_counter()
    try:
        if target == "openvino":
            import openvino as ov

            core = ov.Core()
            hint = {"INFERENCE_PRECISION_HINT": "f16" if feeds["Q"].dtype == np.float16 else "f32"}
            compiled = core.compile_model(core.read_model(model_path), "CPU", hint)
            run = lambda: compiled(feeds)[0]  # noqa: E731
        else:
            import onnxruntime as ort

            session = ort.InferenceSession(model_path, providers=[target])
            run = lambda: session.run(None, feeds)[0]  # noqa: E731
        load_s = time.perf_counter() - started
        y = run()
    except Exception as exc:  # the runtime's own words are the finding
        print(" ".join(str(exc).split())[:2000], file=sys.stderr)
        return 3
    times = []
    for _ in range(int(reps)):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000.0)
    np.savez(out_path, Y=np.asarray(y), times_ms=np.array(times), load_s=np.array(load_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
