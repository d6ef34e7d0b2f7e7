"""Ten LoRA adapters on one shared base vs one fully fine-tuned model (bars: memory_ratio <= 1.3, latency_ratio <= 1.2).

Trains (a few steps each: this measures serving, not accuracy) seven Banking77
intent adapters and three CoNLL-2003 NER adapters — LoRA r=8 on query/value, each
with its own head — and one fully fine-tuned Banking77 model, on small subsets of
the real data. Then two `modelyard serve` processes run side by side: A serves
the ten adapters (one shared MiniLM-L6 in memory), B the full model. Both run
torch on the CPU (no ONNX export), so the comparison is the adapter mechanism
alone. Resident memory (VmRSS) is read once both are ready and again after the
load; latency is the p50 of single-text requests from the same closed-loop load
(Banking77 test texts), alternating A and B in blocks so drift hits both alike.

    .venv/bin/python benchmarks/adapters.py
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from _common import isolated_home, write_result
from loadgen import run_load
from serving_load import served_runtime, stop, wait_ready

N_INTENT, N_NER = 7, 3
PORT_SHARED, PORT_FULL = 8720, 8721


def subsets(root: Path) -> tuple[Path, Path, list[str]]:
    from modelyard.data import fetch

    with fetch.fetch("banking77").splits["train"].open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))[::6]  # 1,500 texts, at least 5 of every intent
    intents = root / "banking77-subset.csv"
    with intents.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    sentences = fetch.fetch("conll2003").splits["train"].read_text(encoding="utf-8").split("\n\n")[:600]
    ner = root / "conll2003-subset.conll"
    ner.write_text("\n\n".join(sentences) + "\n", encoding="utf-8")
    with fetch.fetch("banking77").splits["test"].open(encoding="utf-8", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    return intents, ner, texts


def recipe(name: str, data: Path, task: str, method: str, seed: int) -> dict[str, Any]:
    training: dict[str, Any] = {"max_steps": 8, "batch_size": 16, "eval_every": 8, "seed": seed}
    if method == "lora":
        training |= {"method": "lora", "lora": {"r": 8, "alpha": 16}, "learning_rate": 5e-3}
    return {
        "name": name,
        "project": "bench",
        "task": task,
        "data": {"path": str(data)},
        "model": {"base": "minilm-l6", "max_length": 64 if task == "text-classification" else 128},
        "training": training,
    }


def train_all(intents: Path, ner: Path) -> tuple[list[str], str]:
    from modelyard import registry, train
    from modelyard.config import parse_recipe

    adapters = [f"intent-{i}" for i in range(N_INTENT)] + [f"ner-{i}" for i in range(N_NER)]
    for i, name in enumerate(adapters):
        task = "text-classification" if name.startswith("intent") else "token-classification"
        data = intents if task == "text-classification" else ner
        version = train.run(parse_recipe(recipe(name, data, task, "lora", seed=i))).version
        assert version is not None
        registry.promote(version.ref, "production")
    full = train.run(parse_recipe(recipe("intent-full", intents, "text-classification", "full", seed=0))).version
    assert full is not None
    registry.promote(full.ref, "production")
    return adapters, "intent-full"


def rss_mb(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    values = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines() if line.startswith("Vm")}
    return {"rss_mb": round(values["VmRSS"] / 1024, 1), "peak_rss_mb": round(values["VmHWM"] / 1024, 1)}


def start(port: int, models: list[str], log: Any) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "modelyard", "serve", "--port", str(port), "--poll-seconds", "3600"]
    for model in models:
        command += ["--model", model]
    # One intra-op thread per server: both live on the same 2 cores, and the load alternates between them.
    env = os.environ | {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)


def block(port: int, path: str, texts: list[str], headers: dict[str, str], requests: int, concurrency: int) -> Any:
    return asyncio.run(
        run_load("127.0.0.1", port, path, texts, headers=headers, concurrency=concurrency, total=requests)
    ).summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", type=int, default=4, help="Alternating load blocks per server.")
    parser.add_argument("--requests", type=int, default=500, help="Requests per block.")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    home = isolated_home("adapters")
    from modelyard import access, registry

    intents, ner, texts = subsets(home)
    adapters, full = train_all(intents, ner)
    adapter_kb = {
        name: round((registry.get(name).path / "adapter_model.safetensors").stat().st_size / 1024, 1)
        for name in adapters
    }
    full_mb = round((registry.get(full).path / "model.safetensors").stat().st_size / 2**20, 1)
    key = access.create("client", ["bench"], "adapters benchmark").key
    headers = {"Authorization": f"Bearer {key}"}

    log = open(home / "adapters.log", "ab")  # noqa: SIM115 - closed with the processes
    shared, dedicated = start(PORT_SHARED, adapters, log), start(PORT_FULL, [full], log)
    try:
        wait_ready(f"http://127.0.0.1:{PORT_SHARED}/readyz")
        wait_ready(f"http://127.0.0.1:{PORT_FULL}/readyz")
        runtimes = {name: served_runtime(PORT_SHARED, name, headers) for name in adapters}
        runtimes[full] = served_runtime(PORT_FULL, full, headers)
        memory_ready = {"shared_10_adapters": rss_mb(shared.pid), "full_1_model": rss_mb(dedicated.pid)}
        target = {
            "shared": (PORT_SHARED, f"/v1/models/{adapters[0]}/predict"),
            "full": (PORT_FULL, f"/v1/models/{full}/predict"),
        }
        for port, path in target.values():  # warm-up, not counted
            block(port, path, texts, headers, 100, args.concurrency)
        runs: dict[str, list[dict[str, Any]]] = {"shared": [], "full": []}
        for _ in range(args.blocks):
            for which, (port, path) in target.items():
                runs[which].append(block(port, path, texts, headers, args.requests, args.concurrency))
        memory_after = {"shared_10_adapters": rss_mb(shared.pid), "full_1_model": rss_mb(dedicated.pid)}
    finally:
        stop(shared)
        stop(dedicated)

    p50 = {which: statistics.median(r["p50_ms"] for r in blocks) for which, blocks in runs.items()}
    ratio_memory = memory_after["shared_10_adapters"]["rss_mb"] / memory_after["full_1_model"]["rss_mb"]
    write_result(
        "adapters",
        {
            "memory_ratio": round(ratio_memory, 3),
            "memory_ratio_at_ready": round(
                memory_ready["shared_10_adapters"]["rss_mb"] / memory_ready["full_1_model"]["rss_mb"], 3
            ),
            "latency_ratio": round(p50["shared"] / p50["full"], 3),
            "p50_ms": p50,
            "adapter_kb": adapter_kb,
            "adapter_mb": round(statistics.mean(adapter_kb.values()) / 1024, 3),
            "full_model_weights_mb": full_mb,
            "memory_at_ready": memory_ready,
            "memory_after_load": memory_after,
            "runtimes": runtimes,
            "blocks": runs,
            "load": {"concurrency": args.concurrency, "requests_per_block": args.requests, "blocks": args.blocks},
            "adapters": {"intent (Banking77 subset)": N_INTENT, "ner (CoNLL-2003 subset)": N_NER},
            "bar": {"memory_ratio": 1.3, "latency_ratio": 1.2},
        },
    )


if __name__ == "__main__":
    main()
