"""Monitors: read the world state every tick and report decisive outcomes of skill calls."""

from agent.monitors.config import MonitorConfig
from agent.monitors.monitors import Monitors

__all__ = ["MonitorConfig", "Monitors"]
