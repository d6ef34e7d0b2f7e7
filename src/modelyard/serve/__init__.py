"""The REST server: a thin FastAPI shell over the registry, the predictors and the store."""

from modelyard.serve.app import ServeConfig, create_app

__all__ = ["ServeConfig", "create_app"]
