"""Build a task's model on a base encoder (full or LoRA) and load a trained one back.

Both tasks are an encoder plus a linear head (transformers' ``*ForSequenceClassification``
and ``*ForTokenClassification``, or our mean-pooled classifier, see ``pooling``), so one
implementation serves every task: the task plugin names its Auto class and peft task type.
A version records its base and its pooling in ``base_model.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from modelyard import models, tasks
from modelyard.config import LoraSpec, ModelSpec
from modelyard.errors import ModelLoadError
from modelyard.tasks.labels import LabelMap
from modelyard.tasks.token_classification.shapes import MODULE as SHAPE_MODULE
from modelyard.tasks.token_classification.shapes import add_shape_embeddings

ADAPTER_CONFIG = "adapter_config.json"
BASE_FILE = "base_model.json"
RECIPE_FILE = "config.yaml"


def model_class(task: tasks.Task, pooling: str = "cls") -> Any:
    """The class that builds and loads the task's model: the task's Auto class, or the mean-pooled head."""
    import transformers

    default = getattr(transformers, task.auto_class)
    if pooling == "cls":
        return default
    from modelyard.tasks.pooling import classifier_class

    return classifier_class("mean", default)


def pooling_of(folder: Path) -> str:
    """The pooling a version was trained with (versions from before pooling was recorded used ``cls``)."""
    try:
        recorded = json.loads((folder / BASE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "cls"
    pooling: str = recorded.get("pooling", "cls")
    return pooling


def task_of(folder: Path) -> tasks.Task:
    """The task of a version folder, from the recipe it was trained with."""
    try:
        recipe = yaml.safe_load((folder / RECIPE_FILE).read_text(encoding="utf-8"))
    except OSError as error:
        raise ModelLoadError(f"{folder} is not a model version folder (no readable {RECIPE_FILE}): {error}") from None
    return tasks.get(recipe.get("task", "text-classification"))


def base_of(folder: Path) -> str | None:
    """The base model spec a LoRA version needs (``None`` for a full model, which carries its own weights)."""
    if not (folder / ADAPTER_CONFIG).is_file():
        return None
    spec: str = json.loads((folder / BASE_FILE).read_text(encoding="utf-8"))["spec"]
    return spec


def load_tokenizer(folder: Path) -> Any:
    """The tokenizer of a version: its own files (full models), else its base's (LoRA versions store only
    what they add to the base; the base's tokenizer is part of the base)."""
    from transformers import AutoTokenizer

    spec = base_of(folder)
    if spec is None or (folder / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(folder)
    return models.load_tokenizer(models.resolve(spec))


def _classifier_kwargs(label_map: LabelMap) -> dict[str, Any]:
    problem = "multi_label_classification" if label_map.multi_label else "single_label_classification"
    return {
        "num_labels": len(label_map.labels),
        "id2label": label_map.id2label,
        "label2id": label_map.label2id,
        "problem_type": problem,
    }


def build(
    task: tasks.Task,
    base: models.BaseModel,
    label_map: LabelMap,
    lora: LoraSpec | None,
    pooling: str = "cls",
    *,
    case_features: bool = False,
) -> Any:
    """A fresh task head on the base; wrapped with LoRA adapters when ``lora`` is given."""
    model = models.load(model_class(task, pooling), base, **_classifier_kwargs(label_map))
    if case_features:
        add_shape_embeddings(model)
    if lora is None:
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    config = LoraConfig(
        task_type=TaskType[task.peft_task_type],
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        # The shape rows are new weights the base does not have: the adapter trains and stores them.
        modules_to_save=[SHAPE_MODULE] if case_features else None,
    )
    return get_peft_model(model, config)


def freeze_encoder(model: Any) -> None:
    """Leave only the task head trainable (``method: head``).

    ``base_model`` is the encoder of any transformers task model (``model.bert``, ``model.roberta``, …);
    what is outside it is the head. The pretrained pooler, inside the encoder, stays frozen too."""
    for parameter in model.base_model.parameters():
        parameter.requires_grad_(False)


def model_settings(folder: Path) -> ModelSpec:
    """The ``model`` section of the recipe a version was trained with (what its inputs look like)."""
    try:
        recipe = yaml.safe_load((folder / RECIPE_FILE).read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise ModelLoadError(f"{folder} is not a model version folder (no readable {RECIPE_FILE}): {error}") from None
    # Versions keep the fully resolved recipe; a key a later modelyard added is missing from older ones.
    return ModelSpec.model_validate(recipe.get("model") or {})


def save(model: Any, tokenizer: Any, folder: Path, base: models.BaseModel, pooling: str = "cls") -> None:
    """Safetensors weights and tokenizer (full), or only the adapter and head (LoRA); plus the base it needs."""
    model.save_pretrained(folder, safe_serialization=True)
    if not (folder / ADAPTER_CONFIG).is_file():
        tokenizer.save_pretrained(folder)
    recorded = {"spec": base.spec, "source": base.source, "pooling": pooling}
    (folder / BASE_FILE).write_text(json.dumps(recorded), encoding="utf-8")


def load_trained(folder: Path) -> Any:
    """The trained model in eval mode; LoRA versions are loaded on their base and merged."""
    loader = model_class(task_of(folder), pooling_of(folder))
    label_map = LabelMap.load(folder)
    try:
        spec = base_of(folder)
        if spec is None:
            model = loader.from_pretrained(folder)
        else:
            from peft import PeftModel

            base = models.load(loader, models.resolve(spec), **_classifier_kwargs(label_map))
            if model_settings(folder).case_features:
                add_shape_embeddings(base)  # the right shape: the adapter's trained rows are loaded into it
            # Merging folds the low-rank update into the weights: inference costs the same as a full model.
            model = PeftModel.from_pretrained(base, folder).merge_and_unload()
    except (OSError, ValueError, KeyError) as error:
        raise ModelLoadError(f"cannot load the model in {folder}: {error}") from None
    return model.eval()
