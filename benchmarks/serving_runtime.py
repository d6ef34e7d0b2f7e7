"""int8 ONNX Runtime vs torch fp32 eager: latency, accuracy and size of one registered Banking77 version.

Bars: latency_ratio_b1 and latency_ratio_b32 (torch / ONNX) >= 2.5, accuracy_drop on the full
official Banking77 test <= 0.005, size_ratio (safetensors bytes / int8 ONNX bytes) >= 3.

Trains nothing: point it at a home that holds a trained version (e.g. the one the banking77
benchmark left behind) with ``--home``. The version is exported first if it has no int8 export.
Both predictors run in this one process on the same texts, and each timed call is what serving
does: tokenize, run the model, turn logits into probabilities. Timed calls alternate between the
two runtimes in blocks (see ``_timed_pair``) so that a noisy neighbour slows both alike.

    .venv/bin/python benchmarks/serving_runtime.py --home /tmp/modelyard-bench-banking77-XXXX
    .venv/bin/python benchmarks/serving_runtime.py --home PATH --model tiny:1 --smoke   # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import machine, write_result

BARS = {"latency_ratio_b1": 2.5, "latency_ratio_b32": 2.5, "accuracy_drop": 0.005, "size_ratio": 3.0}
OFFICIAL_TEST_SIZE = 3080
BLOCK = 20
PAUSE_SECONDS = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="MODELYARD_HOME holding the trained version (default: as set).")
    parser.add_argument("--model", default="banking77", help="NAME[:VERSION] (default: banking77, production/latest).")
    parser.add_argument("--repeats", type=int, default=200, help="Timed calls per runtime and batch size.")
    parser.add_argument("--warmup", type=int, default=20, help="Untimed calls per runtime and batch size first.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the order the test texts are drawn in.")
    parser.add_argument("--smoke", action="store_true", help="A few repeats on 64 texts; prints, writes no result.")
    args = parser.parse_args()
    if args.home is not None:
        os.environ["MODELYARD_HOME"] = str(args.home.resolve())
        os.environ.pop("MODELYARD_DB_URL", None)  # the home's own SQLite file holds its versions
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.smoke:
        args.repeats, args.warmup = 5, 2

    import numpy as np
    import torch

    from modelyard import export, registry
    from modelyard.artifacts import verify_manifest
    from modelyard.runtime import INT8_FILE, OnnxPredictor, read_export_record
    from modelyard.tasks.text_classification.predict import Predictor

    version = registry.get(args.model)
    verify_manifest(version.path)
    record = read_export_record(version.path) if (version.path / "export.json").is_file() else {}
    exported_now = INT8_FILE not in record.get("sizes", {})
    if exported_now:
        print(f"exporting {version.ref} (no int8 export yet)", flush=True)
        record = export.run(version.ref).record
    max_length = int(version.config["model"]["max_length"])
    torch_model = Predictor(version.path, max_length=max_length)
    # allow_unusable: the figures below are the judgement here; the parity verdict is reported beside them.
    onnx_model = OnnxPredictor(version.path, int8=True, max_length=max_length, allow_unusable=True)

    rows = export.stored_examples(version.dataset_hash, "test")
    if args.smoke:
        rows = rows[:64]
    texts = [row.text for row in rows]
    gold = np.array([torch_model.label_map.label2id[str(row.label)] for row in rows])
    order = list(range(len(texts)))
    random.Random(args.seed).shuffle(order)

    latency: dict[str, dict[str, float]] = {}
    for batch_size in (1, 32):
        batches = [
            [texts[order[(start * batch_size + i) % len(order)]] for i in range(batch_size)]
            for start in range(args.warmup + args.repeats)
        ]
        torch_ms, onnx_ms = _timed_pair(
            torch_model.probabilities,  # a batch of 1 or 32 texts is one forward pass (default batch_size 64)
            onnx_model.probabilities,
            batches,
            args.warmup,
        )
        latency[f"b{batch_size}"] = {
            "torch_fp32_ms": statistics.median(torch_ms),
            "onnx_int8_ms": statistics.median(onnx_ms),
            "torch_fp32_p90_ms": _quantile(torch_ms, 0.9),
            "onnx_int8_p90_ms": _quantile(onnx_ms, 0.9),
        }

    started = time.perf_counter()
    torch_probs = torch_model.probabilities(texts)
    torch_seconds = time.perf_counter() - started
    started = time.perf_counter()
    onnx_probs = onnx_model.probabilities(texts)
    onnx_seconds = time.perf_counter() - started
    torch_pred, onnx_pred = torch_probs.argmax(axis=1), onnx_probs.argmax(axis=1)
    torch_accuracy = float((torch_pred == gold).mean())
    onnx_accuracy = float((onnx_pred == gold).mean())

    weights_bytes = sum(p.stat().st_size for p in version.path.glob("*.safetensors"))
    int8_bytes = (version.path / INT8_FILE).stat().st_size
    figures = {
        "latency_ratio_b1": latency["b1"]["torch_fp32_ms"] / latency["b1"]["onnx_int8_ms"],
        "latency_ratio_b32": latency["b32"]["torch_fp32_ms"] / latency["b32"]["onnx_int8_ms"],
        "accuracy_drop": torch_accuracy - onnx_accuracy,
        "size_ratio": weights_bytes / int8_bytes,
    }
    passed = {
        name: figures[name] <= bar if name == "accuracy_drop" else figures[name] >= bar for name, bar in BARS.items()
    }
    payload: dict[str, Any] = {
        "model": version.ref,
        "base_model": version.base_model,
        "method": version.method,
        **{name: round(value, 4) for name, value in figures.items()},
        "bar": BARS,
        "passed": passed,
        "latency_ms": {b: {k: round(v, 3) for k, v in figures_.items()} for b, figures_ in latency.items()},
        "repeats": args.repeats,
        "warmup": args.warmup,
        "torch_accuracy": torch_accuracy,
        "onnx_int8_accuracy": onnx_accuracy,
        "agreement": float((torch_pred == onnx_pred).mean()),
        "n_test": len(texts),
        "official_test": len(texts) == OFFICIAL_TEST_SIZE,
        "full_test_seconds": {"torch_fp32": round(torch_seconds, 2), "onnx_int8": round(onnx_seconds, 2)},
        "bytes": {"safetensors": weights_bytes, "onnx_int8": int8_bytes},
        "threads": {"torch": torch.get_num_threads(), "onnxruntime_intra_op": onnx_model.threads},
        "export": {key: record[key] for key in ("usable", "failures", "parity", "quantization", "opset", "packages")},
        "exported_by_this_run": exported_now,
    }
    if args.smoke:
        print(json.dumps(payload | {"machine": machine()}, indent=2, default=str))
        return
    write_result("serving_runtime", payload)


def _timed_pair(
    first: Callable[[list[str]], Any], second: Callable[[list[str]], Any], batches: list[list[str]], warmup: int
) -> tuple[list[float], list[float]]:
    """Milliseconds per call of each function on the same batches, in alternating blocks.

    Blocks, not call-by-call alternation: both runtimes keep their worker threads spinning for a while
    after a call (OpenMP in torch, ONNX Runtime's intra-op pool), which would slow whichever call comes
    next. Alternating blocks of BLOCK calls, with a pause before each, keeps that out of the figures
    while drift of a shared machine still hits both alike.
    """
    first_ms: list[float] = []
    second_ms: list[float] = []
    for function in (first, second):
        for batch in batches[:warmup]:
            function(batch)
    timed = batches[warmup:]
    for round_, start in enumerate(range(0, len(timed), BLOCK)):
        pair = [(first, first_ms), (second, second_ms)]
        for function, times in pair if round_ % 2 == 0 else reversed(pair):
            time.sleep(PAUSE_SECONDS)
            for batch in timed[start : start + BLOCK]:
                started = time.perf_counter()
                function(batch)
                times.append((time.perf_counter() - started) * 1000)
    return first_ms, second_ms


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


if __name__ == "__main__":
    main()
