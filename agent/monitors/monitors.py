"""The monitors, evaluated on the world state after every control tick.

Per call: the skill's own judge (from physics), its timeout, a drop of what it should keep in hand,
spill during it, a stalled base. For the whole episode: the robot fell, the simulation went unstable,
the robot pushed too hard on a table. Each finding is a Verdict for the calls it concerns.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from agent import outcome as why
from agent.dispatcher import ActiveCall
from agent.monitors.config import MonitorConfig
from envs.base import WorldState
from skills.spec import CallContext, Verdict


class Monitors:
    def __init__(self, env, config: MonitorConfig | None = None) -> None:
        self.config = config or MonitorConfig()
        self.env = env
        self.dt = env.control_dt
        self.carrying: dict[str, str] = {}  # hand -> object the robot believes it carries
        self._force = np.zeros(6)
        model = getattr(env, "model", None)
        self._table_geoms = np.array(sorted(getattr(env, "_table_geoms", {})), dtype=int)
        self._obstacle_geoms = (
            np.flatnonzero(model.geom_bodyid == model.body("obstacle").id)
            if model is not None and mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "obstacle") >= 0
            else np.zeros(0, dtype=int)
        )
        self._robot_body = (
            np.isin(
                np.arange(model.nbody),
                [b for b in range(model.nbody) if model.body_rootid[b] == model.body("pelvis").id],
            )
            if model is not None
            else None
        )

    def episode_failure(self, world: WorldState) -> Verdict | None:
        """A finding that ends every running call: instability, a fall, a hard push on a table."""
        if world.unstable:
            return Verdict("failure", why.UNSTABLE, {"detail": world.unstable})
        r = world.robot
        if r.pelvis_height < self.config.fall_height_m or r.pelvis_tilt_deg > self.config.fall_tilt_deg:
            return Verdict(
                "failure", why.FELL, {"pelvis_height": r.pelvis_height, "tilt_deg": r.pelvis_tilt_deg}
            )
        force = self._push_on(self._table_geoms)
        if force > self.config.table_force_n:
            return Verdict("failure", why.TABLE_FORCE, {"force_n": round(force, 1)})
        return None

    def _push_on(self, targets: np.ndarray) -> float:
        """The hardest push (normal force, N) of the robot on any of the ``targets`` geoms this step."""
        if self._robot_body is None or not len(targets):
            return 0.0
        m, d = self.env.model, self.env.data
        n = d.ncon
        if n == 0:
            return 0.0
        geoms = d.contact.geom[:n]
        hit = np.isin(geoms, targets).any(axis=1)
        robot = self._robot_body[m.geom_bodyid[geoms]].any(axis=1)
        worst = 0.0
        for i in np.flatnonzero(hit & robot):
            mujoco.mj_contactForce(m, d, int(i), self._force)
            worst = max(worst, float(abs(self._force[0])))
        return worst

    def check_call(self, a: ActiveCall, world: WorldState) -> Verdict | None:
        """The first decisive finding about one running call, or None."""
        elapsed = world.time_s - a.started_s
        spec = a.call.spec
        held = spec.holds(a.call.args)
        expected = dict(self.carrying)
        if held is not None:
            expected[held[0]] = held[1]
        for hand, obj in expected.items():
            if world.robot.holding.get(hand) == obj or (f"{hand}_hand" in a.groups and held is None):
                a.out_of_hand_s = 0.0
                continue
            a.out_of_hand_s += self.dt
            if a.out_of_hand_s >= self.config.drop_after_s - 1e-9:
                self.carrying.pop(hand, None)
                return Verdict(
                    "failure",
                    why.DROPPED,
                    {"object": obj, "hand": hand, "object_pos": world.objects[obj].pos},
                )
        spilled = world.spilled_ml - a.start_world.spilled_ml
        if spilled > self.config.spill_ml:
            return Verdict("failure", why.SPILL, {"spilled_ml": round(spilled, 2), "spills": world.spills_ml})
        if "base" in a.groups:
            push = self._push_on(self._obstacle_geoms)
            if self._stalled(a, world, elapsed) or push > self.config.obstacle_force_n:
                evidence = {"base_pose": world.robot.base_pose, "still_s": round(a.still_s, 2)}
                return Verdict("failure", why.BLOCKED, {**evidence, "obstacle_force_n": round(push, 1)})
        error = getattr(a.executor, "error", None)
        if error:  # the executor found no motion for the call (skills/controllers Unreachable)
            return Verdict("failure", why.UNREACHABLE, {"detail": error})
        verdict = spec.judge(CallContext(a.call.args, a.start_world, world, a.executor.finished, elapsed))
        if verdict is not None:
            return verdict
        error = getattr(a.executor, "error", None)
        if error is not None:
            return Verdict("failure", why.POLICY_ERROR, {"error": error})
        # An executor may need longer than the skill's default on this embodiment (walking vs gliding).
        timeout = getattr(a.executor, "timeout_s", None) or spec.timeout_s
        if elapsed >= timeout:
            return Verdict("failure", why.TIMEOUT, {"timeout_s": timeout, "elapsed_s": round(elapsed, 3)})
        return None

    def _stalled(self, a: ActiveCall, world: WorldState, elapsed: float) -> bool:
        x, y, yaw = world.robot.base_pose
        if a.last_base is not None and a.commands_base:
            moved = math.hypot(x - a.last_base[0], y - a.last_base[1]) + abs(yaw - a.last_base[2]) * 0.3
            a.still_s = a.still_s + self.dt if moved < 1e-4 else 0.0
        elif not a.commands_base:
            a.still_s = 0.0
        a.last_base = (x, y, yaw)
        return elapsed > self.config.stall_s and a.still_s >= self.config.stall_s

    def settle(self, a: ActiveCall, world: WorldState) -> Verdict:
        """The verdict on a background call (hold) that is preempted or outlived the plan."""
        from skills.library.hold import settle

        return settle(
            CallContext(a.call.args, a.start_world, world, a.executor.finished, world.time_s - a.started_s)
        )

    def after_outcome(self, a: ActiveCall, verdict: Verdict, world: WorldState) -> None:
        """Update what the robot believes it carries from a finished call."""
        name, args = a.call.spec.name, a.call.args
        if name == "pick" and verdict.status == "success":
            self.carrying[args.hand] = args.object  # type: ignore[attr-defined]
        elif name in ("place", "open_hand", "home"):
            for hand in ("left", "right"):
                if f"{hand}_hand" in a.groups:
                    self.carrying.pop(hand, None)
