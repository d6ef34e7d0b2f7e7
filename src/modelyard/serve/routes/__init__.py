"""Route modules: health/metrics, models, predict, admin."""
