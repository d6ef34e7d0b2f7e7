"""How a text classifier turns an encoder's token vectors into one vector for its head.

transformers' ``BertForSequenceClassification`` reads the ``[CLS]`` token through BERT's
pooler (dense + tanh). A sentence-embedding encoder such as the packaged all-MiniLM-L6 was
trained for the *mean* of its token vectors: its ``[CLS]`` vector and pooler were never trained
to summarise a sentence. Its own ``1_Pooling/config.json`` (sentence-transformers) says so, and
``pooling: auto`` follows it (``cls`` stays the default: it measured better here). transformers has
no mean-pooling classification head, hence the small subclass below: same weights layout
(``bert.*`` + ``classifier.*``), so saving, LoRA (peft's ``SEQ_CLS`` keeps ``classifier``), ONNX
export and the shared-base adapters work unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import BertForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.utils.generic import can_return_tuple

from modelyard import models
from modelyard.errors import ConfigError

Pooling = Literal["cls", "mean"]
_SENTENCE_POOLING = "1_Pooling/config.json"
MEAN_POOLED_TYPES = ("bert",)
"""Encoders (``config.model_type``) with a mean-pooling head here; others keep transformers' own head."""


def masked_mean(hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """The mean of the token vectors that are not padding: independent of how a batch was padded."""
    if attention_mask is None:
        return hidden.mean(dim=1)
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class MeanPooledBertForSequenceClassification(BertForSequenceClassification):
    """``BertForSequenceClassification`` whose head reads the masked mean of the last hidden states."""

    # transformers reads this (mutable) class attribute: the base's [CLS] pooler goes unused.
    _keys_to_ignore_on_load_unexpected = [r"pooler\."]  # noqa: RUF012

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        # Unused parameters would break DistributedDataParallel (multi-process training) and cost a matmul.
        self.bert.pooler = None

    @can_return_tuple  # peft and the Trainer pass return_dict; the decorator honours it as transformers' heads do
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            return_dict=True,
            **kwargs,
        )
        pooled = masked_mean(outputs.last_hidden_state, attention_mask)
        logits = self.classifier(self.dropout(pooled))
        return SequenceClassifierOutput(loss=_loss(self.config, logits, labels), logits=logits)


def _loss(config: Any, logits: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None:
    if labels is None:
        return None
    if config.problem_type == "multi_label_classification":
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
    return torch.nn.functional.cross_entropy(logits.view(-1, config.num_labels), labels.view(-1))


def classifier_class(pooling: Pooling, default: Any) -> Any:
    """The model class of a text classifier with this pooling (``default``: transformers' Auto class)."""
    return MeanPooledBertForSequenceClassification if pooling == "mean" else default


def resolve(requested: str, base: models.BaseModel) -> Pooling:
    """``cls``/``mean`` as asked; ``auto``: the base's own sentence pooling when it has one and we can
    mean-pool its architecture, else ``cls``."""
    model_type = _model_type(base)
    if requested == "mean":
        if model_type not in MEAN_POOLED_TYPES:
            raise ConfigError(
                f"model.pooling: mean is implemented for {', '.join(MEAN_POOLED_TYPES)} encoders, and base "
                f"{base.spec!r} is {model_type!r}; set model.pooling: cls (or auto)"
            )
        return "mean"
    if requested == "cls":
        return "cls"
    return "mean" if model_type in MEAN_POOLED_TYPES and _sentence_pooling_is_mean(base) else "cls"


def _model_type(base: models.BaseModel) -> str | None:
    from transformers import AutoConfig

    config = models.load(AutoConfig, base)
    return getattr(config, "model_type", None)


def _sentence_pooling_is_mean(base: models.BaseModel) -> bool:
    """Whether the base is a sentence-transformers model pooled by the mean of its tokens."""
    path = Path(base.location) / _SENTENCE_POOLING
    if base.source == "hub":
        try:
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(base.location, _SENTENCE_POOLING))
        except (OSError, ValueError):  # no such file, no hub, or not a repo id: nothing says it is mean-pooled
            return False
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(settings.get("pooling_mode_mean_tokens"))
