"""Write a model version's evaluation report into a folder.

``write_report`` takes the dict from a task's ``compute_metrics`` and produces::

    report.json          metrics + extra, sorted keys, for machines
    report.md            headline table, per-class table (worst first), top confusions
    confusion.png        row-normalised confusion matrix (single-label metrics only)
    learning_curve.png   train/validation loss per epoch (when a log history is given)

Plots are drawn on bare ``matplotlib.figure.Figure`` objects rather than through
pyplot: that needs no GUI backend, leaves the caller's pyplot state (a notebook's
inline backend, say) untouched, and keeps no global registry of figures to leak.
Atomicity is the caller's job: write into a temporary version folder and rename.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from numpy.typing import NDArray

HEADLINE = [
    ("f1", "Entity F1 (micro)"),
    ("precision", "Entity precision"),
    ("recall", "Entity recall"),
    ("token_accuracy", "Token accuracy"),
    ("accuracy", "Accuracy"),
    ("macro_f1", "Macro F1"),
    ("macro_precision", "Macro precision"),
    ("macro_recall", "Macro recall"),
    ("weighted_f1", "Weighted F1"),
    ("micro_f1", "Micro F1"),
    ("roc_auc_ovr", "ROC-AUC (one-vs-rest, macro)"),
]
MAX_TICK_LABEL = 32


def write_report(
    folder: Path,
    metrics: dict[str, Any],
    *,
    title: str,
    history: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write the report files into ``folder`` and return ``{file name: path}``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    written["report.json"] = _write_json(folder / "report.json", _merge(metrics, extra or {}))
    if metrics.get("confusion"):
        labels = [row["label"] for row in metrics["per_class"]]
        written["confusion.png"] = _plot_confusion(folder / "confusion.png", labels, metrics["confusion"])
    if history:
        curve = _plot_learning_curve(folder / "learning_curve.png", history)
        if curve is not None:
            written["learning_curve.png"] = curve
    # The markdown is written last so it links only to images that exist.
    markdown = _render_markdown(title, metrics, extra or {}, images=[name for name in written if name.endswith(".png")])
    written["report.md"] = folder / "report.md"
    written["report.md"].write_text(markdown, encoding="utf-8")
    return written


# --- report.json ---------------------------------------------------------------------------------------------------


def _merge(metrics: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    clash = sorted(set(metrics) & set(extra))
    if clash:
        # Silently overwriting a metric would publish a number nobody computed.
        raise ValueError(f"extra would overwrite metric keys {clash}; rename them in extra.")
    return {**metrics, **extra}


def _write_json(path: Path, payload: dict[str, Any]) -> Path:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=_json_default) + "\n", encoding="utf-8")
    return path


def _json_default(value: Any) -> Any:
    # extra comes from callers (configs, timings), which often carry numpy scalars or paths.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"report.json cannot store a value of type {type(value).__name__}: {value!r}")


# --- report.md -----------------------------------------------------------------------------------------------------


def _render_markdown(title: str, metrics: dict[str, Any], extra: dict[str, Any], images: list[str]) -> str:
    sections = [f"# {title}", _headline_table(metrics)]
    if (metrics.get("privacy") or {}).get("dp"):
        sections.append(_privacy_table(metrics["privacy"]["dp"]))
    sections.append(_per_class_table(metrics["per_class"]))
    if metrics.get("top_confusions"):
        sections.append(_confusions_table(metrics["top_confusions"]))
    details = {key: value for key, value in sorted(extra.items()) if isinstance(value, str | int | float | bool)}
    if details:
        sections.append(_table("Details", ["Key", "Value"], [[key, _cell(value)] for key, value in details.items()]))
    if images:
        sections.append("## Plots\n\n" + "\n\n".join(f"![{Path(name).stem}]({name})" for name in images))
    return "\n\n".join(sections) + "\n"


def _headline_table(metrics: dict[str, Any]) -> str:
    rows = [[name, _cell(metrics.get(key))] for key, name in HEADLINE if key in metrics]
    if metrics.get("roc_auc_classes") is not None:
        rows.append(["ROC-AUC classes", str(metrics["roc_auc_classes"])])
    if metrics.get("multi_label"):
        rows.append(["Threshold", _cell(metrics.get("threshold"))])
    rows.append(["Examples", str(metrics["n"])])
    return _table("Summary", ["Metric", "Value"], rows)


def _privacy_table(dp: dict[str, Any]) -> str:
    """The (ε, δ) guarantee of a differentially private run (``privacy.dp``) and what it rests on."""
    rows = [
        ["ε achieved (target)", f"{dp['epsilon']:.2f} (target {dp['epsilon_target']:g})"],
        ["δ", f"{dp['delta']:.1e}"],
        ["Noise multiplier", _cell(dp.get("noise_multiplier"))],
        ["Per-example clipping norm", _cell(dp.get("max_grad_norm"))],
        ["Sampling rate (Poisson)", _cell(dp.get("sample_rate"))],
        ["Steps", _cell(dp.get("steps"))],
        ["Accountant", _cell(dp.get("accountant"))],
    ]
    return _table("Differential privacy (DP-SGD)", ["Guarantee", "Value"], rows)


def _per_class_table(per_class: list[dict[str, Any]]) -> str:
    # Worst first: the reader is looking for what to fix; ties show the bigger class first.
    ordered = sorted(per_class, key=lambda row: (row["f1"], -row["support"], row["label"]))
    rows = [
        [_escape(row["label"]), _cell(row["precision"]), _cell(row["recall"]), _cell(row["f1"]), str(row["support"])]
        for row in ordered
    ]
    return _table("Per class (worst F1 first)", ["Label", "Precision", "Recall", "F1", "Support"], rows)


def _confusions_table(confusions: list[dict[str, Any]]) -> str:
    rows = [
        [_escape(row["true"]), _escape(row["predicted"]), str(row["count"]), f"{row['rate']:.1%}"] for row in confusions
    ]
    return _table("Top confusions", ["True", "Predicted as", "Count", "Share of true class"], rows)


def _table(heading: str, header: list[str], rows: list[list[str]]) -> str:
    lines = [f"## {heading}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return _escape(str(value))


def _escape(text: str) -> str:
    # A pipe inside a label would split the markdown table cell.
    return str(text).replace("|", "\\|").replace("\n", " ")


# --- plots ---------------------------------------------------------------------------------------------------------


def _plot_confusion(path: Path, labels: list[str], counts: list[list[int]]) -> Path:
    matrix = np.asarray(counts, dtype=np.float64)
    normalised = _normalise_rows(matrix)
    n_classes = len(labels)
    # About a fifth of an inch per class keeps 77 tick labels legible without a poster-sized file.
    side = min(max(6.0, 0.22 * n_classes + 4.0), 32.0)
    tick_font = max(5.5, min(10.0, 450.0 / max(n_classes, 1)))
    fig = Figure(figsize=(side, side * 0.9), layout="constrained")
    ax = fig.add_subplot()
    # A square-root colour scale lets 2-5 % confusions show up next to a dark diagonal;
    # the colorbar still reads in true shares.
    norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=1.0)
    image = ax.imshow(normalised, cmap="Blues", norm=norm, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of true class")
    short = [_shorten(label) for label in labels]
    ax.set_xticks(range(n_classes), short, rotation=90, fontsize=tick_font)
    ax.set_yticks(range(n_classes), short, fontsize=tick_font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (normalised by true class)")
    if n_classes <= 20:
        _annotate_cells(ax, normalised)
    fig.savefig(path, format="png", dpi=120)
    return path


def _normalise_rows(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    totals = matrix.sum(axis=1, keepdims=True)
    # Classes absent from the test set get an empty row rather than a division by zero.
    shares = np.zeros_like(matrix)
    np.divide(matrix, totals, out=shares, where=totals > 0)
    return shares


def _annotate_cells(ax: Any, normalised: NDArray[np.float64]) -> None:
    for (row, col), value in np.ndenumerate(normalised):
        if value > 0:
            colour = "white" if value > 0.5 else "black"
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=7, color=colour)


def _shorten(label: str) -> str:
    return label if len(label) <= MAX_TICK_LABEL else label[: MAX_TICK_LABEL - 1] + "…"


def _plot_learning_curve(path: Path, history: list[dict[str, Any]]) -> Path | None:
    train = _train_loss_per_epoch(history)
    evals = [(float(entry["epoch"]), float(entry["eval_loss"])) for entry in history if _has(entry, "eval_loss")]
    if not train and not evals:
        return None
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    if train:
        ax.plot(*zip(*train, strict=True), marker="o", label="train loss (epoch mean)")
    if evals:
        ax.plot(*zip(*evals, strict=True), marker="s", label="validation loss")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Learning curve")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path, format="png", dpi=100)
    return path


def _train_loss_per_epoch(history: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """Mean training loss per epoch, bucketed so that epoch 0.25…1.0 counts as epoch 1."""
    buckets: dict[int, list[float]] = defaultdict(list)
    for entry in history:
        if _has(entry, "loss"):
            # Rounding first stops float noise such as 1.0000000002 from spilling into epoch 2.
            epoch = max(1, math.ceil(round(float(entry["epoch"]), 6)))
            buckets[epoch].append(float(entry["loss"]))
    return [(float(epoch), float(np.mean(losses))) for epoch, losses in sorted(buckets.items())]


def _has(entry: dict[str, Any], key: str) -> bool:
    return entry.get(key) is not None and entry.get("epoch") is not None
