"""The offline planner: recipes (planner/recipes/*.yaml) matched by sentence embeddings, expanded HTN-style
from the current symbolic state into a Plan. No network, no API key."""

from planner.offline.planner import Intent, OfflinePlanner, PlanningError, Reply

__all__ = ["Intent", "OfflinePlanner", "PlanningError", "Reply"]
