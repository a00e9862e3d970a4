"""The model-performance page and its threshold explorer (a page about detection quality, not about speed)."""
