# The atoll image: `atoll operator` and `atoll syncer` for a super-cluster (charts/atoll).
# The first stage installs the package into a virtualenv; the second carries only that
# virtualenv onto the same base, and runs as a numeric non-root user.
#   docker build -t <registry>/atoll:<version> .

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/atoll
WORKDIR /src
# Only what the wheel is built from (pyproject.toml's hatch settings): the three source
# roots, the CRDs it ships, and the README its metadata names.
COPY pyproject.toml README.md ./
COPY core ./core
COPY operator ./operator
COPY syncer ./syncer
COPY crds ./crds
RUN /opt/atoll/bin/pip install .

FROM python:3.11-slim
COPY --from=build /opt/atoll /opt/atoll
# No bytecode written at run time: the chart mounts the root filesystem read-only.
ENV PATH=/opt/atoll/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 65532:65532
ENTRYPOINT ["atoll"]
CMD ["--help"]
