"""Simulators behind one protocol (Env), the embedded MuJoCo lab, scenes as data, chemistry semantics.

Imports none of Tandem's other packages.
"""

from envs.base import Command, Embodiment, Env, JointGroup, Observation, WorldState
from envs.registry import all_envs, make, register_env

__all__ = [
    "Command",
    "Embodiment",
    "Env",
    "JointGroup",
    "Observation",
    "WorldState",
    "all_envs",
    "make",
    "register_env",
]
