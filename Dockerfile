# syntax=docker/dockerfile:1
# The werfop operator image: `werfop run` on a slim Python base, as a non-root numeric user,
# with the runtime dependencies of pyproject.toml only (no test or lint extras, no build
# tools, no pip). Build: `make docker-build IMG=...`. The Deployment in deploy/manager/ runs
# it with a read-only root filesystem and an emptyDir at /tmp.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/werfop
WORKDIR /src
# .dockerignore lets in only what building the package needs.
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/werfop/bin/pip install . \
 && /opt/werfop/bin/pip uninstall --yes pip setuptools

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="werfop" \
      org.opencontainers.image.description="Continuously deploys werf bundles from OCI registries" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/werfop/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/werfop /opt/werfop
# 65532 is "nonroot" by convention (distroless); no home, no shell login, no root.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["werfop", "run"]
