"""`make demo`: the main job on real data, through the same CLI a user types.

Fetch Banking77 (pinned, SHA-256 checked), fine-tune the packaged MiniLM-L6,
evaluate on the official test split, register and promote the version, then
show the report summary and a prediction.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELYARD = [sys.executable, "-m", "modelyard"]


def step(*args: str) -> str:
    print(f"\n$ modelyard {shlex.join(args)}", flush=True)
    done = subprocess.run([*MODELYARD, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        sys.exit(done.returncode)
    return done.stdout


def main() -> None:
    started = time.perf_counter()
    step("datasets", "fetch", "banking77")
    step("train", "configs/banking77-demo.yaml")
    step("models", "promote", "banking77:latest", "--stage", "production")
    card = json.loads(
        subprocess.run(
            [*MODELYARD, "models", "show", "banking77:production"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        ).stdout
    )
    report = json.loads((Path(card["path"]) / "report.json").read_text(encoding="utf-8"))
    worst = sorted(report["per_class"], key=lambda c: c["f1"])[:5]
    print(f"\nreport: {card['path']}/report.md (confusion.png, learning_curve.png beside it)")
    print(f"official test: accuracy {report['accuracy']:.4f} · macro-F1 {report['macro_f1']:.4f} · n={report['n']}")
    print("hardest intents: " + ", ".join(f"{c['label']} ({c['f1']:.2f})" for c in worst))
    step("predict", "--model", "banking77", "I still have not received my new card")
    step("models", "list", "banking77")
    print(f"\ndemo finished in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
