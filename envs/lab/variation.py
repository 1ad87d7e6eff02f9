"""Scene-level perturbations of a demonstration, applied to a G1LabEnv right after ``reset(seed)``.

Object poses already vary with the seed (the scene's ranges); this adds what the seed does not move:
camera pose jitter, light brightness, object colours, and which distractor objects stand aside on the floor.
Every value is given explicitly (the collector samples and records them), so a replay re-applies them
exactly. Each ``apply`` first restores the model's nominal values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import mujoco
import numpy as np

ASIDE_BEHIND_M = 1.5  # distractors not used in an episode stand on the floor this far behind the robot
ASIDE_SPACING_M = 0.3


def _rpy_quat(rpy_deg: Sequence[float]) -> np.ndarray:
    q = np.zeros(4)
    mujoco.mju_euler2Quat(q, np.radians(np.asarray(rpy_deg, float)), "xyz")
    return q


class SceneJitter:
    """Applies perturbations to one env; remembers the nominal model values to restore them."""

    def __init__(self, env) -> None:
        self.env = env
        m = env.model
        self._cam_pos = m.cam_pos.copy()
        self._cam_quat = m.cam_quat.copy()
        self._light = m.light_diffuse.copy()
        self._rgba = m.geom_rgba.copy()

    @property
    def lights(self) -> list[str]:
        """Every light by name (``light<i>`` for the robot model's unnamed ones)."""
        m = self.env.model
        return [m.light(i).name or f"light{i}" for i in range(m.nlight)]

    def apply(
        self,
        cameras: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
        lighting: Mapping[str, float] | None = None,
        colours: Mapping[str, Sequence[float]] | None = None,
        aside: Sequence[str] = (),
    ) -> None:
        """cameras: name -> {"pos_m": (dx, dy, dz) in the camera's body frame, "rot_deg": (roll, pitch, yaw)
        about the camera's own axes}; lighting: light name -> brightness factor; colours: object -> rgba;
        aside: objects moved off the table onto the floor behind the robot."""
        env, m = self.env, self.env.model
        m.cam_pos[:] = self._cam_pos
        m.cam_quat[:] = self._cam_quat
        m.light_diffuse[:] = self._light
        m.geom_rgba[:] = self._rgba
        for name, jitter in (cameras or {}).items():
            i = m.camera(name).id
            m.cam_pos[i] = self._cam_pos[i] + np.asarray(jitter.get("pos_m", (0, 0, 0)), float)
            q = np.zeros(4)
            mujoco.mju_mulQuat(q, self._cam_quat[i], _rpy_quat(jitter.get("rot_deg", (0, 0, 0))))
            m.cam_quat[i] = q
        lights = self.lights
        for name, factor in (lighting or {}).items():
            i = lights.index(name)
            m.light_diffuse[i] = np.clip(self._light[i] * factor, 0.0, 1.0)
        for name, rgba in (colours or {}).items():
            m.geom_rgba[m.geom(name).id] = np.clip(np.asarray(rgba, float), 0.0, 1.0)
        x, y, yaw = env.base_pose()
        for k, name in enumerate(aside):
            obj = env.scene.objects[name]
            half = obj.size[1] if obj.shape == "cylinder" else obj.size[-1]
            bx, by = -ASIDE_BEHIND_M, (k - (len(aside) - 1) / 2) * ASIDE_SPACING_M
            wx = x + math.cos(yaw) * bx - math.sin(yaw) * by
            wy = y + math.sin(yaw) * bx + math.cos(yaw) * by
            env.move_object(name, (wx, wy, half + 0.001), yaw)
