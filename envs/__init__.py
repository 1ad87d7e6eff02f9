"""Simulators behind one protocol (Env), the embedded MuJoCo lab, scenes as data, chemistry semantics.

Imports none of Tandem's other packages.
"""

from envs.rendering.gl import choose_gl_backend

choose_gl_backend()  # MuJoCo reads MUJOCO_GL once, when it is first imported

from envs.base import Command, Embodiment, Env, JointGroup, Observation, WorldState  # noqa: E402
from envs.registry import all_envs, make, register_env  # noqa: E402

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
