"""Prometheus metrics: request latency, dispatch decisions and acceptance times."""

from __future__ import annotations

import hmac
import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from ems.errors import EmsError

REQUEST_LATENCY = Histogram(
    "ems_http_request_seconds",
    "API request latency",
    ["method", "endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
DISPATCH_DECISIONS = Counter("ems_dispatch_decisions_total", "Units assigned by the dispatcher")
HOSPITAL_REQUESTS = Counter(
    "ems_hospital_requests_total", "Hospital acceptance requests by outcome", ["outcome"]
)
ACCEPTANCE_SECONDS = Histogram(
    "ems_acceptance_seconds",
    "Time from a request's sending to the hospital's answer",
    buckets=(5, 15, 30, 60, 120, 300, 600, 1800),
)


def require_metrics_token(token: str, authorization: str, *, production: bool) -> None:
    """``/metrics`` tells load, call volumes and endpoints: with METRICS_TOKEN set it
    needs ``Authorization: Bearer <METRICS_TOKEN>``; without one it is open only outside
    production (a developer's checkout, the tests) and absent in production."""
    if not token:
        if production:
            raise EmsError("no such endpoint", code="not_found", status=404)
        return
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        value.strip().encode(), token.encode()
    ):
        raise EmsError(
            "send 'Authorization: Bearer <METRICS_TOKEN>'",
            code="metrics_token_required",
            status=401,
        )


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        g.t0 = time.perf_counter()

    @app.after_request
    def _observe(resp: Response) -> Response:
        t0 = g.get("t0")
        if t0 is not None and request.path.startswith("/api/"):
            REQUEST_LATENCY.labels(
                request.method,
                request.url_rule.rule if request.url_rule else "unmatched",
                str(resp.status_code),
            ).observe(time.perf_counter() - t0)
        return resp

    @app.get("/metrics")
    def metrics() -> Response:
        require_metrics_token(
            str(app.config.get("METRICS_TOKEN", "")),
            request.headers.get("Authorization", ""),
            production=app.config.get("ENV") == "production",
        )
        # Under several gunicorn workers, PROMETHEUS_MULTIPROC_DIR makes every worker's
        # samples visible whichever worker answers the scrape.
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
