"""crossbound: a validation pipeline for data that crosses the Hong Kong / Shenzhen boundary."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
