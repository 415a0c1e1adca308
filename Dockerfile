# syntax=docker/dockerfile:1
#
# Traffic Planner service image.
#
#   docker build -t traffic-planner .
#   docker volume create planner-data
#   docker run --rm -v planner-data:/var/lib/planner traffic-planner planner db upgrade   # once per release
#   docker run --init -p 8000:8000 -v planner-data:/var/lib/planner traffic-planner
#
# Migrations are a separate one-shot command, never run when a replica starts.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Third-party dependencies first, from the lock file only, so this layer is cached
# until uv.lock changes. No dependency groups: test and lint tools stay out.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-default-groups --no-install-project

# Then the project itself.
COPY README.md ./
COPY planner ./planner
COPY alembic.ini ./
COPY migrations ./migrations
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-default-groups

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="traffic-planner" \
      org.opencontainers.image.description="Plan Kubernetes Service traffic policies and replica placement before production." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      io.trafficplanner.migrate-command="planner db upgrade"

RUN groupadd --system --gid 65532 planner \
 && useradd --system --uid 65532 --gid planner --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin planner \
 && mkdir -p /var/lib/planner \
 && chown 65532:65532 /var/lib/planner

WORKDIR /app
COPY --from=builder --chown=0:0 /app /app

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PLANNER_DATABASE_URL="sqlite+aiosqlite:////var/lib/planner/planner.db" \
    PLANNER_AUTH="required"

VOLUME ["/var/lib/planner"]
USER 65532:65532
EXPOSE 8000
STOPSIGNAL SIGTERM

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

CMD ["planner", "serve", "--host", "0.0.0.0", "--port", "8000"]
