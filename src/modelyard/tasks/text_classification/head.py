"""Build a classifier on a base encoder (full or LoRA) and load a trained one back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelyard import models
from modelyard.config import LoraSpec
from modelyard.errors import ModelLoadError
from modelyard.tasks.text_classification.config import LabelMap

ADAPTER_CONFIG = "adapter_config.json"
BASE_FILE = "base_model.json"


def _classifier_kwargs(label_map: LabelMap) -> dict[str, Any]:
    problem = "multi_label_classification" if label_map.multi_label else "single_label_classification"
    return {
        "num_labels": len(label_map.labels),
        "id2label": label_map.id2label,
        "label2id": label_map.label2id,
        "problem_type": problem,
    }


def build(base: models.BaseModel, label_map: LabelMap, lora: LoraSpec | None) -> Any:
    """A fresh classification head on the base; wrapped with LoRA adapters when ``lora`` is given."""
    from transformers import AutoModelForSequenceClassification

    model = models.load(AutoModelForSequenceClassification, base, **_classifier_kwargs(label_map))
    if lora is None:
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
    )
    return get_peft_model(model, config)


def save(model: Any, folder: Path, base: models.BaseModel) -> None:
    """Safetensors weights (full) or only the adapter and head (LoRA), plus the base it needs."""
    model.save_pretrained(folder, safe_serialization=True)
    (folder / BASE_FILE).write_text(json.dumps({"spec": base.spec, "source": base.source}), encoding="utf-8")


def load_trained(folder: Path) -> Any:
    """The trained classifier in eval mode; LoRA versions are loaded on their base and merged."""
    from transformers import AutoModelForSequenceClassification

    label_map = LabelMap.load(folder)
    try:
        if not (folder / ADAPTER_CONFIG).is_file():
            model = AutoModelForSequenceClassification.from_pretrained(folder)
        else:
            from peft import PeftModel

            spec = json.loads((folder / BASE_FILE).read_text(encoding="utf-8"))["spec"]
            base = models.load(
                AutoModelForSequenceClassification, models.resolve(spec), **_classifier_kwargs(label_map)
            )
            # Merging folds the low-rank update into the weights: inference costs the same as a full model.
            model = PeftModel.from_pretrained(base, folder).merge_and_unload()
    except (OSError, ValueError, KeyError) as error:
        raise ModelLoadError(f"cannot load the model in {folder}: {error}") from None
    return model.eval()
