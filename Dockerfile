# syntax=docker/dockerfile:1
# One image, two commands:
#   docker run IMAGE                                               # onefile-worker run
#   docker run --entrypoint onefile-sandbox IMAGE --host 0.0.0.0   # the Onefile simulator
#
# The base is pinned by its full version tag; pin it by digest too (python:…@sha256:…) where
# builds must be bit-for-bit repeatable. Build and final stage share it, so the wheels built
# in one (pydantic-core, asyncpg: binary) are the ones the other's interpreter can load.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# --- build: a wheel of the project and of every dependency; nothing is installed ---------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Only what the wheel is built from (README.md is pyproject's readme), so that editing tests
# or deploy files does not rebuild it.
COPY pyproject.toml README.md ./
COPY messages/ messages/
COPY worker/ worker/
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels .

# --- final: a venv installed from those wheels alone, run as a non-root user -------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="onefile-worker" \
      org.opencontainers.image.description="Assigns Onefile programmes to learners from RabbitMQ enrolment events, effectively once."
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    METRICS_PORT=9108 \
    MAPPING_FILE=/config/mapping.yaml \
    LEDGER_URL=sqlite:////data/onefile-worker.db
# The wheels are bind-mounted from the build stage, so none of them stays in a layer.
# --no-index: every package comes from /wheels, none is resolved again here.
# pip byte-compiles while installing, so a read-only root filesystem costs nothing at run time.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv "$VIRTUAL_ENV" \
    && "$VIRTUAL_ENV/bin/pip" install --no-cache-dir --no-index --find-links /wheels onefile-worker \
    && groupadd --system --gid 10001 onefile \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin onefile \
    && mkdir -p /app /config /data \
    && chown 10001:10001 /app /data
WORKDIR /app
# Numeric, so that Kubernetes' runAsNonRoot can check it without a runAsUser.
USER 10001:10001

# /metrics, /healthz and /readyz (METRICS_PORT). The sandbox listens on its --port (8080).
EXPOSE 9108
# The worker stops consuming on SIGTERM and hands unfinished messages back within 20 s;
# give it at least that (docker stop -t 20, compose stop_grace_period, k8s
# terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
# No curl in slim: the venv's Python asks /healthz. Containers running onefile-sandbox
# from this image must override this check (the sandbox serves no /healthz).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('METRICS_PORT', '9108'), timeout=4)"]
ENTRYPOINT ["onefile-worker"]
CMD ["run"]
