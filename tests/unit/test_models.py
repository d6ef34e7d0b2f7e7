"""Base-model resolution: packaged default, local folder, hub id (the hub is unreachable here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoConfig

from modelyard import models
from modelyard.errors import ModelLoadError


def test_packaged_default_resolves_to_its_folder() -> None:
    base = models.resolve("minilm-l6")
    assert base.source == "packaged" and (Path(base.location) / "model.safetensors").is_file()
    assert models.load(AutoConfig, base).hidden_size == 384


def test_local_folder(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    folder.mkdir()
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        models.resolve(str(folder))
    (folder / "config.json").write_text("{}")
    assert models.resolve(str(folder)).source == "local"
    with pytest.raises(ModelLoadError, match=r"does not exist; local alternatives.*minilm-l6"):
        models.resolve(str(tmp_path / "absent"))


def test_hub_id_offline_names_the_local_alternatives(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real hub-loading path; this machine has no hub, which is exactly the failure users must understand.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    base = models.resolve("bert-base-uncased")
    assert base.source == "hub"
    with pytest.raises(ModelLoadError) as caught:
        models.load(AutoConfig, base)
    message = str(caught.value)
    assert "cannot load 'bert-base-uncased' from the Hugging Face hub (HF_HUB_OFFLINE is set)" in message
    assert "minilm-l6" in message
