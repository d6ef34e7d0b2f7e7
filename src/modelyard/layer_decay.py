"""Layer-wise learning-rate decay: the head learns at the recipe's rate, each layer below more slowly.

The lower layers of a pretrained encoder hold general features that fine-tuning
should move least; scaling the rate by ``decay`` per layer from the top down
(Howard & Ruder 2018; Sun et al. 2019) keeps them close to pretraining while the
head and top layers adapt. The ``Trainer`` builds one AdamW with two groups
(decayed / not decayed); this builds the same optimiser with one pair of groups
per depth, and the Trainer's schedule then scales every group's rate alike.

Depth is read from parameter names, so it works for any encoder whose blocks are
``…layer.<i>.…`` (BERT, RoBERTa, DistilBERT, MiniLM, ELECTRA) and through a
peft wrapper: embeddings are depth 0, block ``i`` is ``i + 1``, everything else
(pooler, head, LoRA-free extras) is the top.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

_BLOCK = re.compile(r"(?:^|\.)layers?\.(\d+)\.")


def depth(name: str, num_layers: int) -> int:
    """0 for the embeddings, ``i + 1`` for block ``i``, ``num_layers + 1`` for the rest."""
    block = _BLOCK.search(name)
    if block:
        return int(block.group(1)) + 1
    if "embeddings" in name:
        return 0
    return num_layers + 1


def parameter_groups(
    model: nn.Module,
    *,
    learning_rate: float,
    weight_decay: float,
    decay: float,
    decayed_names: set[str],
    num_layers: int,
) -> list[dict[str, Any]]:
    """AdamW groups: one per (depth, weight decay or not), rate ``learning_rate * decay ** (top - depth)``."""
    top = num_layers + 1
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        level, decays = depth(name, num_layers), name in decayed_names
        group = groups.setdefault(
            (level, decays),
            {
                "params": [],
                "lr": learning_rate * decay ** (top - level),
                "weight_decay": weight_decay if decays else 0.0,
            },
        )
        group["params"].append(parameter)
    return [groups[key] for key in sorted(groups)]


def optimizer(trainer: Any, decay: float) -> torch.optim.Optimizer:
    """The Trainer's AdamW (same betas, eps, decay exclusions) with layer-wise rates."""
    model = trainer.model
    optimizer_class, kwargs = trainer.get_optimizer_cls_and_kwargs(trainer.args, model)
    kwargs = {key: value for key, value in kwargs.items() if key != "lr"}
    groups = parameter_groups(
        model,
        learning_rate=trainer.args.learning_rate,
        weight_decay=trainer.args.weight_decay,
        decay=decay,
        decayed_names=set(trainer.get_decay_parameter_names(model)),
        num_layers=int(model.config.num_hidden_layers),  # a peft wrapper forwards .config
    )
    return optimizer_class(groups, lr=trainer.args.learning_rate, **kwargs)
