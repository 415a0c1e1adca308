"""``/metrics``: the process's Prometheus metrics (defined in ``planner.telemetry``) in the text exposition format."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from planner.db.engine import Database
from planner.queue.depth import queue_depths
from planner.telemetry import QUEUE_DEPTH


@get("/metrics", include_in_schema=False, media_type=CONTENT_TYPE_LATEST)
async def metrics(state: State) -> Response[bytes]:
    """The process's metrics; the queue depth is read from the database at scrape time."""
    database = state.db
    assert isinstance(database, Database)
    try:
        depths = await queue_depths(database)
    except Exception:
        depths = {}
    for (queue, state_name), count in depths.items():
        QUEUE_DEPTH.labels(queue=queue, state=state_name).set(count)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
