"""modelyard: turn a pretrained transformer into a production model for one business task.

The public API is what ``__all__`` lists (pinned by a test); everything else may change.
"""

from modelyard.config import Recipe, load_recipe
from modelyard.errors import (
    AlreadyExists,
    ConfigError,
    DataError,
    FetchError,
    IntegrityError,
    ModelLoadError,
    ModelyardError,
    NotFound,
    TrainingError,
)

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "ConfigError",
    "DataError",
    "FetchError",
    "IntegrityError",
    "ModelLoadError",
    "ModelyardError",
    "NotFound",
    "Recipe",
    "TrainingError",
    "__version__",
    "load_recipe",
]
