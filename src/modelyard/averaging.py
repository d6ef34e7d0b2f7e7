"""Checkpoint averaging: register the mean of the weights of a run's last N evaluated checkpoints.

The weights a run passes through near its end sit around a minimum; their mean lies in a flatter part
of the loss surface than any one of them and tends to generalise a little better (Izmailov et al. 2018,
"Averaging Weights Leads to Wider Optima"; Wortsman et al. 2022, "Model soups"). It costs nothing at
inference: one model of the same size. The checkpoints are the ones training writes anyway, so a resumed
run averages the same ones as an uninterrupted run would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer

from modelyard.errors import TrainingError

_STEP = re.compile(r"checkpoint-(\d+)$")


@dataclass(frozen=True)
class Averaged:
    steps: list[int]
    """Global steps of the averaged checkpoints, the one training kept first."""
    validation: list[float]
    """Validation metric of the mean of the first k of ``steps``, for k = 1 … len(steps)."""

    def record(self, metric: str) -> dict[str, Any]:
        return {"steps": self.steps, f"validation_{metric}": [round(value, 6) for value in self.validation]}


def checkpoints(run_dir: Path, kept: str | None, count: int) -> list[Path]:
    """The ``count`` newest checkpoints up to ``kept`` (the best one; ``None``: the newest), newest first."""
    found = sorted((step, path) for path in run_dir.glob("checkpoint-*") if (step := _step(path)) is not None)
    end = _step(Path(kept)) if kept else None
    eligible = [path for step, path in found if end is None or step <= end]
    return eligible[-count:][::-1]


def _step(path: Path) -> int | None:
    match = _STEP.search(path.name)
    return int(match.group(1)) if match and path.is_dir() else None


def average(trainer: Trainer, run_dir: Path, count: int, *, kept: str | None, validation: Any, metric: str) -> Averaged:
    """Load the mean of the last ``count`` checkpoints up to ``kept`` (``None``: the newest) into
    ``trainer``'s model; score each running mean on ``validation``.

    Only the weights that train are averaged (frozen ones are the same in every checkpoint). Each
    checkpoint is read by the Trainer's own checkpoint loader, the one ``--resume`` and best-model
    loading use, so full weights, sharded weights and LoRA adapters are all read the way they were saved.
    """
    paths = checkpoints(run_dir, kept, count)
    if not paths:
        raise TrainingError(f"training.average_last: no checkpoint to average in {run_dir}")
    model = trainer.accelerator.unwrap_model(trainer.model)
    total: dict[str, torch.Tensor] = {}
    scores: list[float] = []
    for k, path in enumerate(paths, start=1):
        trainer._load_from_checkpoint(str(path))  # private; pinned transformers, tests/integration/test_averaging.py
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if not parameter.requires_grad:
                    continue
                if name in total:
                    total[name] += parameter.detach().to(torch.float64)
                else:
                    total[name] = parameter.detach().to(torch.float64).clone()
                parameter.copy_((total[name] / k).to(parameter.dtype))
        # predict, not evaluate: these figures must not enter the log the learning curve is drawn from.
        evaluated = trainer.predict(validation, metric_key_prefix="eval").metrics or {}
        scores.append(float(evaluated[f"eval_{metric}"]))
    return Averaged([_step(path) or 0 for path in paths], scores)
