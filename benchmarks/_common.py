"""Shared by the benchmark scripts: an isolated modelyard home, machine facts, and the result file."""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import sys
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PACKAGES = ("modelyard", "torch", "transformers", "peft", "accelerate", "tokenizers", "scikit-learn")


def isolated_home(name: str) -> Path:
    """A fresh MODELYARD_HOME for one benchmark; the archive cache is shared so data is fetched once."""
    home = Path(tempfile.mkdtemp(prefix=f"modelyard-bench-{name}-"))
    os.environ["MODELYARD_HOME"] = str(home)
    os.environ.setdefault("MODELYARD_CACHE", str(Path.home() / ".modelyard" / "cache"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.pop("MODELYARD_DB_URL", None)
    # Printed so later benchmarks (serving_runtime, serving_load) can be pointed at what this one trained.
    print(f"MODELYARD_HOME={home}", file=sys.stderr, flush=True)
    return home


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory_gib = round(kib / 2**20, 1)
    import torch

    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": memory_gib,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in PACKAGES},
    }


def _script() -> str:
    return os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def write_result(name: str, payload: dict[str, Any]) -> Path:
    """benchmarks/results/<name>.json with the figures, the machine, the time and the command to rerun."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = payload | {
        "machine": machine(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "HF_HUB_OFFLINE=1 .venv/bin/python "
        + shlex.join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in record.items() if k not in ("machine", "per_class")}, indent=2))
    return path


def final_fit_recipe(recipe: Any, dataset: str, home: Path, epochs: float) -> Any:
    """The usual final fit: ``recipe`` on the fetched data set's train + validation rows for a fixed number
    of epochs (chosen beforehand from a validation run), no early stopping, ending with the last checkpoint,
    the same test split.

    Validation figures printed while it trains are then on rows seen in training and decide nothing."""
    from modelyard.config import DataSpec
    from modelyard.data import fetch

    fetched = fetch.fetch(dataset)
    rows: dict[str, list[dict[str, str]]] = {}
    for split, path in fetched.splits.items():
        with Path(path).open(encoding="utf-8", newline="") as handle:
            rows[split] = list(csv.DictReader(handle))
    files = {"train": rows["train"] + rows["validation"], "validation": rows["validation"], "test": rows["test"]}
    columns = [fetched.text_column, fetched.label_column]
    for split, split_rows in files.items():
        with (home / f"final-fit-{split}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(split_rows)
    data = DataSpec(
        **{split: home / f"final-fit-{split}.csv" for split in files},
        text_column=fetched.text_column,
        label_column=fetched.label_column,
    )
    training = recipe.training.model_copy(update={"epochs": epochs, "early_stopping_patience": None, "keep": "last"})
    return recipe.model_copy(update={"data": data, "training": training})


def classification_arguments(doc: str, recipe: str, result: str) -> argparse.Namespace:
    """``--recipe``, ``--full-train EPOCHS`` and ``--result NAME`` (a trial of another recipe keeps its own file)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default=recipe)
    parser.add_argument("--full-train", type=float, metavar="EPOCHS", help="fit train+validation for EPOCHS")
    parser.add_argument("--result", default=result, help=f"benchmarks/results/<RESULT>.json (default {result})")
    parser.add_argument(
        "--average-last", type=int, metavar="N", help="override the recipe's training.average_last (a trial)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one recipe key for a trial, e.g. --set training.rdrop=1.0 (YAML value; repeatable)",
    )
    parser.add_argument(
        "--soup-seeds",
        type=lambda text: [int(seed) for seed in text.split(",")],
        metavar="S1,S2,...",
        help="train the recipe once per seed and register the soup of the runs (modelyard models soup)",
    )
    return parser.parse_args()


def with_overrides(recipe: Any, overrides: list[str]) -> Any:
    """``recipe`` with each ``section.key=value`` applied, validated again as a whole recipe."""
    import yaml

    from modelyard.config import parse_recipe

    raw = recipe.model_dump(mode="json")
    for override in overrides:
        path, separator, value = override.partition("=")
        if not separator:
            raise SystemExit(f"--set {override!r}: write KEY=VALUE, e.g. training.rdrop=1.0")
        *parents, key = path.split(".")
        node = raw
        for parent in parents:
            node = node.setdefault(parent, {})
        node[key] = yaml.safe_load(value)
    return parse_recipe(raw)


def train_or_soup(recipe: Any, seeds: list[int] | None) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    """Train ``recipe`` once, or once per seed and average the runs into a soup: the metrics of what is
    registered last, the (first) run's log, and the soup's record (``None`` without seeds)."""
    from modelyard import soup, train

    if not seeds:
        result = train.run(recipe)
        return result.metrics, result.history, None
    runs = [
        train.run(recipe.model_copy(update={"training": recipe.training.model_copy(update={"seed": seed})}))
        for seed in seeds
    ]
    version = soup.make([run.version.ref for run in runs if run.version is not None])
    record = {
        "seeds": seeds,
        "ingredients": [
            {"seed": seed, "accuracy": run.metrics["accuracy"], "macro_f1": run.metrics["macro_f1"]}
            for seed, run in zip(seeds, runs, strict=True)
        ],
        # What to choose by: the soup against its ingredients on validation (the test split decides nothing).
        "validation": version.metrics["soup"].get("validation"),
    }
    metrics = version.metrics | {
        "train_seconds": round(sum(run.metrics["train_seconds"] for run in runs), 1),
        "epochs": runs[0].metrics["epochs"],
    }
    return metrics, runs[0].history, record


def fit_protocol(
    recipe: Any,
    dataset: str,
    home: Path,
    full_train: float | None,
    *,
    split: str,
    whole: str,
    average_last: int | None = None,
) -> tuple[Any, str]:
    """The recipe to run and the protocol in words: the validation run, or the final fit on ``whole``."""
    if average_last is not None:
        recipe = recipe.model_copy(
            update={"training": recipe.training.model_copy(update={"average_last": average_last})}
        )
    if not full_train:
        return recipe, split
    protocol = (
        f"final fit: {whole}, {full_train:g} epochs fixed in advance from the validation run, no early stopping, "
        "ends with the last checkpoint; same test split"
    )
    return final_fit_recipe(recipe, dataset, home, full_train), protocol


def validation_curve(history: list[dict[str, Any]], metric: str) -> list[dict[str, float]]:
    """The validation ``metric`` per evaluation, from the Trainer's log (on seen rows in a final fit)."""
    return [
        {"epoch": entry["epoch"], metric: entry[f"eval_{metric}"]} for entry in history if f"eval_{metric}" in entry
    ]
