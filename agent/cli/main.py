"""Entry point of the ``tandem`` command."""

from __future__ import annotations

import typer

from agent.cli import chat, collect, dataset, groot, run, runs, scene, skill, train
from agent.cli import eval as eval_cli

app = typer.Typer(
    name="tandem",
    help="Tandem: hierarchical humanoid agents. A planner (System 2) turns requests into skill calls that "
    "run in parallel on a simulated Unitree G1 (System 1). Embedded default: MuJoCo lab, no GPU, no network.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("run")(run.run)
app.command("chat")(chat.chat)
app.add_typer(runs.app, name="runs")
app.add_typer(scene.app, name="scene")
app.add_typer(eval_cli.app, name="eval")
app.command("collect")(collect.collect)
app.add_typer(dataset.app, name="dataset")
app.add_typer(groot.app, name="groot")
app.command("train")(train.train)
app.command("skills")(skill.list_skills)
app.command("skill", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    skill.run_skill
)

if __name__ == "__main__":
    app()
