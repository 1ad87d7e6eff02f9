"""The Tandem VLA: it learns, LoRA touches only adapters, checkpoints round-trip, bad inputs are named.

Everything runs on a tiny model (~0.4 M parameters, 32 px frames) and the synthetic LeRobot dataset of
tests/fakes/lerobot_dataset.py, whose instruction vectors are stored with it (as a GPU machine without
the 90 MB text encoder would have them), so no test loads all-MiniLM-L6-v2.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fakes.lerobot_dataset import RIGHT_ARM, TASKS, episode_arrays, write_dataset

TINY = {
    "image_size": (32, 32),
    "vision_resolution": 32,
    "vision_channels": (16, 32),
    "hidden": 64,
    "heads": 4,
    "vl_layers": 1,
    "dit_layers": 2,
}
LEARN_STEPS = 160
LOSS_DROP = 8.0  # first-step loss over last-window loss after LEARN_STEPS (measured ~20x)


def _with_vectors(root: Path) -> Path:
    from skills.policies.vla.language import CACHE_FILE, InstructionBank
    from skills.sentences import DIM

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(len(TASKS), DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    InstructionBank(dict(zip(TASKS, vecs, strict=True))).save(root / "meta" / CACHE_FILE)
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return _with_vectors(write_dataset(tmp_path_factory.mktemp("ds") / "demo", episodes=4, length=24))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, dataset) -> tuple[Path, dict]:
    from skills.policies.vla.train import TrainConfig, Trainer

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("ckpt") / "base"
    cfg = TrainConfig(
        dataset=dataset,
        out=out,
        method="scratch",
        model=TINY,
        steps=LEARN_STEPS,
        batch=16,
        lr=2e-3,
        augment=False,
        log_every=20,
        save_every=LEARN_STEPS,
    )
    trainer = Trainer(cfg, log=lambda m: None)
    trainer.load_data()
    return out, trainer.run()


def _frame0(episode: int):
    states, actions, frames, task = episode_arrays(episode, 24, 32)
    return frames[:1], states[:1], [TASKS[task]], actions[:16]


def test_tiny_model_learns_and_reproduces_a_demonstrated_chunk(trained):
    from skills.policies.vla.policy import VLAPolicy

    out, summary = trained
    assert summary["first_loss"] / summary["final_loss"] >= LOSS_DROP, summary
    policy = VLAPolicy.load(out)
    demos = [_frame0(ep)[3][:, RIGHT_ARM] for ep in range(4)]
    for ep in range(4):
        image, state, instr, _ = _frame0(ep)
        pred = policy.predict(image, state, instr)[0][:, RIGHT_ARM]
        dist = [float(np.abs(pred - d).mean()) for d in demos]
        # Within 0.1 rad per joint on average, and nearer its own demonstration than to the other one of
        # the same instruction (whose block sits elsewhere in the image).
        assert dist[ep] < 0.1 and dist[ep] < dist[(ep + 2) % 4], (ep, dist)
    # The image matters: the same state and instruction with another episode's frame moves differently.
    a = policy.predict(*_frame0(0)[:3])[0]
    swapped = policy.predict(_frame0(2)[0], *_frame0(0)[1:3])[0]
    assert np.abs(a - swapped)[:, RIGHT_ARM].max() > 0.05
    # So does the instruction: the same frame and state told the other task.
    told = policy.predict(*_frame0(0)[:2], [TASKS[1]])[0]
    assert np.abs(a - told)[:, RIGHT_ARM].max() > 0.05


def test_int8_policy_quantizes_its_linear_layers_and_keeps_its_actions(trained):
    """``policy:CKPT?int8=1``: every Linear layer int8 (dynamic), actions near float32's, still the
    demonstration's (the same check as the float32 policy's, at the same tolerance); CPU only."""
    import torch

    from skills.policies.manipulation import resolve
    from skills.policies.vla.policy import VLAPolicy

    out, _ = trained
    fp32 = VLAPolicy.load(out)
    int8 = resolve(f"policy:{out}?int8=1").policy
    linears = [m for m in int8.model.modules() if isinstance(m, torch.nn.Linear)]
    quantized = [m for m in int8.model.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    assert quantized and not linears
    for ep in range(4):
        image, state, instr, demo = _frame0(ep)
        pred = int8.predict(image, state, instr)[0][:, RIGHT_ARM]
        assert np.abs(pred - fp32.predict(image, state, instr)[0][:, RIGHT_ARM]).max() < 0.05
        assert float(np.abs(pred - demo[:, RIGHT_ARM]).mean()) < 0.1
    with pytest.raises(ValueError, match="int8 runs on the CPU"):
        resolve(f"policy:{out}?int8=1&device=cuda")
    with pytest.raises(ValueError, match="int8 must be 0 or 1"):
        resolve(f"policy:{out}?int8=yes")


def test_onnx_runtime_gives_torchs_actions_and_is_the_cpu_default(trained):
    """``policy:CKPT`` on the CPU denoises on ONNX Runtime: the graph traced from the checkpoint gives
    PyTorch's chunks (batch 1 and 2), and asking it of the GPU or of int8 is refused."""
    from skills.policies.manipulation import resolve
    from skills.policies.vla.policy import VLAPolicy

    out, _ = trained
    eager = VLAPolicy.load(out)
    backend = resolve(f"policy:{out}")
    assert backend.policy.onnx is not None
    assert set(backend.policy.onnx.sessions) == set(eager.config.embodiments)  # traced at load, not in a call
    assert resolve(f"policy:{out}?runtime=torch").policy.onnx is None
    frames = [_frame0(ep) for ep in range(4)]
    for image, state, instr, _ in frames:
        a = backend.policy.predict(image, state, instr)
        assert np.abs(a - eager.predict(image, state, instr)).max() < 1e-4
    batch = [np.concatenate([f[i] for f in frames[:2]]) for i in (0, 1)]
    instrs = [frames[0][2][0], frames[1][2][0]]
    assert np.abs(backend.policy.predict(*batch, instrs) - eager.predict(*batch, instrs)).max() < 1e-4
    with pytest.raises(ValueError, match="runtime=onnx runs float32 on the CPU"):
        resolve(f"policy:{out}?runtime=onnx&int8=1")
    with pytest.raises(ValueError, match="runtime must be auto, torch or onnx, got 'tensorrt'"):
        resolve(f"policy:{out}?runtime=tensorrt")


def test_checkpoint_round_trip_gives_bit_identical_actions(trained, tmp_path):
    from skills.policies.vla.policy import VLAPolicy

    policy = VLAPolicy.load(trained[0])
    image, state, instr, _ = _frame0(1)
    before = policy.predict(image, state, instr)
    policy.save(tmp_path / "copy")
    after = VLAPolicy.load(tmp_path / "copy").predict(image, state, instr)
    assert np.array_equal(before, after)
    assert {p.name for p in (tmp_path / "copy").iterdir()} >= {
        "config.json",
        "model.safetensors",
        "stats.json",
        "instructions.json",
    }


def _finetune(trained, dataset, out: Path, **kw):
    from skills.policies.vla.train import TrainConfig, Trainer

    cfg = TrainConfig(dataset=dataset, out=out, init=trained[0], batch=8, log_every=1, save_every=1000, **kw)
    trainer = Trainer(cfg, log=lambda m: None)
    trainer.load_data()
    return trainer, trainer.run()


def test_lora_changes_only_adapters_and_saves_loads_merges_the_same(trained, dataset, tmp_path):
    from peft import PeftModel

    from skills.policies.vla.policy import VLAPolicy
    from skills.policies.vla.train import lora_parameter_count

    base = {k: v.clone() for k, v in VLAPolicy.load(trained[0]).model.state_dict().items()}
    trainer, summary = _finetune(
        trained, dataset, tmp_path / "lora", method="lora", steps=3, lora_rank=4, lora_alpha=8, lr=1e-2
    )
    model = trainer.policy.model
    assert isinstance(model, PeftModel)
    assert summary["trainable_params"] == lora_parameter_count(trainer.policy, trainer.cfg)
    # 2 DiT blocks x 2 attentions x 4 projections of 64 -> 64, rank 4: 16 x 4 x (64 + 64)
    assert summary["trainable_params"] == 16 * 4 * 128
    changed_adapters = 0
    for name, p in model.named_parameters():
        if "lora_" in name:
            changed_adapters += int("lora_B" in name and bool(p.detach().abs().sum() > 0))
            continue
        key = name.removeprefix("base_model.model.").replace(".base_layer.", ".")
        assert torch.equal(p.detach().cpu(), base[key]), f"{key} changed under LoRA"
    assert changed_adapters > 0  # lora_B starts at zero: training moved it

    image, state, instr, _ = _frame0(2)
    live = trainer.policy.predict(image, state, instr)
    loaded = VLAPolicy.load(tmp_path / "lora")
    assert (tmp_path / "lora" / "adapter" / "adapter_config.json").is_file()
    assert isinstance(loaded.model, PeftModel)
    np.testing.assert_allclose(loaded.predict(image, state, instr), live, atol=1e-5)
    merged = VLAPolicy.load(tmp_path / "lora", merge=True)
    assert not isinstance(merged.model, PeftModel)
    np.testing.assert_allclose(merged.predict(image, state, instr), live, atol=1e-4)
    # The adapter did something: the base model alone answers differently.
    assert not np.allclose(VLAPolicy.load(trained[0]).predict(image, state, instr), live, atol=1e-4)


def test_head_method_trains_only_the_action_head(trained, dataset, tmp_path):
    trainer, summary = _finetune(trained, dataset, tmp_path / "head", method="head", steps=2, val_episodes=1)
    names = [n for n, p in trainer.policy.model.named_parameters() if p.requires_grad]
    assert names and all(n.startswith("action_head.") for n in names)
    assert summary["trainable_params"] < summary["total_params"]
    # One episode held out: trained on the other three, its flow loss logged with fixed noise.
    assert summary["episodes"] == 3 and len(trainer.val.episodes) == 1
    rows = [json.loads(line) for line in (tmp_path / "head" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and all(r["val_loss"] > 0 for r in rows)


def test_state_dropout_withholds_the_joints_from_training(trained, dataset, tmp_path):
    """With every sample's state dropped, the joints' input layer learns nothing (zero input, zero
    gradient, no weight decay) while the rest of the network trains; without dropout it learns too."""
    from skills.policies.vla.policy import VLAPolicy
    from skills.policies.vla.train import Batches

    def state_in(model) -> torch.Tensor:
        return model.action_head.embodiments["unitree_g1"].state_in[0].weight.detach().clone()

    before = state_in(VLAPolicy.load(trained[0]).model)
    opts = {"method": "full", "steps": 3, "weight_decay": 0.0, "augment": False}
    dropped, _ = _finetune(trained, dataset, tmp_path / "dropped", state_dropout=1.0, **opts)
    kept, _ = _finetune(trained, dataset, tmp_path / "kept", **opts)
    assert torch.equal(state_in(dropped.policy.model), before)
    assert not torch.equal(state_in(kept.policy.model), before)
    batches = Batches(kept.data, kept.policy, torch.device("cpu"), seed=0)
    zeroed = (batches.sample(400, None, 0.5)["state"] == 0).all(dim=1).float().mean()
    assert 0.4 < float(zeroed) < 0.6


def test_fine_tuning_keeps_the_checkpoint_normalization(trained, tmp_path):
    # Every joint shifted by 0.5 rad: this set's statistics differ from the base's.
    other = _with_vectors(write_dataset(tmp_path / "shifted", episodes=2, length=24, offset=0.5))
    _finetune(trained, other, tmp_path / "full", method="full", steps=1)
    base = json.loads((trained[0] / "stats.json").read_text())
    tuned = json.loads((tmp_path / "full" / "stats.json").read_text())
    assert tuned == base
    assert tuned["unitree_g1"]["state"]["mean"][0] != pytest.approx(-0.3 + 0.5)


def test_a_checkpoint_keeps_what_its_demonstrations_were_recorded_on(trained, tmp_path):
    """Trained on episodes recorded on legs, the checkpoint says so, and runs with it default to it; one
    trained on episodes that do not say (the base) says nothing, and the shipped one was recorded gliding."""
    from skills.policies.manipulation import recorded_locomotion

    legs = _with_vectors(write_dataset(tmp_path / "legs", episodes=2, length=24))
    rows = (legs / "meta" / "episodes.jsonl").read_text().splitlines()
    lines = [json.dumps({**json.loads(r), "locomotion": "walker"}) for r in rows]
    (legs / "meta" / "episodes.jsonl").write_text("\n".join(lines) + "\n")
    _finetune(trained, legs, tmp_path / "tuned", method="head", steps=1)
    assert recorded_locomotion(f"policy:{tmp_path / 'tuned'}?execute=4") == "walker"
    assert recorded_locomotion(f"policy:{trained[0]}") is None
    assert recorded_locomotion("policy:models/vla_block") == "holonomic"
    assert recorded_locomotion("scripted") is None and recorded_locomotion("policy:/no/such") is None


def test_bad_inputs_are_named(trained, tmp_path):
    from skills.policies.vla.dataset import DatasetError
    from skills.policies.vla.policy import VLAPolicy
    from skills.policies.vla.train import TrainConfig, Trainer

    policy = VLAPolicy.load(trained[0])
    _, state, instr, _ = _frame0(0)
    with pytest.raises(
        ValueError, match=r"expected uint8 frames of shape \(32, 32, 3\).*got uint8 \(64, 64, 3\)"
    ):
        policy.predict(np.zeros((1, 64, 64, 3), np.uint8), state, instr)

    arm = _with_vectors(write_dataset(tmp_path / "so100", episodes=1, length=20, robot_type="so100"))
    trainer = Trainer(TrainConfig(dataset=arm, out=tmp_path / "x", init=trained[0], method="full", steps=1))
    with pytest.raises(ValueError, match=r"no projections for embodiment 'so100'.*built for: unitree_g1"):
        trainer.load_data()

    broken = write_dataset(tmp_path / "noaction", episodes=1, length=20, drop_feature="action")
    trainer = Trainer(TrainConfig(dataset=broken, out=tmp_path / "y", method="scratch", model=TINY, steps=1))
    with pytest.raises(DatasetError, match=r"info\.json: features has no 'action'"):
        trainer.load_data()

    with pytest.raises(ValueError, match="fine-tunes a checkpoint: give --init"):
        TrainConfig(dataset=broken, out=tmp_path / "z", method="lora")


def test_manipulation_backends_resolve_and_render_instructions(monkeypatch):
    from skills.library.pick import PickArgs
    from skills.library.place import PlaceArgs
    from skills.policies import manipulation
    from skills.policies.manipulation import Scripted, instruction_for, register_scheme, resolve

    assert isinstance(resolve("scripted"), Scripted)
    with pytest.raises(ValueError, match=r"unknown manipulation backend 'teleop:x'; use one of: .*policy:"):
        resolve("teleop:x")
    with pytest.raises(FileNotFoundError, match="checkpoint folder not found: nowhere"):
        resolve("policy:nowhere")
    monkeypatch.setattr(manipulation, "_SCHEMES", dict(manipulation._SCHEMES))
    register_scheme("echo://", lambda spec: Scripted())
    assert isinstance(resolve("echo://host:1"), Scripted)

    pick = PickArgs(object="red_block", hand="right")
    ahead = [("place", {"object": "red_block", "location": "yellow_zone", "hand": "right"})]
    assert instruction_for("pick", pick, ahead) == "move the red block to the yellow zone"
    assert instruction_for("pick", pick) == "pick up the red block"
    place = PlaceArgs(object="red_block", location="yellow_zone", hand="right")
    assert instruction_for("place", place) == "move the red block to the yellow zone"


def test_checkpoint_sets_how_many_actions_of_a_chunk_are_played(trained, tmp_path):
    """``execute`` in a checkpoint's config is the backend's default; the spec's ``execute=K`` wins; a
    config asking for more actions than a chunk holds is refused at load, naming the file."""
    import json
    import shutil

    from skills.policies.manipulation import resolve

    ckpt = tmp_path / "ckpt"
    shutil.copytree(trained[0], ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**config, "execute": 4}))
    assert resolve(f"policy:{ckpt}").execute == 4
    assert resolve(f"policy:{ckpt}?execute=12").execute == 12
    bad = tmp_path / "bad"  # another folder: a loaded checkpoint is cached by its path
    shutil.copytree(trained[0], bad)
    (bad / "config.json").write_text(json.dumps({**config, "execute": config["chunk"] + 1}))
    with pytest.raises(
        ValueError,
        match=r"(?s)bad/config\.json: invalid VLA config.*execute \(17\) cannot exceed the chunk \(16\)",
    ):
        resolve(f"policy:{bad}")


def test_policy_backed_pick_runs_in_the_runtime_under_the_arm_speed_limit(trained, lab):
    """A checkpoint drives the right arm and hand through the normal runtime; the pick's judge decides
    from the physics, other groups are left alone, and the arm's targets never move faster than the lab's
    speed limit. (This policy learned synthetic data, so it may drive the hand into the table: joint
    velocities under contact are the physics', which is why the targets are what is checked here.)"""
    from agent.runtime import Runtime
    from envs.robots.g1.g1_constants import ARM_SPEED_LIMIT
    from skills.policies.manipulation import resolve

    with pytest.raises(ValueError, match=r"execute must be 1\.\.16"):
        resolve(f"policy:{trained[0]}?execute=40")
    backend = resolve(f"policy:{trained[0]}?execute=8")
    rt = Runtime(lab, manipulation=backend)
    rt.upcoming = [("place", {"object": "red_block", "location": "yellow_zone", "hand": "right"})]
    call = rt.call("c1", "pick", {"object": "red_block", "hand": "right"})
    left = lab.embodiment.groups["left_arm"].state_index
    left0 = rt.obs.state[left].copy()
    peak, executors, last = 0.0, [], None
    rt.on_start.append(lambda a: executors.append(a.executor))
    while not rt.outcomes:
        rt.tick()
        target = rt.last_command.get("right_arm", last)
        if target is not None and last is not None:
            peak = max(peak, float(np.abs(np.asarray(target) - last).max()) / lab.control_dt)
        last = None if target is None else np.asarray(target)
    out = rt.outcomes[0]
    assert out.call_id == call.id and out.status in ("success", "failure")
    chunk_policy = executors[0].policy
    assert chunk_policy.instruction == "move the red block to the yellow zone"
    assert len(chunk_policy.latencies_s) >= 5  # it was asked for chunk after chunk
    assert 0.1 < peak <= ARM_SPEED_LIMIT, peak  # it moved, and never faster than the limit
    assert np.abs(rt.obs.state[left] - left0).max() < 0.05  # the left arm was not the policy's to move


def test_train_cli_names_bad_input_without_a_traceback(tmp_path, dataset):
    from typer.testing import CliRunner

    from agent.cli.main import app

    runner = CliRunner()
    res = runner.invoke(app, ["train", "--dataset", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "not a LeRobot dataset (no meta/info.json)" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(
        app, ["train", "--dataset", str(dataset), "--out", str(tmp_path / "o"), "--method", "lora"]
    )
    assert res.exit_code == 2 and "give --init CKPT" in res.output
    res = runner.invoke(app, ["skill", "pick", "--object", "red_block", "--manipulation", "policy:nowhere"])
    assert res.exit_code == 2 and "checkpoint folder not found: nowhere" in res.output


def test_interrupted_training_resumes_from_its_last_checkpoint(dataset, tmp_path):
    from skills.policies.vla.train import TrainConfig, Trainer

    def train(steps: int, resume: bool) -> tuple[dict, list[str]]:
        cfg = TrainConfig(
            dataset=dataset,
            out=tmp_path / "run",
            method="scratch",
            model=TINY,
            steps=steps,
            batch=4,
            ema=0.9,
            save_every=1,
            log_every=1,
            resume=resume,
        )
        said: list[str] = []
        trainer = Trainer(cfg, log=said.append)
        trainer.load_data()
        return trainer.run(), said

    train(2, resume=False)  # "killed" after step 2: checkpoints/step_000002 is its last
    summary, said = train(3, resume=True)
    assert any("resumed from" in s and "step_000002 at step 2" in s for s in said), said
    assert summary["steps"] == 3
    rows = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert (tmp_path / "run" / "checkpoints" / "step_000003" / "trainer_state.pt").is_file()
