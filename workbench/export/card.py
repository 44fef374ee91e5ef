"""The model card, re-exported: it lives with the registry in :mod:`workbench.registry_card`."""

from __future__ import annotations

from workbench.registry_card import model_card

__all__ = ["model_card"]
