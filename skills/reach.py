"""Feasibility before motion: can an arm call reach its target from the station's working pose?

Plan validation asks each arm skill (``SkillSpec.reachable``) with a Workspace: the env the executors are
built on (its scene and embodiment; never stepped here) and the world as it is. pick plans its whole
motion with its own executor, as it would at the start of the call, with the base at the station's
working pose and the arm at the stand pose: the same IK, joint limits and torso bound, so what validation
accepts the executor can play.

place and pour are not checked here: their motion depends on how the object sits in the hand, unknown
before the pick, and every zone, tray and container target was in reach of both hands on the measured
seeds (docs/planning.md). Their executors still report ``unreachable`` at the start of a call, before any
motion, and the graph repairs instead of retrying.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from envs.base import Observation, WorldState

MISS_SHOWN_M = 0.05  # a pick missing by less fails on the hand's rotation: say so, not a distance


@dataclass(frozen=True)
class Workspace:
    """What reach is checked against: the env executors are built on, and the world as it is."""

    env: Any
    world: WorldState

    def base_pose(self, station: str) -> tuple[float, float, float]:
        """Where the robot stands at ``station``: where it is now if it is there, else the working pose."""
        if self.world.robot.station == station:
            x, y, yaw = self.world.robot.base_pose
            return float(x), float(y), float(yaw)
        x, y, deg = self.env.working_pose(station)  # on legs, the walker's standoff behind the scene's
        return float(x), float(y), math.radians(deg)

    def at(self, station: str, side: str) -> tuple[Observation, WorldState]:
        """An observation and a world as if the robot stood at ``station`` with the ``side`` arm at the
        stand pose (as now, if it stands there already)."""
        from envs.robots.g1 import g1_constants as g1
        from envs.robots.g1.g1_model import STAND_POSE

        obs = self.env.observation()
        pose = self.base_pose(station)
        state = obs.state.copy()
        if self.world.robot.station != station:
            idx = self.env.embodiment.groups[g1.ARM_OF[side]].state_index
            state[idx] = [STAND_POSE.get(j, 0.0) for j in g1.GROUP_JOINTS[g1.ARM_OF[side]]]
        world = replace(self.world, robot=replace(self.world.robot, base_pose=list(pose), station=station))
        return Observation(obs.time_s, state, np.zeros_like(obs.velocity), np.array(pose)), world


def _direction(ws: Workspace, station: str, delta: np.ndarray) -> str:
    """The main direction of a world offset in the robot's frame at ``station``."""
    yaw = ws.base_pose(station)[2]
    c, s = math.cos(yaw), math.sin(yaw)
    fwd, left, up = c * delta[0] + s * delta[1], -s * delta[0] + c * delta[1], delta[2]
    names = (("in front of", "behind"), ("left of", "right of"), ("above", "below"))
    axis = int(np.argmax(np.abs([fwd, left, up])))
    value = (fwd, left, up)[axis]
    return names[axis][0 if value > 0 else 1]


def _miss(
    ws: Workspace, arm: Any, obs: Observation, world: WorldState, site: str, target: np.ndarray, station: str
) -> tuple[float, str]:
    """How far, and which way, ``target`` lies outside the reach of ``arm``'s hand site (an executor reset
    at ``obs``). The search starts with the hand raised beside the body over the table, as every arm skill
    does first: from the hanging stand pose the solver stalls below the tabletop."""
    q0 = obs.state[ws.env.embodiment.groups[arm.arm_group].state_index].copy()
    steps = arm.via_beside_body(q0, arm.table_height(world))
    arm.ik.set_arm(steps[-1].arm.end if steps and steps[-1].arm else q0)
    reached = arm.ik.closest(site, target)
    delta = np.asarray(target, float) - reached
    return float(np.linalg.norm(delta)), _direction(ws, station, delta)


def pick_problems(ws: Workspace, station: str, obj: str, hand: str) -> list[str]:
    """Why ``hand`` cannot pick ``obj`` at ``station``, planned by the pick executor itself."""
    from envs.scene_schema import ObjectType
    from skills.controllers import PickExecutor

    executor = PickExecutor(ws.env, object=obj, hand=hand)
    obs, world = ws.at(station, hand)
    executor.reset(obs, world)  # plans the whole motion; an Unreachable becomes executor.error
    if not executor.error:
        return []
    site = "pinch" if ws.env.scene.objects[obj].type == ObjectType.BLOCK else "grasp"
    dist, where = _miss(ws, executor, obs, world, site, np.array(world.objects[obj].pos), station)
    if dist >= MISS_SHOWN_M:
        return [f"{obj} is {dist:.2f} m {where} the {hand} hand's workspace"]
    return [f"the {hand} hand cannot take {obj} at {station}: {executor.error}"]
