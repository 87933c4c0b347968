"""Re-export of the product's one configuration object (defined in babelsearch.config)."""

from babelsearch.config import Settings, load_settings

__all__ = ["Settings", "load_settings"]
