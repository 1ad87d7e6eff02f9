"""``tandem diagnose``: the verdict on numbers where the answer is known, the probe episodes it builds,
and clear errors for what cannot be diagnosed. No simulator runs here (an episode costs 15-25 s of CPU);
docs/vla.md has a measured run of the shipped policy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from eval.experiments import diagnose as dx
from eval.experiments import diagnostics as dg
from eval.experiments.episodes import with_say

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "vla_block"
PROBE_SAYS = "put the red block in the tray"


def _traj(offset: float, seed: int) -> dg.Trajectory:
    t = np.linspace(0.0, 4.0, 41)
    q = np.stack([np.sin(t + 0.1 * j) for j in range(14)], axis=1) + offset + 0.02 * np.sin(seed * t)[:, None]
    return dg.Trajectory(t, q)


def _numbers(
    follows_object: bool, follows_words: bool, seeds: int = 8, did_reference: int = 0
) -> dx.Measured:
    """What ``measure`` computes, from synthetic rollouts through the real diagnostics: object positions
    spread like the lab's block; the grasp either goes where the object is or always to one spot; told the
    probe, the motion either changes by 0.3 rad or stays the same."""
    rng = np.random.default_rng(0)
    ref, probes = [], []
    for s in range(seeds):
        obj = np.array([rng.uniform(0.32, 0.38), rng.uniform(-0.32, -0.24), 0.8])
        grasp = obj + rng.normal(0, 0.003, 3) if follows_object else np.array([0.35, -0.28, 0.78])
        ref.append(dg.Rollout(s, "ref", True, _traj(0.0, s), obj, grasp))
        probes.append(dg.Rollout(s, "probe", False, _traj(0.3 if follows_words else 0.0, s), obj, grasp))
    prompt = dg.prompt_sensitivity(ref, probes)
    return dx.Measured(
        episodes=2 * seeds,
        success=dg.success_rate([r.success for r in ref]),
        rollouts=len(ref),
        start=dg.start_sensitivity(ref),
        probe_n=seeds,
        probe_followed=seeds // 2 if follows_words else 0,
        probe_did_reference=did_reference,
        prompt_distance=prompt.distance,
        prompt_pairs=prompt.pairs,
        spread=dg.pairwise_spread([r.traj for r in ref]),
    )


def test_a_policy_that_follows_words_and_object_is_ok():
    v = dx.verdict(_numbers(follows_object=True, follows_words=True))
    assert v.labels == [dx.OK]
    assert any("follows the object along x, y" in n for n in v.notes)


def test_a_memorizer_ignores_both_and_the_verdict_names_the_numbers():
    m = _numbers(follows_object=False, follows_words=False)
    v = dx.verdict(m)
    assert v.labels == [dx.IGNORES_INSTRUCTION, dx.IGNORES_POSITION]
    instruction, position = v.findings
    assert m.prompt_distance < dx.PROMPT_DISTANCE_MIN
    assert (
        f"{m.prompt_distance:.3f} rad" in instruction.because and "PROMPT_DISTANCE_MIN" in instruction.because
    )
    assert abs(m.start["x"].slope) < 0.1 and "SLOPE_MIN" in position.because
    # --json: valid JSON with the verdict, the numbers and every threshold with its reason
    doc = json.loads(json.dumps(dx.as_json(dx.Setup(policy="policy:x"), m, v), allow_nan=False))
    assert doc["verdict"] == v.labels and doc["measured"]["start"]["x"]["slope"] == m.start["x"].slope
    assert set(doc["thresholds"]) == set(dx.THRESHOLDS)


def test_doing_the_reference_task_when_told_another_is_ignoring_the_instruction():
    """The motion differs (distance above the threshold) but the block still went to the yellow zone on
    as many seeds as when the policy was told to put it there."""
    m = _numbers(follows_object=True, follows_words=True, did_reference=8)
    assert m.prompt_distance > dx.PROMPT_DISTANCE_MIN
    v = dx.verdict(m)
    assert v.labels == [dx.IGNORES_INSTRUCTION]
    assert "reference task on 8/8" in v.findings[0].because
    # Once in eight is not "as often": the words changed what it did.
    assert dx.verdict(_numbers(True, True, did_reference=1)).labels == [dx.OK]


def test_too_few_rollouts_is_inconclusive_not_ok():
    v = dx.verdict(_numbers(follows_object=True, follows_words=True, seeds=2))
    assert v.labels == [dx.INCONCLUSIVE]


def test_the_probe_runs_the_reference_plan_told_the_probe_instruction():
    setup = dx.Setup(policy=f"policy:{SHIPPED}", seeds=(40000, 40001, 40002))
    eps = dx.episodes(setup)
    ref, probe = eps[:3], eps[3:]
    assert [e.seed for e in ref] == [e.seed for e in probe] == [40000, 40001, 40002]
    assert {e.goal for e in eps} == {"move the red block to the yellow zone"}  # the same plan
    assert {e.scene for e in eps} == {"g1_lab"}
    assert all(e.one_attempt and e.trajectory_hz > 0 for e in eps)
    assert {e.case_id for e in ref} == {"block_to_zone"} and {e.case_id for e in probe} == {"block_to_tray"}
    assert ref[0].case["success"] == [["object_in_zone", {"object": "red_block", "zone": "yellow_zone"}]]
    assert probe[0].case["success"] == [["object_on", {"object": "red_block", "target": "tray"}]]
    assert len({e.run_id for e in eps}) == 6
    # The probe's spec tells the policy the other sentence, through the real backend parsers.
    from skills.policies.groot.client import GrootURL
    from skills.policies.manipulation import resolve

    assert resolve(probe[0].manipulation).say == PROBE_SAYS
    assert GrootURL.parse(with_say("groot://localhost:5555?version=n1.6", PROBE_SAYS)).say == PROBE_SAYS


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["no/such/folder"], "POLICY 'no/such/folder': not a checkpoint folder"),
        (["policy:no/such/folder"], "checkpoint folder not found: no/such/folder"),
        (["scripted"], "takes no instruction"),
        ([str(SHIPPED), "--task", "bogus"], "unknown task 'bogus'"),
        ([str(SHIPPED), "--probe", "block_to_zone"], "nothing to compare"),
        ([str(SHIPPED), "--scene", "so100_block"], "--scene so100_block"),
        ([str(SHIPPED), "--seeds", "2"], "--seeds"),
    ],
)
def test_bad_input_is_a_clear_error(args, expected, tmp_path):
    r = CliRunner().invoke(app, ["diagnose", *args, "--out", str(tmp_path / "d")])
    assert r.exit_code == 2, r.output
    assert expected in " ".join(r.output.split()) and "Traceback" not in r.output
    assert not (tmp_path / "d").exists()  # nothing ran, nothing was written


def test_a_folder_of_another_diagnosis_is_not_mixed_into(tmp_path):
    out = tmp_path / "d"
    dx.claim_folder(out, dx.Setup(policy="policy:elsewhere", seeds=(1, 2, 3)))
    before = json.loads((out / dx.SETUP).read_text())
    r = CliRunner().invoke(app, ["diagnose", str(SHIPPED), "--seeds", "4", "--out", str(out)])
    assert r.exit_code == 2 and "other policy, seeds" in " ".join(r.output.split())
    assert json.loads((out / dx.SETUP).read_text()) == before
