"""Chemistry: pour conservation, where streams land, reactions and foam, in isolation and in the G1 lab.

The Chemistry-level tests feed synthetic ContainerPose inputs; the lab tests hold a bottle kinematically
(its freejoint qpos written every control tick, a test fixture, not a robot skill) and read world_state().
Expected outcomes are computed here from the geometry, independently of envs/chemistry/liquids.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from envs.chemistry import Chemistry, ContainerPose, Surface, load_rules
from envs.chemistry.liquids import ContainerLiquid

RULES = load_rules()
RULE = RULES.reactions["elephant_toothpaste"]
DT = 0.02
TABLE = Surface("table", 0.0, 1.0, -0.5, 0.5, 0.80)
TRAY = Surface("tray", 0.30, 0.50, -0.10, 0.10, 0.812)


# ---------------------------------------------------------------------------------------------- helpers
def vec(*xs: float) -> np.ndarray:
    return np.array(xs, dtype=float)


def up(dz: float) -> np.ndarray:
    return vec(0.0, 0.0, dz)


def tilt_axis(tilt_deg: float, azim_deg: float) -> np.ndarray:
    t, a = math.radians(tilt_deg), math.radians(azim_deg)
    return np.array([math.sin(t) * math.cos(a), math.sin(t) * math.sin(a), math.cos(t)])


def lowest_rim_dir(tilt_deg: float, azim_deg: float) -> np.ndarray:
    """Unit vector in the rim plane pointing down-slope (any rim direction when upright)."""
    t, a = math.radians(tilt_deg), math.radians(azim_deg)
    return np.array([math.cos(t) * math.cos(a), math.cos(t) * math.sin(a), -math.sin(t)])


def lip_offset(c: ContainerLiquid, tilt_deg: float, azim_deg: float) -> np.ndarray:
    """Lowest rim point relative to the centre of the container's bottom face."""
    return c.height * tilt_axis(tilt_deg, azim_deg) + c.radius * lowest_rim_dir(tilt_deg, azim_deg)


def upright(base) -> ContainerPose:
    return ContainerPose(np.asarray(base, dtype=float), np.array([0.0, 0.0, 1.0]))


def pose_with_lip_at(c: ContainerLiquid, lip, tilt_deg: float, azim_deg: float) -> ContainerPose:
    base = np.asarray(lip, dtype=float) - lip_offset(c, tilt_deg, azim_deg)
    return ContainerPose(base, tilt_axis(tilt_deg, azim_deg))


def vessel(name, radius=0.03, height=0.15, capacity=200.0, **contents) -> ContainerLiquid:
    return ContainerLiquid(name, radius, height, capacity, dict(contents))


def chem(*containers, trays=None) -> Chemistry:
    return Chemistry(RULES, {c.name: c for c in containers}, [TABLE, TRAY], trays=dict(trays or {}))


def removed(ch: Chemistry) -> float:
    return sum(c.poured_out_ml for c in ch.containers.values())


def received(ch: Chemistry) -> float:
    return sum(c.received_ml for c in ch.containers.values())


def liquid(ch: Chemistry) -> float:
    return sum(c.total_ml for c in ch.containers.values())


def one_tick_flow(c: ContainerLiquid, tilt_deg: float) -> float:
    ch = chem(c)
    ch.step(DT, 0.0, {c.name: ContainerPose(np.array([0.5, 0.0, 1.0]), tilt_axis(tilt_deg, 30.0))})
    return c.poured_out_ml


# ------------------------------------------------------------------------------------ pouring, synthetic
def test_pour_conserves_volume_on_random_tilts_and_positions():
    rng = np.random.default_rng(2024)
    names = list(RULES.liquids)
    hit_receiver = hit_spill = 0
    for _case in range(120):
        cs = []
        for i in range(int(rng.integers(2, 5))):
            cap = float(rng.uniform(50, 600))
            picks = rng.choice(names, size=int(rng.integers(1, 4)), replace=False)
            contents = {str(liq): float(rng.uniform(0, cap / len(picks))) for liq in picks}
            r, h = float(rng.uniform(0.015, 0.05)), float(rng.uniform(0.06, 0.25))
            cs.append(vessel(f"c{i}", r, h, cap, **contents))
        ch = chem(*cs, trays={"c0": "tray"} if rng.random() < 0.5 else {})
        start = liquid(ch)
        for k in range(25):
            poses = {}
            for c in cs:
                if rng.random() < 0.4:
                    z = rng.uniform(0.0, 0.9)
                    poses[c.name] = upright([rng.uniform(-0.2, 1.2), rng.uniform(-0.7, 0.7), z])
            for c in cs:
                if c.name in poses:
                    continue
                tilt, azim = float(rng.uniform(0, 180)), float(rng.uniform(0, 360))
                receivers = [n for n in poses if n != c.name]
                if receivers and rng.random() < 0.7:  # aim the lip at (or near) an upright mouth
                    rec = ch.containers[receivers[int(rng.integers(len(receivers)))]]
                    mouth = poses[rec.name].base + up(rec.height)
                    off = rng.uniform(0, 1.3 * rec.radius) * tilt_axis(90, rng.uniform(0, 360))
                    lip = mouth + off + up(rng.uniform(0.005, 0.15))
                else:
                    lip = [rng.uniform(-0.2, 1.2), rng.uniform(-0.7, 0.7), rng.uniform(0.3, 1.4)]
                poses[c.name] = pose_with_lip_at(c, lip, tilt, azim)
            ch.step(DT, k * DT, poses)
        assert removed(ch) == pytest.approx(received(ch) + ch.spilled_ml, rel=1e-9, abs=1e-9)
        assert start - liquid(ch) == pytest.approx(ch.spilled_ml, rel=1e-9, abs=1e-9)
        for c in cs:
            assert min(c.contents.values(), default=0.0) >= -1e-9
            assert c.total_ml <= c.capacity_ml + 1e-9
        hit_receiver += received(ch) > 0
        hit_spill += ch.spilled_ml > 0
    assert hit_receiver > 30 and hit_spill > 30  # both fates were exercised


def test_stream_lands_in_the_opening_under_the_lip_else_on_the_surface_below():
    rng = np.random.default_rng(7)
    beaker = dict(radius=0.04, height=0.10, capacity=300.0)
    upright_at = {"beaker": [0.7, 0.25, 0.80], "tray_beaker": [0.40, 0.0, 0.812]}
    tilted_base = np.array([0.2, -0.3, 0.80])
    tilted_axis = tilt_axis(40, 0)  # more than ~32 deg off vertical: does not catch
    fates: dict[str, int] = {}
    for _case in range(400):
        src = vessel("src", 0.03, 0.15, 200.0, water=180.0)
        rs = [vessel(n, **beaker) for n in (*upright_at, "tilted_beaker")]
        ch = chem(src, *rs, trays={"tray_beaker": "tray"})
        poses = {n: upright(b) for n, b in upright_at.items()}
        poses["tilted_beaker"] = ContainerPose(tilted_base, tilted_axis)
        mouths = {n: np.asarray(b) + up(beaker["height"]) for n, b in upright_at.items()}
        tilted_mouth = tilted_base + beaker["height"] * tilted_axis
        aim = rng.integers(4)
        if aim < 3:  # near an opening (upright or not), above or below its rim
            m = [*mouths.values(), tilted_mouth][aim]
            lip = m + rng.uniform(0, 2.0) * beaker["radius"] * tilt_axis(90, rng.uniform(0, 360))
            lip[2] = m[2] + rng.uniform(-0.05, 0.15)
        else:
            lip = np.array([rng.uniform(-0.3, 1.3), rng.uniform(-0.8, 0.8), rng.uniform(0.82, 1.3)])
        tilt, azim = float(rng.uniform(70, 170)), float(rng.uniform(0, 360))
        poses["src"] = pose_with_lip_at(src, lip, tilt, azim)
        ch.step(DT, 0.0, poses)

        out = src.poured_out_ml
        assert out > 0
        np.testing.assert_allclose(ch.stream["src"], lip, atol=1e-9)
        catching = [
            n
            for n, m in mouths.items()
            if math.hypot(*(lip[:2] - m[:2])) <= beaker["radius"] and m[2] < lip[2]
        ]
        if catching:
            expect = max(catching, key=lambda n: mouths[n][2])
            assert ch.containers[expect].received_ml == pytest.approx(out, rel=1e-12)
            assert ch.spills == {}
        else:
            under = [s for s in (TABLE, TRAY) if s.xmin <= lip[0] <= s.xmax and s.ymin <= lip[1] <= s.ymax]
            under = [s for s in under if s.z <= lip[2]]
            expect = max(under, key=lambda s: s.z).name if under else "floor"
            assert received(ch) == 0
            assert ch.spills.keys() == {expect}
            assert sum(ch.spills[expect].values()) == pytest.approx(out, rel=1e-12)
        fates[expect] = fates.get(expect, 0) + 1
    assert set(fates) == {"beaker", "tray_beaker", "table", "tray", "floor"}
    assert min(fates.values()) >= 10


def test_upright_containers_never_lose_liquid_and_slight_tilts_only_past_the_rim():
    rng = np.random.default_rng(3)
    for _case in range(200):
        r, h, cap = rng.uniform(0.01, 0.06), rng.uniform(0.05, 0.3), rng.uniform(20, 800)
        fill = 1.0 if rng.random() < 0.2 else rng.uniform(0.01, 0.99)
        c = vessel("v", r, h, cap, water=fill * cap)
        ch = chem(c)
        for k in range(50):
            ch.step(DT, k * DT, {"v": upright([rng.uniform(-1, 2), rng.uniform(-1, 1), rng.uniform(0, 1.2)])})
        assert c.poured_out_ml == 0 and c.total_ml == pytest.approx(fill * cap, rel=1e-12)
        # Tilted, the surface reaches the lowest rim point once level + r tan(tilt) > h.
        level = fill * h
        critical = math.degrees(math.atan((h - level) / r))
        if critical > 1.0:
            assert one_tick_flow(vessel("a", r, h, cap, water=fill * cap), 0.95 * critical) == 0
        assert one_tick_flow(vessel("b", r, h, cap, water=fill * cap), min(1.05 * critical + 0.5, 179)) > 0


def test_flow_rate_rises_with_tilt():
    rng = np.random.default_rng(11)
    tilts = np.arange(0.0, 180.1, 2.5)
    for _case in range(20):
        r, h, cap = rng.uniform(0.015, 0.05), rng.uniform(0.08, 0.25), rng.uniform(100, 600)
        ml = rng.uniform(0.2, 0.9) * cap
        flows = np.array([one_tick_flow(vessel("v", r, h, cap, water=ml), t) for t in tilts])
        assert flows[0] == 0 and flows[-1] > 0
        assert np.all(np.diff(flows) >= -1e-12)
        pouring = (flows > 0) & (flows < ml - 1e-9)
        rising = np.diff(flows)[pouring[:-1]]
        assert rising.size >= 3 and np.all(rising > 0)
        # A longer hold pours more, and never more than the container held.
        assert one_tick_flow(vessel("v", r, h, cap, water=ml), 90.0) <= ml


@pytest.mark.parametrize("tray", [True, False])
def test_overflowing_receiver_sends_the_excess_to_spill(tray):
    rng = np.random.default_rng(5 + tray)
    for _case in range(10):
        room = rng.uniform(1, 30)
        rec = vessel("rec", 0.035, 0.12, 100.0, water=100.0 - room)
        src = vessel("src", 0.03, 0.15, 400.0, hydrogen_peroxide=rng.uniform(150, 350))
        ch = chem(src, rec, trays={"rec": "tray"} if tray else {})
        start = liquid(ch)
        # In the tray's footprint, or on the bare table.
        base = np.array([0.4, rng.uniform(-0.05, 0.05), 0.812] if tray else [0.8, 0.3, 0.80])
        mouth = base + up(rec.height)
        for k in range(100):
            lip = mouth + np.array([*rng.uniform(-0.01, 0.01, 2), 0.03])
            src_pose = pose_with_lip_at(src, lip, 120, rng.uniform(0, 360))
            ch.step(DT, k * DT, {"rec": upright(base), "src": src_pose})
        assert src.total_ml == pytest.approx(0, abs=1e-6)
        assert rec.total_ml == pytest.approx(100.0) and rec.received_ml == pytest.approx(room)
        # Nothing missed the mouth: all that was spilled is the overflow, onto the tray (or the table).
        assert ch.spills.keys() == {"tray" if tray else "table"}
        assert ch.spilled_ml == pytest.approx(src.poured_out_ml - room)
        assert removed(ch) == pytest.approx(received(ch) + ch.spilled_ml, rel=1e-12)
        assert start - liquid(ch) == pytest.approx(ch.spilled_ml, rel=1e-12)


# ----------------------------------------------------------------------------------- reactions, synthetic
def _minimums() -> list[dict[str, float]]:
    return [dict(group) for group in RULE.requires]


def _run(contents: dict[str, float], ticks: int = 10) -> Chemistry:
    flask = vessel("flask", 0.045, 0.18, 500.0, **contents)
    ch = chem(flask, trays={"flask": "tray"})
    for k in range(ticks):
        ch.step(DT, k * DT, {"flask": upright([0.4, 0.0, 0.812])})
    return ch


def _enough() -> dict[str, float]:
    # The first liquid of every group, comfortably above its minimum.
    return {next(iter(g)): 1.5 * next(iter(g.values())) for g in _minimums()}


def test_reaction_fires_only_with_every_group_at_its_minimum():
    assert len(_minimums()) == 3
    assert {"hydrogen_peroxide", "dish_soap", "potassium_iodide"} <= {liq for g in _minimums() for liq in g}
    fired = _run(_enough()).reactions
    assert [(r.reaction, r.container) for r in fired] == [("elephant_toothpaste", "flask")]
    exact = {next(iter(g)): next(iter(g.values())) for g in _minimums()}
    assert len(_run(exact).reactions) == 1  # at the minimum counts
    for group in _minimums():
        for liq, need in group.items():  # any member of a group will do (iodide or yeast)
            mix = {k: v for k, v in _enough().items() if k not in group} | {liq: need * 1.2}
            assert len(_run(mix).reactions) == 1, mix
        missing = {k: v for k, v in _enough().items() if k not in group}
        assert _run(missing).reactions == [], f"fired without {group}"
        below = missing | {liq: 0.9 * need for liq, need in group.items()}
        assert _run(below).reactions == [], f"fired with {group} below its minimum"
        assert _run(below | {"water": 100.0}).reactions == []


def test_foam_grows_over_the_duration_and_overflows_into_the_tray():
    contents = _enough() | {"hydrogen_peroxide": 80.0}
    flask = vessel("flask", 0.045, 0.18, 500.0, **contents)
    # The tray it stands in takes the overflow, whatever surface lies under the flask.
    ch = Chemistry(RULES, {"flask": flask}, [TABLE], trays={"flask": "tray"})
    liquid_before = flask.total_ml
    foam_total = RULE.foam_ml_per_ml * 80.0
    assert foam_total > flask.capacity_ml - liquid_before  # so that it must overflow
    n = math.ceil(RULE.duration_s / DT)
    foam = []
    for k in range(n + 20):
        ch.step(DT, k * DT, {"flask": upright([0.4, 0.0, 0.812])})
        foam.append(flask.foam_ml + sum(ch.overflow_ml.values()))
        if k == n // 2:
            assert ch.reactions[0].progress == pytest.approx(0.5, abs=2 * DT / RULE.duration_s)
            assert foam[-1] == pytest.approx(foam_total / 2, rel=0.05)
    assert ch.reactions[0].progress == 1.0 and len(ch.reactions) == 1
    assert np.all(np.diff(foam) >= 0) and foam[0] < 0.05 * foam_total
    assert foam[n - 2] < foam_total and foam[-1] == pytest.approx(foam_total)
    assert ch.overflow_ml.keys() == {"tray"}
    assert flask.foam_ml == pytest.approx(flask.capacity_ml - flask.total_ml)
    assert ch.overflow_ml["tray"] == pytest.approx(foam_total - flask.foam_ml)
    # The peroxide became water: liquid volume is kept, nothing spilled.
    assert flask.contents["hydrogen_peroxide"] == pytest.approx(0, abs=1e-9)
    assert flask.contents["water"] == pytest.approx(80.0)
    assert flask.total_ml == pytest.approx(liquid_before) and ch.spilled_ml == 0


def test_foam_from_a_vessel_without_a_tray_lands_on_the_surface_under_it():
    flask = vessel("flask", 0.045, 0.18, 120.0, **_enough())
    ch = chem(flask)
    for k in range(math.ceil(RULE.duration_s / DT) + 1):
        ch.step(DT, k * DT, {"flask": upright([0.8, 0.3, 0.80])})
    assert ch.overflow_ml.keys() == {"table"} and ch.overflow_ml["table"] > 0


# ------------------------------------------------------------------------------------------------ in the lab
def _hold(env, name: str, lip, tilt_deg: float, azim_deg: float) -> None:
    """Test fixture: place a free container so its lowest rim point is at ``lip``, at rest, then step once."""
    obj = env.scene.objects[name]
    a, d = tilt_axis(tilt_deg, azim_deg), lowest_rim_dir(tilt_deg, azim_deg)
    centre = np.asarray(lip, dtype=float) - obj.size[1] * a - obj.size[0] * d
    t, az = math.radians(tilt_deg), math.radians(azim_deg)
    quat = [math.cos(t / 2), -math.sin(az) * math.sin(t / 2), math.cos(az) * math.sin(t / 2), 0.0]
    _place(env, name, np.concatenate([centre, quat]))
    env.step({})


def _place(env, name: str, qpos7: np.ndarray) -> None:
    m, d = env.model, env.data
    j = m.joint(f"{name}_free").id
    d.qpos[m.jnt_qposadr[j] : m.jnt_qposadr[j] + 7] = qpos7
    d.qvel[m.jnt_dofadr[j] : m.jnt_dofadr[j] + 6] = 0.0


def _qpos7(env, name: str) -> np.ndarray:
    adr = env.model.jnt_qposadr[env.model.joint(f"{name}_free").id]
    return env.data.qpos[adr : adr + 7].copy()


def _mouth(env, name: str) -> np.ndarray:
    return np.array(env.world_state().objects[name].pos) + up(env.scene.objects[name].size[1])


def _assert_conserved(ws) -> None:
    out = sum(c.poured_out_ml for c in ws.containers.values())
    got = sum(c.received_ml for c in ws.containers.values())
    assert out == pytest.approx(got + ws.spilled_ml, abs=2e-3)


def _pour(env, source: str, lip, target_ml: float, watch: str, tilt=85.0, azim=180.0, max_ticks=200) -> None:
    """Hold ``source`` tilted with its lip at ``lip`` until ``watch`` (a container or a spill location) gained
    ``target_ml``; then put it back where it was."""
    home = _qpos7(env, source)

    def amount() -> float:
        ws = env.world_state()
        if watch in ws.containers:
            return ws.containers[watch].received_ml
        return sum(ws.spills_ml.get(watch, {}).values())

    start = amount()
    for _ in range(max_ticks):
        _hold(env, source, lip, tilt, azim)
        if amount() - start >= target_ml:
            break
    _place(env, source, home)
    env.step({})
    assert amount() - start >= target_ml, f"{source} poured only {amount() - start:.1f} ml"


def test_lab_pour_over_the_flask_is_received_and_beside_it_is_spilled(lab):
    ws0 = lab.world_state()
    assert ws0.containers["flask"].total_ml == 0
    bottle = "hydrogen_peroxide_bottle"
    mouth = _mouth(lab, "flask")
    home = _qpos7(lab, bottle)
    amounts = []
    for _ in range(6):  # a stream that grows with the bottle's tilt, ml per tick
        before = lab.world_state().containers["flask"].received_ml
        _hold(lab, bottle, mouth + vec(0.005, 0.0, 0.05), 80 + 4 * len(amounts), 180)
        ws = lab.world_state()
        amounts.append(ws.containers["flask"].received_ml - before)
        _assert_conserved(ws)
        assert ws.spilled_ml == 0
    assert amounts[0] > 0 and np.all(np.diff(amounts) > 0), amounts
    _place(lab, bottle, home)
    lab.step({})
    ws = lab.world_state()
    assert ws.containers["flask"].received_ml == pytest.approx(ws.containers[bottle].poured_out_ml, abs=1e-3)
    assert ws.containers["flask"].contents_ml["hydrogen_peroxide"] == pytest.approx(sum(amounts), abs=1e-3)

    flask_before = ws.containers["flask"].received_ml
    beside = mouth + vec(0.005, -0.25, 0.05)  # over the bench top, no opening under it
    assert lab.station_at_xy(*beside[:2]) == "bench"
    _pour(lab, bottle, beside, 20.0, watch="bench_table")
    floor = np.array([0.95, -0.2, 0.9])  # past the bench's far edge
    assert lab.station_at_xy(*floor[:2]) is None
    _pour(lab, bottle, floor, 20.0, watch="floor")
    ws = lab.world_state()
    assert ws.containers["flask"].received_ml == flask_before
    assert set(ws.spills_ml) == {"bench_table", "floor"}
    _assert_conserved(ws)
    assert ws.containers[bottle].poured_out_ml == pytest.approx(flask_before + ws.spilled_ml, abs=1e-3)
    total = sum(c.total_ml for c in ws.containers.values())
    assert sum(c.total_ml for c in ws0.containers.values()) - total == pytest.approx(ws.spilled_ml, abs=2e-3)
    # Put back upright on its shelf, the bottle keeps what it has left.
    left = ws.containers[bottle].total_ml
    for _ in range(25):
        lab.step({})
    assert lab.world_state().containers[bottle].total_ml == left > 0


def _project(env, camera: str, p: np.ndarray, width: int, height: int) -> tuple[float, float]:
    """Pixel (column, row) of world point ``p`` in a MuJoCo camera (looks along its -z, y up)."""
    cid = env.model.camera(camera).id
    pc = env.data.cam_xmat[cid].reshape(3, 3).T @ (p - env.data.cam_xpos[cid])
    f = height / 2 / math.tan(math.radians(env.model.cam_fovy[cid]) / 2)
    return width / 2 + f * pc[0] / -pc[2], height / 2 - f * pc[1] / -pc[2]


def _box(env, camera, points, width, height, pad=4) -> tuple[slice, slice]:
    uv = np.array([_project(env, camera, np.asarray(p, dtype=float), width, height) for p in points])
    c0, r0 = np.floor(uv.min(axis=0)).astype(int) - pad
    c1, r1 = np.ceil(uv.max(axis=0)).astype(int) + pad
    assert 0 <= c0 < c1 <= width and 0 <= r0 < r1 <= height, "region outside the image"
    return slice(r0, r1), slice(c0, c1)


def test_lab_reaction_by_pouring_makes_visible_foam(lab, tmp_path):
    import imageio.v3 as iio

    mouth = _mouth(lab, "flask")
    lip = mouth + vec(0.005, 0.0, 0.05)
    need = {next(iter(g)): next(iter(g.values())) for g in _minimums()}
    sources = {"hydrogen_peroxide": "hydrogen_peroxide_bottle", "dish_soap": "soap_bottle"}
    for liq, bottle in sources.items():
        _pour(lab, bottle, lip, 1.5 * need[liq], watch="flask")
    for _ in range(10):
        lab.step({})
    ws = lab.world_state()
    flask = ws.containers["flask"]
    assert flask.contents_ml["hydrogen_peroxide"] >= need["hydrogen_peroxide"]
    assert flask.contents_ml["dish_soap"] >= need["dish_soap"]
    assert ws.reactions == [] and flask.foam_ml == 0  # no catalyst yet
    _assert_conserved(ws)

    w, h = 320, 240
    before = lab.render("ego_view", w, h)
    _pour(lab, "catalyst_cup", lip, 1.5 * need["potassium_iodide"], watch="flask")
    ws = lab.world_state()
    assert [(r.reaction, r.container) for r in ws.reactions] == [("elephant_toothpaste", "flask")]
    peroxide = ws.containers["flask"].contents_ml["hydrogen_peroxide"]
    foam = [ws.containers["flask"].foam_ml]
    for _ in range(math.ceil(RULE.duration_s / lab.control_dt) + 5):
        lab.step({})
        foam.append(lab.world_state().containers["flask"].foam_ml)
    ws = lab.world_state()
    assert ws.reactions[0].progress == 1.0
    assert np.all(np.diff(foam) >= -1e-3) and foam[-1] > foam[0]
    assert ws.foam_overflow_ml.keys() == {"tray"} and ws.foam_overflow_ml["tray"] > 0
    assert ws.foam_overflow_ml["tray"] + foam[-1] >= 0.9 * RULE.foam_ml_per_ml * peroxide
    assert "hydrogen_peroxide" not in ws.containers["flask"].contents_ml
    _assert_conserved(ws)
    after = lab.render("ego_view", w, h)
    # A policy's frame of the same state, drawn off this thread from a snapshot: the foam is in it too.
    np.testing.assert_array_equal(lab.render_later(["ego_view"], w, h).result()["ego_view"], after)
    iio.imwrite(tmp_path / "before.png", before)
    iio.imwrite(tmp_path / "after.png", after)

    # The flask (and a foam column over it) against a patch of bench far from it.
    pos = np.array(ws.objects["flask"].pos)
    r, half = lab.scene.objects["flask"].size
    corners = [pos + vec(dx, dy, dz) for dx in (-r, r) for dy in (-r, r) for dz in (-half, half + 0.06)]
    flask_px = _box(lab, "ego_view", corners, w, h)
    block = np.array(ws.objects["red_block"].pos)
    far = [block + vec(dx, dy, 0) for dx in (-0.03, 0.03) for dy in (-0.03, 0.03)]
    far_px = _box(lab, "ego_view", far, w, h)
    diff = np.abs(after.astype(int) - before.astype(int)).sum(axis=2)
    changed = diff[flask_px] > 30
    assert changed.mean() > 0.15, f"only {changed.mean():.2%} of the flask region changed"
    assert (diff[far_px] > 30).mean() < 0.01
    foam_rgb = np.array(RULE.foam_rgba[:3]) * 255
    near_foam = np.abs(after[flask_px].astype(int) - foam_rgb).max(axis=2) < 60
    was_near = np.abs(before[flask_px].astype(int) - foam_rgb).max(axis=2) < 60
    assert near_foam.sum() > was_near.sum() + 50
