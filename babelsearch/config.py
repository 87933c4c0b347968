"""One configuration object for the whole product: env vars `BABELSEARCH_*`, overridden by CLI flags."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Which model, which store, which collection (read once at the edge: CLI, app)."""

    model_config = SettingsConfigDict(env_prefix="BABELSEARCH_", extra="ignore")

    model: str = "default"
    store: Path = Path(".babelsearch/store")  # embedded qdrant-edge folder
    url: str | None = None  # Qdrant server URL; when set, server mode is used instead of `store`
    api_key: str | None = None
    collection: str = "babelsearch"
    timeout_s: float = 30.0
    # cluster deployments (server mode only)
    shard_number: int | None = None
    replication_factor: int | None = None
    write_consistency_factor: int | None = None


def load_settings(**overrides) -> Settings:
    """Settings from the environment, with non-None keyword overrides (CLI flags) applied on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
