# The prediction API (default CMD) and, with `nns-trainer` as the command, the trainer.
# Build stage: install the package and its runtime dependencies into a venv without pip.
# Final stage: the same slim base plus that venv only, run as a numeric non-root user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv --without-pip /opt/venv
COPY pyproject.toml README.md ./
COPY model_store ./model_store
COPY service ./service
# Installs this directory (not a registry name), so there is no version to pin here.
# Extras: redis for the job queue, s3 for a model store in object storage (NNS_MODEL_STORE=s3://).
RUN python -m pip --python /opt/venv/bin/python install --no-cache-dir '.[redis,s3,onnx]'

FROM ${PYTHON_IMAGE}
# XDG_RUNTIME_DIR puts gunicorn's control socket (gunicornc) in /tmp, not in the unwritable HOME.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NNS_DATA_DIR=/data \
    NNS_DEFAULT_MODEL=diabetes \
    NNS_BIND=0.0.0.0:8000 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/nns-metrics \
    XDG_RUNTIME_DIR=/tmp
# /data is created here so a new named volume starts out owned by the service user.
RUN groupadd --gid 10001 nns \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin nns \
    && mkdir /data \
    && chown 10001:10001 /data
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# The port follows NNS_BIND; 503 (not ready) and refused connections both exit non-zero.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as r; p = os.environ.get('NNS_BIND', ':8000').rpartition(':')[2]; sys.exit(r.urlopen(f'http://127.0.0.1:{p}/health/ready', timeout=3).status != 200)"]
# nns-serve trains the default model into an empty /data, then execs gunicorn, which opens the port.
CMD ["nns-serve"]
