"""Serve many LoRA versions on one copy of their base model in memory.

A LoRA version stores only what it adds: the low-rank matrices and its task
head (``adapter_model.safetensors``) and the spec of its base. ``SharedBase``
loads a base encoder once and attaches each version to it under its own
adapter name (peft's multi-adapter LoRA layers); a forward pass switches the
active adapter, runs the shared encoder and applies that version's head — a
pooled-output linear layer for classification, a per-token one for NER. A
version of a few hundred KB therefore costs a few hundred KB of memory, not
another copy of the base.

Why not one merged model per version: merging folds the update into the base
weights, so every version would hold its own 90 MB copy; unmerged LoRA costs
two skinny matrix products per target layer instead (r=8 on a 384-wide layer).

Sharing covers BERT-family encoders, whose task heads are one linear
``classifier`` on the pooled output (classification) or on every token (NER);
``supports`` says whether a version qualifies, and the server gives any other
version a dedicated merged model. A NER version trained with word shapes
(``model.case_features``) also brings its own token-type table, swapped in with its adapter.
"""

from __future__ import annotations

import json
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from modelyard import models
from modelyard.errors import ModelLoadError
from modelyard.tasks.heads import base_of, pooling_of, task_of
from modelyard.tasks.pooling import masked_mean
from modelyard.tasks.token_classification.shapes import MODULE as SHAPE_MODULE

ADAPTER_WEIGHTS = "adapter_model.safetensors"
_SAVED_PREFIX = "base_model.model."
_SHARED_MODEL_TYPES = ("bert",)
"""Encoders whose *ForSequenceClassification / *ForTokenClassification heads are a linear ``classifier``
(on the pooler output or the mean of the tokens / on each token), which is what ``SharedBase`` rebuilds."""


@dataclass
class _Head:
    linear: torch.nn.Linear
    reads: str
    """What the head reads: ``cls`` (the pooler output) or ``mean`` (masked mean of the tokens) for
    classification, ``tokens`` (every token) for NER."""
    token_types: torch.nn.Embedding | None = None
    """The version's own token-type table (word shapes, ``model.case_features``); ``None``: the base's."""


def supports(folder: Path) -> bool:
    """Whether a version can be served on a shared base (a LoRA version of a BERT-family base)."""
    if base_of(folder) is None:
        return False
    config = (
        json.loads((folder / "config.json").read_text(encoding="utf-8")) if (folder / "config.json").is_file() else {}
    )
    model_type = config.get("model_type")
    return model_type is None or model_type in _SHARED_MODEL_TYPES


def _embedding(table: torch.Tensor | None) -> torch.nn.Embedding | None:
    return None if table is None else torch.nn.Embedding.from_pretrained(table, freeze=True)


class SharedBase:
    """One base encoder and the adapters attached to it; forward passes are serialised by one lock."""

    def __init__(self, spec: str) -> None:
        from transformers import AutoModel

        self.spec = spec
        self.encoder = models.load(AutoModel, models.resolve(spec)).eval()
        model_type = getattr(self.encoder.config, "model_type", None)
        if model_type not in _SHARED_MODEL_TYPES:
            raise ModelLoadError(f"base {spec!r} ({model_type}) cannot be shared; its versions are served merged")
        self.prefix = f"{self.encoder.base_model_prefix}."
        self.heads: dict[str, _Head] = {}
        self._lock = threading.Lock()
        self._count = 0
        self._lora_layers: list[Any] = []
        self._active: str | None = None
        """The adapter the LoRA layers are set to; switching walks every layer, so only on a change."""
        self._embeddings = self.encoder.embeddings
        self._base_token_types = self._embeddings.token_type_embeddings

    def add(self, folder: Path) -> str:
        """Attach the LoRA version in ``folder``; returns the adapter key to pass to ``forward``."""
        from peft import LoraConfig, inject_adapter_in_model
        from safetensors.torch import load_file

        if base_of(folder) != self.spec:
            raise ModelLoadError(f"{folder} was trained on {base_of(folder)!r}, not on {self.spec!r}")
        task = task_of(folder)
        config = LoraConfig.from_pretrained(str(folder))
        config.modules_to_save = None  # the head is rebuilt below, outside the shared encoder
        config.inference_mode = True
        lora, head, token_types = self._split(load_file(str(folder / ADAPTER_WEIGHTS)), folder)
        with self._lock:
            self._count += 1
            key = f"adapter{self._count}"
            with warnings.catch_warnings():
                # peft warns that the model already holds adapters: holding several is the point here.
                warnings.simplefilter("ignore", UserWarning)
                inject_adapter_in_model(config, self.encoder, adapter_name=key)
            # peft creates the new modules in training mode: LoRA dropout would then perturb every
            # prediction at random (and cost a mask per layer per call).
            self.encoder.eval()
            self._lora_layers = self._find_lora_layers()
            self._active = None
            named = {name.replace(".weight", f".{key}.weight"): tensor for name, tensor in lora.items()}
            result = self.encoder.load_state_dict(named, strict=False)
            expected = {name for name, _ in self.encoder.named_parameters() if f".{key}." in name}
            if result.unexpected_keys or expected - set(named):
                self._detach(key)
                raise ModelLoadError(
                    f"the adapter in {folder} does not fit base {self.spec!r}: "
                    f"{len(result.unexpected_keys)} unknown and {len(expected - set(named))} missing LoRA weights"
                )
            linear = torch.nn.Linear(head["weight"].shape[1], head["weight"].shape[0])
            linear.load_state_dict(head)
            reads = pooling_of(folder) if task.name == "text-classification" else "tokens"
            self.heads[key] = _Head(linear.eval(), reads, _embedding(token_types))
        return key

    def _split(
        self, weights: dict[str, torch.Tensor], folder: Path
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any], torch.Tensor | None]:
        lora: dict[str, torch.Tensor] = {}
        head: dict[str, torch.Tensor] = {}
        token_types = None
        for saved, tensor in weights.items():
            name = saved.removeprefix(_SAVED_PREFIX)
            if ".lora_" in name and name.startswith(self.prefix):
                lora[name.removeprefix(self.prefix)] = tensor
            elif name.startswith("classifier."):
                head[name.removeprefix("classifier.")] = tensor
            elif name == f"{self.prefix}embeddings.{SHAPE_MODULE}.weight":
                token_types = tensor
            else:
                raise ModelLoadError(f"{folder / ADAPTER_WEIGHTS} holds {saved!r}, which a shared base cannot apply")
        if set(head) != {"weight", "bias"}:
            raise ModelLoadError(f"{folder / ADAPTER_WEIGHTS} has no linear classifier head")
        return lora, head, token_types

    def remove(self, key: str) -> None:
        """Detach an adapter and free its weights."""
        with self._lock:
            self._detach(key)

    def _detach(self, key: str) -> None:
        from peft.tuners.lora import LoraLayer

        with warnings.catch_warnings():
            # peft announces which adapter becomes active instead; forward() sets the one it needs.
            warnings.simplefilter("ignore", UserWarning)
            for module in self.encoder.modules():
                if isinstance(module, LoraLayer) and key in module.lora_A:
                    module.delete_adapter(key)
        self.heads.pop(key, None)
        self._lora_layers = self._find_lora_layers()
        self._active = None

    def _find_lora_layers(self) -> list[Any]:
        from peft.tuners.lora import LoraLayer

        return [module for module in self.encoder.modules() if isinstance(module, LoraLayer)]

    def adapter_parameters(self, key: str) -> int:
        """Parameters held for one adapter (LoRA matrices + head): what attaching it cost."""
        lora = sum(p.numel() for name, p in self.encoder.named_parameters() if f".{key}." in name)
        head = self.heads.get(key)
        if head is None:
            return lora
        shapes = 0 if head.token_types is None else head.token_types.weight.numel()
        return lora + sum(p.numel() for p in head.linear.parameters()) + shapes

    @torch.inference_mode()
    def forward(self, key: str, inputs: dict[str, NDArray[np.int64]]) -> NDArray[np.float32]:
        """Logits of adapter ``key`` for tokenized ``inputs`` (numpy, as the predictors make them)."""
        tensors = {name: torch.from_numpy(value) for name, value in inputs.items()}
        with self._lock:
            head = self.heads[key]
            if self._active != key:
                for module in self._lora_layers:
                    module.set_adapter(key)
                self._active = key
            # The version's word-shape table, or the base's own: swapped under the lock like the adapter.
            self._embeddings.token_type_embeddings = (
                self._base_token_types if head.token_types is None else head.token_types
            )
            output = self.encoder(**tensors)
            if head.reads == "cls":
                features = output.pooler_output
            elif head.reads == "mean":
                features = masked_mean(output.last_hidden_state, tensors.get("attention_mask"))
            else:
                features = output.last_hidden_state
            return np.asarray(head.linear(features).float().numpy(), dtype=np.float32)
