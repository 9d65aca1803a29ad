# pepr-gate for GPU job containers and local runs:
#   docker build -t pepr-gate .
#   docker run --rm --gpus all -v "$PWD:/work" pepr-gate run --config pepr.toml
# The GPU is reached through NVML, which the NVIDIA Container Toolkit mounts in with
# `--gpus all`; no CUDA libraries are needed in this image for measuring.
# Exact tag pinned: rebuilds get the same Python until this line is changed on purpose.
FROM python:3.12.8-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=utility,compute \
    MPLCONFIGDIR=/tmp/matplotlib

WORKDIR /opt/pepr-gate
COPY pyproject.toml README.md LICENSE* ./
COPY pepr_gate ./pepr_gate
RUN python -m pip install --no-cache-dir /opt/pepr-gate \
    && groupadd --gid 1001 pepr \
    && useradd --create-home --uid 1001 --gid 1001 --shell /bin/bash pepr \
    && mkdir -p /work \
    && chown pepr:pepr /work

# uid 1001 is the runner user on GitHub-hosted runners and many self-hosted ones, so a
# job container can write to the mounted workspace; see docs/action.md for other uids.
USER 1001:1001
WORKDIR /work
ENTRYPOINT ["pepr-gate"]
CMD ["--help"]
