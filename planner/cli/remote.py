"""``--server``: send the same inputs to a running service (``POST /v1/evaluate``) and read its evaluations."""

from __future__ import annotations

import time
from typing import Any

import httpx
import msgspec

from planner.domain.errors import FieldError, InvalidDocument
from planner.domain.loading import LoadedObject
from planner.engine.results import Evaluation

EVALUATE_PATH = "/v1/evaluate"


class ServiceError(Exception):
    """The service could not be reached, or answered with something other than evaluations or a 4xx problem."""


def request_body(objects: list[LoadedObject]) -> dict[str, Any]:
    """All input documents as one Kubernetes ``List`` (the form ``kubectl get -o json`` prints)."""
    return {"apiVersion": "v1", "kind": "List", "items": [o.raw for o in objects]}


def _evaluations(payload: Any) -> list[Evaluation]:
    if isinstance(payload, dict) and "plans" in payload:
        # POST /v1/evaluate: one entry per ServicePlan; a Scenario's entry carries its base too, which the
        # offline evaluation lists first (base, then the what-if).
        entries = payload["plans"] if isinstance(payload["plans"], list) else []
        payload = [
            evaluation
            for entry in entries
            if isinstance(entry, dict)
            for evaluation in (entry.get("base"), entry.get("evaluation"))
            if evaluation is not None
        ]
    elif isinstance(payload, dict) and "evaluations" in payload:
        payload = payload["evaluations"]
    elif isinstance(payload, dict) and "items" in payload:
        payload = payload["items"]
    if isinstance(payload, dict):
        payload = [payload]
    return msgspec.convert(payload, list[Evaluation])


def _problem(response: httpx.Response) -> InvalidDocument:
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    errors = [
        FieldError(field=str(e.get("field", "")), type=str(e.get("type", "Invalid")), message=str(e.get("message")))
        for e in problem.get("errors") or []
        if isinstance(e, dict)
    ]
    detail = str(problem.get("detail") or problem.get("title") or f"HTTP {response.status_code}")
    if not errors:
        errors = [FieldError(field="", type="Invalid", message=detail)]
    return InvalidDocument(errors, summary=f"the service rejected the input ({response.status_code}): {detail}")


def evaluate_remote(
    server: str,
    objects: list[LoadedObject],
    *,
    cluster_name: str,
    timeout: float = 60.0,
    transport: httpx.BaseTransport | None = None,
) -> list[Evaluation]:
    """POST the inputs; return the service's evaluations in input order.

    Raises:
        InvalidDocument: the service answered 4xx (bad input), with its field errors.
        ServiceError: unreachable, 5xx, or a response that is not the Evaluation schema.
    """
    url = server.rstrip("/") + EVALUATE_PATH
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.post(url, json=request_body(objects), params={"clusterName": cluster_name})
    except httpx.HTTPError as exc:
        raise ServiceError(f"cannot reach {url}: {exc}") from exc
    if 400 <= response.status_code < 500 and response.status_code not in (401, 403, 404, 405, 429):
        raise _problem(response)
    if response.status_code >= 300:
        raise ServiceError(f"{url} answered {response.status_code}: {response.text[:500]}")
    try:
        return _evaluations(response.json())
    except (ValueError, msgspec.ValidationError) as exc:
        raise ServiceError(f"{url} did not answer with evaluations: {exc}") from exc


__all__ = ["EVALUATE_PATH", "ServiceError", "evaluate_remote", "request_body"]


RECOMMEND_PATH = "/v1/recommend"


def recommend_remote(
    server: str,
    objects: list[LoadedObject],
    *,
    time_limit_seconds: float,
    seed: int,
    timeout: float = 60.0,
    transport: httpx.BaseTransport | None = None,
) -> Any:
    """POST the inputs with the solver options to ``/v1/recommend``; follow a ``202`` job until it is done.

    Returns the service's ``Recommendation`` as decoded JSON.

    Raises:
        InvalidDocument: the service answered 4xx (bad input), with its field errors.
        ServiceError: unreachable, 5xx, a failed job, or an answer without a recommendation.
    """
    options = {
        "apiVersion": "trafficplanner.io/v1",
        "kind": "RecommendOptions",
        "spec": {"solver": {"timeLimitSeconds": time_limit_seconds, "randomSeed": seed}},
    }
    body = [o.raw for o in objects] + [options]
    base = server.rstrip("/")
    deadline = time.monotonic() + timeout + time_limit_seconds
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.post(base + RECOMMEND_PATH, json=body)
            if 400 <= response.status_code < 500 and response.status_code not in (401, 403, 404, 405, 429):
                raise _problem(response)
            if response.status_code == 202:
                job_url = base + response.headers["location"]
                while True:
                    job = client.get(job_url).json()
                    if job.get("status") == "succeeded":
                        return job["result"]
                    if job.get("status") == "failed" or time.monotonic() > deadline:
                        raise ServiceError(f"{job_url}: job {job.get('status')}: {job.get('error')}")
                    time.sleep(0.2)
            if response.status_code >= 300:
                raise ServiceError(f"{base + RECOMMEND_PATH} answered {response.status_code}: {response.text[:500]}")
            return response.json()["recommendation"]
    except httpx.HTTPError as exc:
        raise ServiceError(f"cannot reach {base}: {exc}") from exc
    except (KeyError, ValueError) as exc:
        raise ServiceError(f"{base + RECOMMEND_PATH} did not answer with a recommendation: {exc}") from exc
