"""Entry point of the ``tandem`` command."""

from __future__ import annotations

import typer
from typer.core import TyperOption

from envs.rendering.gl import choose_gl_backend

choose_gl_backend()  # before any command imports MuJoCo

from agent.cli import (  # noqa: E402
    chat,
    collect,
    dataset,
    diagnose,
    experiment,
    groot,
    run,
    runs,
    scene,
    skill,
    train,
)
from agent.cli import eval as eval_cli  # noqa: E402

_display_type_rich = TyperOption.display_type_rich


def _flag_without_type(self: TyperOption, ctx) -> str | None:
    # typer's rich help shows "<bool>" beside flags that take no value (its plain help does not).
    return None if self.is_flag else _display_type_rich(self, ctx)


TyperOption.display_type_rich = _flag_without_type  # type: ignore[method-assign]

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
app.add_typer(experiment.app, name="experiment")
app.command("diagnose")(diagnose.diagnose)
app.command("skills")(skill.list_skills)
app.command(
    "skill",
    add_help_option=False,  # its --help also lists the named skill's arguments
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)(skill.run_skill)

if __name__ == "__main__":
    app()
