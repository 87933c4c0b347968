"""One configuration object for the whole product: env vars `BABELSEARCH_*`, overridden by CLI flags."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Which model, which store, which collection (read once at the edge: CLI, app)."""

    model_config = SettingsConfigDict(env_prefix="BABELSEARCH_", extra="ignore")

    model: str = "default"
    store: Path = Path(".babelsearch/index")  # embedded qdrant-edge folder
    url: str | None = None  # Qdrant server URL; when set, server mode is used instead of `store`
    api_key: str | None = None
    collection: str = "babelsearch"
    timeout_s: int = 30
    batch_size: int = 128  # points per server upsert
    max_chunk_tokens: int = 256
    chunk_overlap_tokens: int = 32
    # cluster deployments (server mode only; applied when the collection is created)
    shard_number: int | None = None
    replication_factor: int | None = None
    write_consistency_factor: int | None = None

    @field_validator("url", "api_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """compose passes unset variables as "", which means "not set" here."""
        return None if value == "" else value

    def describe_store(self) -> str:
        """Where the index lives, for messages."""
        return f"Qdrant at {self.url}" if self.url else f"embedded store {self.store}"


def load_settings(**overrides) -> Settings:
    """Settings from the environment, with non-None keyword overrides (CLI flags) applied on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
