"""Recipes: every shipped recipe loads; bad ones fail with the key path and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from modelyard.config import Recipe, dump_recipe, load_recipe, parse_recipe
from modelyard.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
# alerts.yaml holds monitoring alert rules, not a recipe (tests/unit/test_alert_rules.py loads it).
RECIPES = sorted(p for p in CONFIGS.glob("*.yaml") if p.name != "alerts.yaml")


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_shipped_recipe_loads(path: Path) -> None:
    recipe = load_recipe(path)
    assert isinstance(recipe, Recipe)
    assert parse_recipe(yaml.safe_load(dump_recipe(recipe))) == recipe  # the saved form round-trips


def test_shipped_recipes_exist() -> None:
    shipped = {p.name for p in RECIPES}
    assert {"banking77.yaml", "rotten_tomatoes.yaml", "conll2003.yaml", "pii_names.yaml"} <= shipped


BASE = {"name": "m", "data": {"dataset": "banking77"}}


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"trainig": {}}, ["trainig: unknown key; allowed here:", "training"]),
        ({"training": {"method": "fulll"}}, ["training.method", "'full', 'lora' or 'head'", "found 'fulll'"]),
        ({"training": {"lora": {"r": 4}}}, ["training.lora is set but training.method is 'full'"]),
        ({"training": {"lora_r": 4}}, ["training.lora_r: unknown key", "learning_rate"]),
        ({"training": {"batch_size": 0}}, ["training.batch_size", "greater than or equal to 1", "found 0"]),
        ({"training": {"layer_decay": 1.5}}, ["training.layer_decay", "less than or equal to 1", "found 1.5"]),
        ({"data": {}}, ["exactly one of data.dataset"]),
        ({"data": {"dataset": "x", "path": "a.csv"}}, ["found ['dataset', 'path']"]),
        ({"data": {"train": "a.csv"}}, ["data.train needs data.validation"]),
        ({"name": "Bad Name"}, ["name", "should match pattern"]),
        ({"task": "translation"}, ["task", "text-classification", "token-classification"]),
        (
            {"task": "token-classification", "training": {"metric_for_best": "accuracy"}},
            ["metric_for_best 'accuracy' does not apply to token-classification", "f1, loss"],
        ),
        (
            {"task": "token-classification", "data": {"dataset": "x", "label_separator": "|"}},
            ["text-classification only"],
        ),
        ({"data": {"dataset": "x", "tag_scheme": "BIOES"}}, ["data.tag_scheme", "'IOB2', 'IOB1' or 'IOBES'"]),
        ({"model": {"pooling": "max"}}, ["model.pooling", "'cls', 'mean' or 'auto'", "found 'max'"]),
        (
            {"task": "token-classification", "model": {"pooling": "mean"}},
            ["model.pooling applies to text-classification only"],
        ),
        ({"model": {"case_features": True}}, ["model.case_features applies to token-classification only"]),
        (
            {"task": "token-classification", "model": {"context_dropout": 0.5}},
            ["model.context_dropout drops document context: set model.document_context too"],
        ),
        (
            {"task": "token-classification", "model": {"document_context": 8, "context_dropout": 1.0}},
            ["model.context_dropout", "less than 1", "found 1.0"],
        ),
    ],
)
def test_bad_recipes_name_the_key_and_the_fix(patch: dict[str, object], expected: list[str]) -> None:
    raw = BASE | patch
    with pytest.raises(ConfigError) as caught:
        parse_recipe(raw, "r.yaml")
    message = str(caught.value)
    assert message.startswith("r.yaml is not a valid recipe")
    for fragment in expected:
        assert fragment in message


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_recipe(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_recipe(listed)


def test_relative_data_paths_are_taken_from_the_recipe_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "r.yaml"
    path.write_text(yaml.safe_dump({"name": "m", "data": {"path": "../data.csv"}}))
    assert load_recipe(path).data.path == (tmp_path / "data.csv").resolve()


def test_fingerprint_changes_with_the_config() -> None:
    a = parse_recipe(BASE)
    b = parse_recipe(BASE | {"training": {"seed": 1}})
    assert a.fingerprint() == parse_recipe(BASE).fingerprint()
    assert a.fingerprint() != b.fingerprint()
