"""R-Drop: each training batch goes through the model twice, and the two dropout-perturbed predictions
are pulled towards each other (Liang et al. 2021, "R-Drop: Regularized Dropout for Neural Networks").

The loss is the usual task loss on both passes plus ``alpha`` times the symmetric KL divergence
between them, so the model learns to give the same answer whichever units dropout removes — a
regulariser that costs one more forward and backward pass per step and nothing at inference.
Both passes run as one batch of twice the size (one forward, one backward: cheaper than two).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

IGNORED = -100
"""Label of positions that take no loss (token classification: special tokens and later subwords)."""


def doubled(inputs: dict[str, Any]) -> dict[str, Any]:
    """The batch stacked on itself: rows i and i + n are the same example, seen through two dropout masks."""
    return {key: torch.cat([value, value]) if torch.is_tensor(value) else value for key, value in inputs.items()}


def consistency(logits: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """Symmetric KL between the two halves of ``logits`` (a doubled batch), averaged over what is scored;
    ``labels`` are the batch's own (one half's).

    Float labels mean multi-label (an independent sigmoid per label: Bernoulli KL per label); integer
    labels mean one softmax per row, or per token where labels have the token dimension (positions
    labelled -100 are skipped)."""
    first, second = logits.float().chunk(2)
    if labels is not None and labels.is_floating_point():
        return 0.5 * (_bernoulli_kl(first, second) + _bernoulli_kl(second, first)).mean()
    log_p, log_q = F.log_softmax(first, dim=-1), F.log_softmax(second, dim=-1)
    per_row = 0.5 * ((log_p.exp() * (log_p - log_q)).sum(-1) + (log_q.exp() * (log_q - log_p)).sum(-1))
    if labels is not None and labels.dim() == per_row.dim():
        scored = labels != IGNORED
        if not scored.any():
            return per_row.sum() * 0.0  # keeps the graph: a batch of only ignored positions adds nothing
        return per_row[scored].mean()
    return per_row.mean()


def _bernoulli_kl(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    # KL(Bern(p) || Bern(q)) from logits, in log space so saturated sigmoids stay finite.
    p = torch.sigmoid(logits_p)
    return p * (F.logsigmoid(logits_p) - F.logsigmoid(logits_q)) + (1 - p) * (
        F.logsigmoid(-logits_p) - F.logsigmoid(-logits_q)
    )
