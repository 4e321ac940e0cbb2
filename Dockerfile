# syntax=docker/dockerfile:1
#
# Seminar's image: `docker build -t seminar .` then see README.md ("Docker").
#
# Two stages on the same base image (so wheels resolved for one Python patch level are
# installed on the same one): the builder turns the project and its pinned dependencies
# (constraints.txt) into wheels; the runtime installs only those wheels, without a compiler,
# pip cache or source tree, and runs as an unprivileged user.
#
# Without DATABASE_URL the container runs the embedded PostgreSQL in /var/lib/seminar (mount a
# volume there, and use `docker run --init` so exited postgres processes are reaped).
# With DATABASE_URL (docker-compose.yml) it is a stateless API node.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# Dependencies change less often than code, but pip wheel needs the package to resolve them,
# so everything the wheel is built from is copied here (see .dockerignore for what is not).
COPY pyproject.toml constraints.txt README.md ./
COPY server ./server
COPY lms_core ./lms_core
COPY rooms ./rooms
COPY media ./media
COPY static ./static
RUN pip wheel -c constraints.txt --wheel-dir /wheels .

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SEMINAR_HOST=0.0.0.0 \
    SEMINAR_PORT=8080 \
    SEMINAR_DATA_DIR=/var/lib/seminar

# A fixed uid/gid so volume ownership is predictable across rebuilds and hosts.
RUN groupadd --gid 10001 seminar \
    && useradd --uid 10001 --gid seminar --home-dir /var/lib/seminar \
        --no-create-home --shell /usr/sbin/nologin seminar \
    && install -d -o seminar -g seminar -m 0750 /var/lib/seminar \
    && install -d -o root -g root -m 0755 /app

# The wheels are bind-mounted from the builder, so they never become a layer of this image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels seminar

WORKDIR /app
USER seminar:seminar

EXPOSE 8080

# Liveness only (the process serves HTTP); /readyz also checks the database and Redis.
# The URL follows the default SEMINAR_PORT: change both together.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=3)"

# `seminar serve` stops gracefully on SIGTERM (up to SEMINAR_SHUTDOWN_TIMEOUT, 20 s by
# default): give `docker stop` a longer timeout than that (`-t 30`, compose stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["seminar", "serve"]
