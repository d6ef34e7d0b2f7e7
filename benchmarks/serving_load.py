"""Requests/second of `modelyard serve` vs a hand-written FastAPI + HF pipeline app (bar: ratio >= 3).

32 concurrent keep-alive clients on loopback send single-text requests (Banking77
test texts), bounded in count and time. Each server runs alone on the same
machine in the same run, same model version; `modelyard serve` uses the int8
ONNX export when the version has a usable one, with dynamic batching.
Needs a home with a trained `banking77` version: pass the MODELYARD_HOME that
benchmarks/banking77.py prints with --home (its production version is served, else its latest).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from _common import write_result
from loadgen import run_load

HERE = Path(__file__).resolve().parent


def wait_ready(url: str, seconds: float = 180) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} never became ready")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def measure(
    port: int, path: str, texts: list[str], headers: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    asyncio.run(
        run_load(
            "127.0.0.1",
            port,
            path,
            texts,
            headers=headers,
            concurrency=args.concurrency,
            total=min(300, args.requests),
            max_seconds=60,
        )
    )  # warm-up, not counted
    result = asyncio.run(
        run_load(
            "127.0.0.1",
            port,
            path,
            texts,
            headers=headers,
            concurrency=args.concurrency,
            total=args.requests,
            max_seconds=args.max_seconds,
        )
    )
    return result.summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", required=True, help="MODELYARD_HOME holding a banking77 version")
    parser.add_argument("--model", default="banking77")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=400)
    args = parser.parse_args()
    os.environ["MODELYARD_HOME"] = args.home
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from modelyard import access, registry
    from modelyard.data import fetch

    version = registry.get(args.model)  # its production version, else its latest — what serve --model loads
    with fetch.fetch("banking77").splits["test"].open(encoding="utf-8", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    key = access.create("client", [version.project], "serving_load benchmark").key

    log = open(Path(args.home) / "serving_load.log", "ab")  # noqa: SIM115 - closed with the processes
    ours = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "serve", "--port", "8710", "--model", args.model],
        env=os.environ,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        wait_ready("http://127.0.0.1:8710/readyz")
        headers = {"Authorization": f"Bearer {key}"}
        runtime = served_runtime(8710, args.model, headers)
        modelyard = measure(8710, f"/v1/models/{args.model}/predict", texts, headers, args)
    finally:
        stop(ours)

    baseline_env = os.environ | {"MODEL_DIR": str(version.path)}
    baseline = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "pipeline_server:app", "--port", "8711", "--log-level", "warning"],
        cwd=HERE / "baselines",
        env=baseline_env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        wait_ready_post(8711)
        plain = measure(8711, "/predict", texts, {}, args)
    finally:
        stop(baseline)

    write_result(
        "serving_load",
        {
            "throughput_ratio": round(modelyard["requests_per_second"] / plain["requests_per_second"], 2),
            "errors": modelyard["errors"],
            "baseline_errors": plain["errors"],
            "p50_ms": modelyard["p50_ms"],
            "p99_ms": modelyard["p99_ms"],
            "modelyard": modelyard | {"runtime": runtime, "model": version.ref},
            "baseline_pipeline": plain,
            "concurrency": args.concurrency,
            "bar": {"throughput_ratio": 3, "errors": 0, "requests_at_least": 10_000},
        },
    )


def served_runtime(port: int, model: str, headers: dict[str, str]) -> str:
    """What the server says it runs the model with (onnx-int8, onnx-fp32 or torch)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models/{model}", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["runtime"])


def wait_ready_post(port: int, seconds: float = 180) -> None:
    deadline = time.time() + seconds
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict", data=b'{"text": "hi"}', headers={"Content-Type": "application/json"}
    )
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"baseline on port {port} never answered")


if __name__ == "__main__":
    main()
