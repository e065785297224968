# syntax=docker/dockerfile:1
# k8s-monitor image: the wheel built in stage one, installed alone into a slim runtime.
#   docker build -t k8s-monitor:0.1.0 .
#   docker run --rm k8s-monitor:0.1.0 --version

ARG PYTHON_VERSION=3.11

# --- build: source in, one wheel out ---------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
RUN python -m pip install --no-cache-dir "build>=1.2"
COPY pyproject.toml README.md ./
COPY k8s_monitor ./k8s_monitor
RUN python -m build --wheel --outdir /dist

# --- runtime: only the wheel and its dependencies ---------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="k8s-monitor" \
      org.opencontainers.image.description="Kubernetes monitoring daemon that analyses cluster state with Claude and remembers across cycles" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/example/k8s-monitor"

# Unbuffered so `kubectl logs -f` shows each line as it is written; no .pyc writes at run time
# because the root filesystem is read-only in the pod; state and reports under /data (the PVC).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    SESSION_DIR=/data/sessions \
    REPORT_DIR=/data/reports \
    METRICS_PORT=8080

RUN groupadd --system --gid 10001 monitor \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin monitor

COPY --from=build /dist/ /tmp/dist/
# The bedrock extra brings boto3 for LLM_PROVIDER=bedrock (the eks overlay's default).
RUN python -m pip install --no-cache-dir "$(ls /tmp/dist/*.whl)[bedrock,mcp]" \
 && rm -rf /tmp/dist \
 && mkdir -p /data/sessions /data/reports \
 && chown -R 10001:10001 /data

WORKDIR /data
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080

ENTRYPOINT ["k8s-monitor"]
CMD ["run"]
