"""Prometheus metrics of one server: requests, latency, batch sizes, queue depth, load times, errors."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ServerMetrics:
    """Collectors on a registry of their own, so several apps in one process (tests) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "modelyard_requests",
            "HTTP requests by route and status code",
            ["route", "method", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "modelyard_request_seconds",
            "Request latency by route",
            ["route"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "modelyard_batch_size",
            "Texts per forward pass",
            ["model"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=self.registry,
        )
        self.forward_seconds = Histogram(
            "modelyard_forward_seconds", "Seconds per forward pass", ["model"], registry=self.registry
        )
        self.queue_depth = Gauge(
            "modelyard_queue_texts", "Texts waiting for a forward pass", ["model"], registry=self.registry
        )
        self.load_seconds = Gauge(
            "modelyard_model_load_seconds",
            "Seconds the served version took to load",
            ["model", "version", "runtime"],
            registry=self.registry,
        )
        self.load_failures = Counter(
            "modelyard_model_load_failures",
            "Versions refused at load (bad files, errors)",
            ["model"],
            registry=self.registry,
        )
        self.errors = Counter(
            "modelyard_errors", "Error responses by code and error type", ["code", "type"], registry=self.registry
        )
        self.predictions = Counter("modelyard_predictions", "Texts predicted", ["model"], registry=self.registry)
