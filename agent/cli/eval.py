"""``tandem eval``: run eval suites over a matrix of variants, report on them, compare two result sets.

tandem eval SUITE [SUITE...] [--planner P] [--prompt F.md] [--model M] [--seeds 0-4] [--workers N]
            [--out RESULTS_DIR] [--ray auto|local|ADDRESS]
tandem eval report RESULTS_DIR --out REPORT_DIR
tandem eval compare RESULTS_A RESULTS_B
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from agent.cli.errors import user_errors
from agent.cli.scene import LocomotionOpt, ManipulationOpt

console = Console()


class _DefaultRun(TyperGroup):
    """``tandem eval SUITE ...`` means ``tandem eval run SUITE ...``: the other words are subcommands."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultRun,
    help="Evaluate the agent on suites of cases (tandem eval SUITE), report (tandem eval report), "
    "compare result sets (tandem eval compare).",
    no_args_is_help=True,
)


@app.command("run")
def run(
    suites: Annotated[
        list[str], typer.Argument(help="suite files, or names of shipped suites (eval/suites)")
    ],
    planner: Annotated[
        list[str] | None, typer.Option("--planner", help="planner variant (repeatable): offline, llm")
    ] = None,
    prompt: Annotated[
        list[str] | None, typer.Option("--prompt", help="system prompt file for the LLM planner (repeatable)")
    ] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="LLM model name (repeatable)")] = None,
    seeds: Annotated[
        list[str] | None, typer.Option("--seeds", help="override every case's seeds: 0,1,2 or 0-4")
    ] = None,
    case: Annotated[
        list[str] | None, typer.Option("--case", help="run only these case ids (repeatable)")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="parallel worker processes")] = 1,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="results directory (default eval_results/SUITE); reused = resumed"),
    ] = None,
    ray: Annotated[
        str | None, typer.Option("--ray", help="run on Ray: auto (a running cluster), local, or an address")
    ] = None,
    rerun_errors: Annotated[
        bool,
        typer.Option("--rerun-errors", help="on resume, run again the episodes that crashed or timed out"),
    ] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="show the progress bar")] = True,
    manipulation: ManipulationOpt = "scripted",
    locomotion: LocomotionOpt = None,
) -> None:
    """Run every episode of the matrix planner x prompt x model x seed x case not yet in the results."""
    from eval.runner import run_eval
    from eval.suite import SuiteError, expand, load_suite, parse_seeds
    from skills.policies.manipulation import recorded_locomotion
    from skills.policies.manipulation import resolve as resolve_manipulation

    with user_errors(SuiteError, ValueError, FileNotFoundError):
        loaded = [load_suite(s) for s in suites]
        resolve_manipulation(manipulation)  # a bad backend or checkpoint fails here, not in every worker
        if locomotion is not None:
            from envs.locomotion import parse_locomotion

            parse_locomotion(locomotion)  # a bad value fails here, not in every episode
        episodes = expand(
            loaded,
            planner,
            prompt,
            model,
            parse_seeds(seeds),
            case,
            manipulation=manipulation,
            locomotion=locomotion or recorded_locomotion(manipulation),
        )
    if prompt and "llm" not in (planner or [s.defaults.planner for s in loaded]):
        console.print("[yellow]note:[/] --prompt only changes the LLM planner (--planner llm)")
    out = out or Path("eval_results") / "+".join(s.name for s in loaded)
    try:
        with user_errors(RuntimeError, ConnectionError):  # no Ray, no cluster, workers that cannot start
            res = run_eval(
                episodes,
                out,
                workers=workers,
                ray_address=ray,
                rerun_errors=rerun_errors,
                progress=progress,
                suites=[s.path for s in loaded],
            )
    except KeyboardInterrupt:
        console.print(
            f"[yellow]interrupted[/]: finished episodes are in {out}; run the same command to resume"
        )
        raise typer.Exit(130) from None
    if res["skipped"]:
        console.print(f"resumed: {res['skipped']} of {res['episodes']} episodes were already in {out}")
    print_summary(out)
    console.print(f"results: {res['results']}   report: tandem eval report {out} --out {out / 'report'}")


def print_summary(results: Path) -> None:
    from eval.report import load_rows, variant_table

    rows, _ = load_rows(results)
    if not rows:
        return
    head, body = variant_table(rows)
    t = Table(*head, title=f"{len(rows)} episodes in {results}")
    for row in body[:9]:
        t.add_row(*row)
    console.print(t)
    errors = [r for r in rows if r["status"] != "ok"]
    for r in errors[:5]:
        last = (r["error"] or "").strip().splitlines()[-1:] or [""]
        console.print(f"[red]{r['status']}[/] {r['suite']}/{r['case_id']} seed {r['seed']}: {last[0]}")


@app.command("report")
def report(
    results: Annotated[Path, typer.Argument(help="a results directory (or its results.sqlite)")],
    out: Annotated[Path, typer.Option("--out", help="where report.md, report.html and the plots go")] = Path(
        "eval_report"
    ),
) -> None:
    """Markdown and self-contained HTML report with plots and side-by-side variant tables."""
    from eval.report import write_report

    with user_errors(FileNotFoundError, ValueError):
        md, page = write_report(results, out)
    console.print(f"wrote {md} and {page}")


@app.command("compare")
def compare(
    a: Annotated[Path, typer.Argument(help="results directory A (the baseline)")],
    b: Annotated[Path, typer.Argument(help="results directory B")],
) -> None:
    """Differences between two result sets; success tested with the two-sided Fisher exact test."""
    from eval.report import compare as diff

    with user_errors(FileNotFoundError, ValueError):
        head, body = diff(a, b)
    t = Table(*head, title=f"A = {a}   B = {b}")
    for row in body:
        t.add_row(*row)
    console.print(t)
    console.print(
        "p: two-sided Fisher exact test on success counts (* p < 0.05); chain = avg completed subgoals"
    )
