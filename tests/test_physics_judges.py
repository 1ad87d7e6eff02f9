"""The judges stand on the physics: a grip is read from contact forces, a container weighs its liquid."""

from __future__ import annotations

import copy

import mujoco
import numpy as np
import pytest

from agent.runtime import Runtime
from envs.lab.env import GRIP_FORCE_N

BOTTLE = "hydrogen_peroxide_bottle"


@pytest.fixture(scope="module")
def env():
    from envs.lab.env import G1LabEnv

    e = G1LabEnv(seed=0, locomotion="holonomic")
    yield e
    e.close()


def _hand_forces(env, obj: str, side: str) -> tuple[float, float, float]:
    """Normal force (N) on ``obj`` from the thumb, the index/middle fingers and the palm of ``side``."""
    m, d = env.model, env.data
    thumb = {m.body(b).id for b in (f"{side}_hand_thumb_1_link", f"{side}_hand_thumb_2_link")}
    fingers = {m.body(f"{side}_hand_{f}_{k}_link").id for f in ("index", "middle") for k in (0, 1)}
    palm = m.body(f"{side}_wrist_yaw_link").id
    gid = m.geom(obj).id
    out = np.zeros(3)
    f = np.zeros(6)
    for i in range(d.ncon):
        c = d.contact[i]
        if gid not in (c.geom1, c.geom2):
            continue
        b = m.geom_bodyid[c.geom2 if c.geom1 == gid else c.geom1]
        mujoco.mj_contactForce(m, d, i, f)
        out += f[0] * np.array([b in thumb, b in fingers, b == palm])
    return tuple(out)


def test_a_palm_brush_is_not_holding(env):
    """The block pressed against the right palm alone (thumb and fingers away) is touched, not held."""
    env.reset(0)
    m, d = env.model, env.data
    palm = m.site("right_palm").id
    normal = d.site_xmat[palm].reshape(3, 3)[:, 1]  # the right palm faces its local +y
    adr = env._free["red_block"]
    d.qpos[adr : adr + 3] = d.site_xpos[palm] + normal * 0.019  # 1 mm into the palm (half size 2 cm)
    mujoco.mj_forward(m, d)
    _, _, on_palm = _hand_forces(env, "red_block", "right")
    assert on_palm > 0.0, "the block should press on the palm"
    assert env.world_state().robot.holding["right"] is None


def test_a_grip_is_thumb_and_finger_force(env):
    """After a pick the hand holds the block, read from forces: thumb and a finger each over the threshold."""
    env.reset(1)
    rt = Runtime(env)
    outs = rt.run_calls([("pick", "pick", {"object": "red_block", "hand": "right"}, [])])
    assert outs[-1].status == "success", outs[-1]
    thumb, fingers, _ = _hand_forces(env, "red_block", "right")
    assert thumb >= GRIP_FORCE_N and fingers >= GRIP_FORCE_N
    assert rt.world.robot.holding["right"] == "red_block"
    assert outs[-1].evidence["lift_m"] >= 0.08  # the description's "about 10 cm", judged at 8


def test_a_container_weighs_its_liquid_and_a_pour_lightens_it(env):
    """The full peroxide bottle is heavier in the simulator than when emptied; the model's mass constants
    follow exactly what mj_setConst would compute."""
    env.reset(0)
    m, d = env.model, env.data
    bid = m.body(BOTTLE).id
    full = float(m.body_mass[bid])
    ml = env.world_state().containers[BOTTLE].total_ml
    assert ml > 100
    # Upside down above the shelf: the chemistry pours it out, the body gets lighter as it does.
    adr = env._free[BOTTLE]
    d.qpos[adr + 2] += 0.3
    d.qpos[adr + 3 : adr + 7] = [0.0, 1.0, 0.0, 0.0]
    mujoco.mj_forward(m, d)
    for _ in range(30):
        env.step({})
    w = env.world_state()
    assert w.containers[BOTTLE].total_ml < ml - 100
    poured_kg = (ml - w.containers[BOTTLE].total_ml) * 1.02e-3  # hydrogen peroxide (6%): 1.02 g/ml
    assert float(m.body_mass[bid]) == pytest.approx(full - poured_kg, abs=2e-3)
    assert w.objects[BOTTLE].mass_kg == pytest.approx(float(m.body_mass[bid]), abs=1e-4)
    ref = copy.copy(m)
    mujoco.mj_setConst(ref, mujoco.MjData(ref))
    dof = m.jnt_dofadr[m.joint(f"{BOTTLE}_free").id]
    np.testing.assert_allclose(m.body_subtreemass[[0, bid]], ref.body_subtreemass[[0, bid]], rtol=1e-9)
    np.testing.assert_allclose(m.body_invweight0[bid], ref.body_invweight0[bid], rtol=1e-9)
    np.testing.assert_allclose(m.dof_invweight0[dof : dof + 6], ref.dof_invweight0[dof : dof + 6], rtol=1e-9)
    # A reset fills it again.
    env.reset(0)
    assert float(m.body_mass[bid]) == pytest.approx(full)
