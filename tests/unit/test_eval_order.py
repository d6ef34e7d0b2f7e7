"""Training reads evaluation rows in dataset order, which metrics that look up each row's example rely on."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForTokenClassification, Trainer, TrainingArguments

from modelyard.train import InOrderTrainer


class _Lengths(torch.utils.data.Dataset[dict[str, list[int]]]):
    """Item i: token i repeated, lengths varying, so a batch tells which items it holds and in what order."""

    def __len__(self) -> int:
        return 40

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        if not 0 <= i < len(self):
            raise IndexError(i)  # ends iteration, as the sampler measuring lengths iterates
        return {"input_ids": [i + 1] * (1 + (i * 7) % 11)}


def _order(trainer_class: type[Trainer], tmp_path: Path) -> list[int]:
    config = BertConfig(
        vocab_size=64, hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8, num_labels=2
    )
    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_eval_batch_size=4,
        train_sampling_strategy="group_by_length",
        report_to=[],
        use_cpu=True,
    )

    def pad(items: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(item["input_ids"]) for item in items)
        return {
            "input_ids": torch.tensor([item["input_ids"] + [0] * (width - len(item["input_ids"])) for item in items])
        }

    trainer = trainer_class(model=BertForTokenClassification(config), args=args, data_collator=pad)
    return [int(row[0]) - 1 for batch in trainer.get_eval_dataloader(_Lengths()) for row in batch["input_ids"]]


def test_evaluation_rows_come_in_dataset_order(tmp_path: Path) -> None:
    assert _order(InOrderTrainer, tmp_path) == list(range(40))


def test_why_transformers_own_trainer_would_not_do(tmp_path: Path) -> None:
    """transformers 5 length-groups evaluation batches as well when training is length-grouped."""
    order = _order(Trainer, tmp_path)
    if order == list(range(40)):
        pytest.fail("transformers now evaluates in dataset order: InOrderTrainer can go")
    assert sorted(order) == list(range(40))
