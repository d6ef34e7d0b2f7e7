"""Baseline for train_throughput: the plain Hugging Face recipe a user would write by hand.

Tokenise with padding to 128 tokens, random batches, the stock Trainer; same
model, data, batch size and epochs as the modelyard run. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import json
from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments, set_seed


class Rows(torch.utils.data.Dataset[dict[str, Any]]):
    def __init__(self, features: list[dict[str, Any]]) -> None:
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.features[i]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    set_seed(42)
    with open(args.train, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels = sorted({r["label"] for r in rows})
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    encoded = tokenizer([r["text"] for r in rows], padding="max_length", truncation=True, max_length=128)
    index = {label: i for i, label in enumerate(labels)}
    features = [{k: v[i] for k, v in encoded.items()} | {"labels": index[r["label"]]} for i, r in enumerate(rows)]
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=len(labels))
    training = TrainingArguments(
        output_dir=args.output,
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        learning_rate=1.5e-4,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
        logging_steps=50,
    )
    output = Trainer(model=model, args=training, train_dataset=Rows(features)).train()
    print(
        json.dumps(
            {
                "examples_per_second": output.metrics["train_samples_per_second"],
                "train_seconds": output.metrics["train_runtime"],
            }
        )
    )


if __name__ == "__main__":
    main()
