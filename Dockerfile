# carbonline as a container image: `carbonline run` by default, any carbonline command otherwise
# (compose/docker-compose.yml runs `run` and `simulate` from it).
#
# Two stages: the first builds the wheel (setuptools only there), the second installs it into a
# slim Python and runs as an unprivileged user. tests/deploy/test_dockerfile.py runs every
# `pip` RUN line below, as written, in a fresh virtual environment (no Docker engine in CI):
# keep the pip steps relative to each stage's WORKDIR.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml README.md ./
COPY plugin/ plugin/
RUN python -m pip wheel --no-deps --wheel-dir wheels .

FROM python:3.11-slim-bookworm
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
WORKDIR /opt/carbonline
COPY --from=build /build/wheels/ wheels/
RUN python -m pip install wheels/*.whl
# The state store (checkpoint, batch log, spool, baselines) lives in the user's home: mount a
# volume at /var/lib/carbonline and set `[run] state_dir = "/var/lib/carbonline"`.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/carbonline \
    carbonline
USER carbonline
WORKDIR /var/lib/carbonline
# [http] listen: the HTTP app (API, /health, /metrics, /docs); bind 0.0.0.0 in a container.
EXPOSE 8787
ENTRYPOINT ["carbonline"]
CMD ["run", "--config", "/etc/carbonline/plant.toml"]
