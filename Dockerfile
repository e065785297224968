# k8s-monitor image: the locked dependencies and the project's wheel in a venv, copied alone
# into a slim runtime that has no pip or setuptools.
#   docker build -t k8s-monitor:0.1.0 .
#   docker run --rm k8s-monitor:0.1.0 --version
#
# The base is pinned by digest (a tag moves). To move it, or to build from a mirror (ECR pull
# through cache, an air-gapped registry), pass the reference, digest included:
#   docker buildx imagetools inspect python:3.11-slim-bookworm      # prints the current digest
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<digest> .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

# --- build: locked dependencies, then the wheel, into /opt/venv ------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The base image's pip is old; a current one installs the lock without surprises.
RUN python -m pip install --upgrade pip "build>=1.2"
# Dependencies only from the hash-pinned lock (`make lock`): no resolver, no backtracking, and a
# layer that is reused as long as the lock is unchanged. The venv gets no pip of its own.
# kubernetes' asyncio client (about 70 MB with its bytecode) goes: the daemon imports only the
# sync client (tests/integration/test_wheel_install.py checks that it stays so).
COPY requirements.lock ./
RUN python -m venv --without-pip /opt/venv \
 && python -m pip --python /opt/venv/bin/python install --require-hashes --no-deps \
      -r requirements.lock \
 && rm -rf /opt/venv/lib/python*/site-packages/kubernetes/aio
COPY pyproject.toml README.md ./
COPY k8s_monitor ./k8s_monitor
RUN python -m build --wheel --outdir /dist \
 && python -m pip --python /opt/venv/bin/python install --no-deps /dist/*.whl \
 && python -m pip --python /opt/venv/bin/python check

# --- runtime: the venv and nothing else -------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
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
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/tmp \
    SESSION_DIR=/data/sessions \
    REPORT_DIR=/data/reports \
    METRICS_PORT=8080

# No installer at run time: pip and setuptools leave with this layer.
# /data belongs to group 0 with the owner's rights (g=u): a platform that runs the pod as an
# arbitrary UID (always in group 0) can write there, as UID 10001 can; on the PVC, the pod's
# fsGroup gives the same (README "Any UID").
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
 && groupadd --system --gid 10001 monitor \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin monitor \
 && mkdir -p /data/sessions /data/reports \
 && chown -R 10001:0 /data \
 && chmod -R g=u /data

COPY --from=build /opt/venv /opt/venv

WORKDIR /data
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080

ENTRYPOINT ["k8s-monitor"]
CMD ["run"]
