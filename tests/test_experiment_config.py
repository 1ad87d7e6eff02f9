"""The experiment config: shipped files validate, bad ones fail naming the file and the field."""

from __future__ import annotations

import pytest
import yaml

from eval.experiments.config import DEFAULT, ConfigError, load_config


def test_shipped_configs_expand_to_the_issue_matrix():
    cfg = load_config()
    cells = cfg.cells()
    methods = {c.method.method for c in cells}
    assert methods == {"lora", "full", "head", "scratch"}
    assert sorted({c.demos for c in cells}) == [4, 14, 50]
    assert len({c.seed for c in cells if c.demos == 14 and c.key == "full_long"}) >= 2
    ranks = sorted({c.method.lora_rank for c in cells if c.demos == 14 and c.method.method == "lora"})
    assert ranks == [8, 16, 32, 128]
    assert cfg.eval.seeds.count == 50
    assert len({c.id for c in cells}) == len(cells)
    assert load_config(smoke=True).cells()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["pretrain"]["tasks"].append(r["held_out"]["task"]), "must be held out"),
        (lambda r: r.update(demos=[4, 14, 500]), "demo_pool"),
        (lambda r: r["methods"]["lora_short"].update(method="qlora"), "methods.lora_short.method"),
        (lambda r: r["eval"]["seeds"].update(start=0), "overlap the demonstration seeds"),
        (lambda r: r.update(bogus=1), "bogus"),
    ],
)
def test_bad_config_names_the_field(tmp_path, change, message):
    raw = yaml.safe_load(DEFAULT.read_text())
    change(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(path) in str(e.value) and message in str(e.value)


def test_probe_sentences_travel_in_the_checkpoint_without_an_encoder(tmp_path):
    """A cell's checkpoint gets the probe sentence's vector from another bank (no text encoder needed)."""
    import json

    from eval.experiments.backends import add_instructions

    ckpt, source = tmp_path / "cell", tmp_path / "pretrain"
    ckpt.mkdir()
    source.mkdir()
    (ckpt / "instructions.json").write_text(json.dumps({"move the red block to the yellow zone": [1.0, 0.0]}))
    (source / "instructions.json").write_text(json.dumps({"put the red block in the tray": [0.0, 1.0]}))
    add_instructions(ckpt, ["put the red block in the tray"], [source])
    bank = json.loads((ckpt / "instructions.json").read_text())
    assert bank == {
        "move the red block to the yellow zone": [1.0, 0.0],
        "put the red block in the tray": [0.0, 1.0],
    }


def test_an_output_folder_refuses_another_config(tmp_path):
    """The same config resumes its folder; another one is refused, naming the fields that differ."""
    from eval.experiments.lora_vs_full import ExperimentError, Paths, _check_out

    cfg = load_config(smoke=True)
    paths = Paths(tmp_path / "exp")
    _check_out(cfg, paths)
    _check_out(cfg, paths)  # a resume
    other = cfg.model_copy(update={"demos": [2, 3], "train_workers": cfg.train_workers + 1})
    with pytest.raises(ExperimentError, match=r"fields demos, train_workers differ"):
        _check_out(other, paths)
