"""Word shapes for NER on an uncased base: the shape of each word, per subword, and the grown embedding table."""

from __future__ import annotations

import pytest
import torch
from transformers import DistilBertConfig, DistilBertForTokenClassification

from modelyard import models, tasks
from modelyard.errors import ConfigError
from modelyard.tasks import heads
from modelyard.tasks.labels import LabelMap
from modelyard.tasks.token_classification.data import encode
from modelyard.tasks.token_classification.formats import TokenExample
from modelyard.tasks.token_classification.shapes import (
    CAPITALISED,
    DIGITS,
    LOWER,
    MIXED,
    NO_LETTERS,
    UPPER,
    add_shape_embeddings,
    shape_ids,
    word_shape,
)

TAGS = LabelMap(("O", "B-PER", "I-PER"), False)


@pytest.mark.parametrize(
    ("word", "shape"),
    [
        ("apple", LOWER),
        ("Apple", CAPITALISED),
        ("A", CAPITALISED),
        ("Zürich", CAPITALISED),
        ("US", UPPER),
        ("U.S.", UPPER),
        ("NATO-led", MIXED),
        ("iPhone", MIXED),
        ("McDonald", MIXED),
        ("1996", DIGITS),
        ("G7", DIGITS),
        (",", NO_LETTERS),
        ("--", NO_LETTERS),
        ("ÉCOLE", UPPER),
    ],
)
def test_word_shape(word: str, shape: int) -> None:
    assert word_shape(word) == shape


def test_every_subword_takes_its_words_shape_and_special_tokens_none() -> None:
    assert shape_ids([None, 0, 0, 1, 2, None], ["Schmidt", "works", "1999"]) == [
        NO_LETTERS,
        CAPITALISED,
        CAPITALISED,
        LOWER,
        DIGITS,
        NO_LETTERS,
    ]


@pytest.fixture(scope="module")
def base() -> models.BaseModel:
    return models.resolve("minilm-l6")


def test_encode_adds_shapes_only_when_asked(base: models.BaseModel) -> None:
    tokenizer = models.load_tokenizer(base)
    example = TokenExample("Anna met BOB", ((0, 4), (5, 8), (9, 12)), (), 1)
    plain = encode([example], tokenizer, TAGS, 32)[0]
    shaped = encode([example], tokenizer, TAGS, 32, case_features=True)[0]
    assert set(plain["token_type_ids"]) == {0}
    assert shaped["input_ids"] == plain["input_ids"] and shaped["labels"] == plain["labels"]
    assert shaped["token_type_ids"][0] == NO_LETTERS and shaped["token_type_ids"][-1] == NO_LETTERS
    assert {CAPITALISED, LOWER, UPPER} <= set(shaped["token_type_ids"])


def test_a_fresh_shape_table_leaves_the_base_unchanged_until_trained(base: models.BaseModel) -> None:
    task = tasks.get("token-classification")
    torch.manual_seed(0)
    model = heads.build(task, base, TAGS, None, case_features=True).eval()
    assert model.base_model.embeddings.token_type_embeddings.num_embeddings == 6
    assert model.config.type_vocab_size == 6
    ids = torch.tensor([[101, 2198, 2777, 3960, 102]])
    with torch.no_grad():
        unshaped = model(input_ids=ids, token_type_ids=torch.zeros_like(ids)).logits
        shaped = model(input_ids=ids, token_type_ids=torch.tensor([[0, 2, 1, 3, 0]])).logits
    torch.testing.assert_close(unshaped, shaped)


def test_a_base_without_token_types_is_refused_with_what_to_do() -> None:
    config = DistilBertConfig(vocab_size=100, dim=32, n_layers=1, n_heads=2, hidden_dim=64, num_labels=3)
    with pytest.raises(ConfigError, match=r"case_features needs a base with a token-type embedding"):
        add_shape_embeddings(DistilBertForTokenClassification(config))
