"""The experiment report: Markdown + PNG plots, and one self-contained HTML page (plots as base64).

Sections: setup and time per stage; the story's table beside ours; success by method and demo count with
95% Wilson intervals; a verdict per cell naming which differences are significant (two-sided Fisher exact
test, as ``tandem eval compare``); the LoRA rank sweep; the diagnostics per cell; training (loss curves,
time, GPU memory, parameters); plots; the definitions of every diagnostic.
"""

from __future__ import annotations

import base64
import html
import time
from pathlib import Path
from typing import Any

from eval.experiments import analysis, backends
from eval.experiments.config import ExperimentConfig
from eval.report import _html_table, _md_table, _png

SECTIONS = (
    "Setup",
    "Time per stage",
    "The story's table beside ours",
    "Success by method and demo count",
    "Verdicts",
    "LoRA rank sweep",
    "Diagnostics per cell",
    "Training",
    "Plots",
    "Definitions",
)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def _f(x: float | None, nd: int = 2) -> str:
    return "—" if x is None else f"{x:.{nd}f}"


def _rate(s: dict[str, Any]) -> str:
    return f"{s['k']}/{s['n']} ({_pct(s['rate'])}, CI {_pct(s['lo'])}–{_pct(s['hi'])})"


def _keys(cfg: ExperimentConfig) -> list[str]:
    return list(cfg.methods)


# -- tables -------------------------------------------------------------------------------------------
def story_table(cfg: ExperimentConfig, diag: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    cols = ["Training steps", "Training time", "Unique trajectories", "Task success"]
    body = [[name, *[row.get(c, "—") for c in cols]] for name, row in cfg.story.items()]
    n = analysis.reference_demos(cfg)
    groups = diag["groups"]
    for key in _keys(cfg):
        cells = [g for g in groups.values() if g.get("key") == key and g.get("demos") == n]
        if not cells:
            continue
        k, total = analysis.pooled(groups, key, n)
        walls = [g["training"]["wall_s"] for g in cells if g["training"].get("wall_s") is not None]
        unique = ", ".join(f"{g['spread']['unique']}/{g['trajectories']}" for g in cells)
        first = cells[0]["success"]
        rate = k / total if total else 0.0
        body.append(
            [
                f"{cells[0]['label']} (ours, {n} demos)",
                str(cells[0]["steps"]),
                f"{sum(walls) / len(walls):.0f} s" if walls else "—",
                unique,
                f"{k}/{total} ({_pct(rate)}); seed {cells[0]['seed']} CI "
                f"{_pct(first['lo'])}–{_pct(first['hi'])}",
            ]
        )
    return ["", *cols], body


def success_table(cfg: ExperimentConfig, diag: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Methods as rows, demo counts as columns; pooled over training seeds."""
    from eval.metrics import wilson

    groups = diag["groups"]
    body = []
    for key in _keys(cfg):
        row = [cfg.methods[key].label or key]
        for n in cfg.demos:
            k, total = analysis.pooled(groups, key, n)
            lo, hi = wilson(k, total)
            row.append(
                f"{k}/{total} ({_pct(k / total if total else 0)}; {_pct(lo)}–{_pct(hi)})" if total else "—"
            )
        body.append(row)
    e = groups.get("expert")
    if e:
        body.append(["scripted expert (the ceiling)", *[_rate(e["success"])] * len(cfg.demos)])
    return ["method", *[f"{n} demos" for n in cfg.demos]], body


def verdicts(cfg: ExperimentConfig, diag: dict[str, Any]) -> list[str]:
    """One plain-language paragraph per cell: its success, and which comparisons are significant."""
    groups = diag["groups"]
    alpha = cfg.diagnostics.significance
    lines = []
    refs = [k for k in ("lora_short", "full_long") if k in cfg.methods] or _keys(cfg)[:1]
    for gid, g in groups.items():
        if g["method"] == "scripted":
            continue
        parts = [
            f"**{gid}** ({g['label']}, {g['demos']} demos, training seed {g['seed']}): {_rate(g['success'])}."
        ]
        mine = (g["success"]["k"], g["success"]["n"])
        for ref in refs:
            other = groups.get(f"{ref}.d{g['demos']}.s{g['seed']}")
            if other is None or ref == g["key"]:
                continue
            c = analysis.compare(mine, (other["success"]["k"], other["success"]["n"]))
            sig = "significant" if c["p"] < alpha else "not significant"
            parts.append(
                f"Against {ref} on the same data: {c['delta_pts']:+.0f} pts, Fisher p = {c['p']:.3f} ({sig})."
            )
        e = groups.get("expert")
        if e:
            c = analysis.compare(mine, (e["success"]["k"], e["success"]["n"]))
            sig = (
                "significantly below" if c["p"] < alpha and c["delta_pts"] < 0 else "not significantly below"
            )
            parts.append(f"It is {sig} the scripted expert (p = {c['p']:.3f}).")
        spread, n = g["spread"], g["trajectories"]
        if n >= 2:
            same = spread["unique"] == 1
            parts.append(
                f"{spread['unique']} unique trajectories of {n} "
                f"(mean pairwise distance {_f(spread['mean'])} rad)"
                + (": the same motion on every seed." if same else ".")
            )
        m = g.get("memorization")
        if m and m.get("ratio") is not None:
            word = (
                "replays its demonstrations" if m["ratio"] < 0.5 else "does not just replay a demonstration"
            )
            parts.append(f"Memorization ratio {_f(m['ratio'])}: it {word}.")
        sx = (g.get("start") or {}).get("x")
        if sx and sx.get("slope") is not None:
            word = "ignores where the object is" if abs(sx["slope"]) < 0.2 else "follows the object"
            parts.append(f"Grasp-x slope {_f(sx['slope'])} (R² {_f(sx['r2'])}): it {word}.")
        p = g.get("prompt")
        if p and p.get("n"):
            parts.append(
                f"Other instructions moved it by {_f(p['distance'])} rad and were carried out "
                f"{p['followed']}/{p['n']}."
            )
        lines.append(" ".join(parts))
    return lines


def rank_table(cfg: ExperimentConfig, diag: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    rs = cfg.rank_sweep
    if rs is None:
        return ["rank", "success"], []
    groups = diag["groups"]
    base = cfg.methods[rs.method]
    rows = []
    for r in sorted({base.lora_rank, *rs.ranks}):
        key = rs.method if r == base.lora_rank else f"{rs.method}_r{r}"
        cells = [g for g in groups.values() if g.get("key") == key and g.get("demos") == rs.demos]
        k, n = analysis.pooled(groups, key, rs.demos)
        params = cells[0]["training"].get("trainable_params") if cells else None
        rows.append(
            [
                str(r),
                str(2 * r if r != base.lora_rank else base.lora_alpha),
                f"{k}/{n} ({_pct(k / n if n else 0)})",
                f"{params:,}" if params else "—",
            ]
        )
    return ["rank", "alpha", f"success ({rs.demos} demos)", "trainable parameters"], rows


def diagnostics_table(diag: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    head = [
        "cell",
        "success (95% CI)",
        "unique traj.",
        "pairwise dist. (rad)",
        "memorization ratio",
        "start slope x (R²)",
        "start slope y (R²)",
        "prompt dist. (rad)",
        "other task done",
        "misses",
    ]
    body = []
    for gid, g in diag["groups"].items():
        st = g.get("start") or {}
        m = g.get("memorization") or {}
        p = g.get("prompt") or {}

        def fit(axis: str, st: dict[str, Any] = st) -> str:
            f = st.get(axis)
            return f"{_f(f['slope'])} ({_f(f['r2'])})" if f else "—"

        body.append(
            [
                gid,
                _rate(g["success"]),
                f"{g['spread']['unique']}/{g['trajectories']}",
                _f(g["spread"]["mean"]),
                _f(m.get("ratio")),
                fit("x"),
                fit("y"),
                _f(p.get("distance")),
                f"{p['followed']}/{p['n']}" if p.get("n") else "—",
                ", ".join(f"{why} {n}" for why, n in (g.get("misses") or {}).items()) or "—",
            ]
        )
    return head, body


def training_table(diag: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    head = [
        "cell",
        "method",
        "steps",
        "trainable / total params",
        "wall s",
        "GPU memory (GB)",
        "final loss",
        "final val loss",
    ]
    body = []
    for gid, g in diag["groups"].items():
        if g["method"] == "scripted":
            continue
        t = g["training"]
        curve = g.get("curve") or []
        val = next((c.get("val_loss") for c in reversed(curve) if c.get("val_loss") is not None), None)
        params = f"{t['trainable_params']:,} / {t['total_params']:,}" if t.get("trainable_params") else "—"
        gpu = _f(t.get("gpu_memory_gb")) if t.get("gpu_memory_gb") is not None else "— (CPU)"
        body.append(
            [
                gid,
                g["method"],
                str(g["steps"]),
                params,
                _f(t.get("wall_s"), 1),
                gpu,
                _f(t.get("final_loss"), 4),
                _f(val, 4),
            ]
        )
    return head, body


def stage_table(paths) -> tuple[list[str], list[list[str]]]:
    """Wall time per stage; overlapped stages (fine-tuning and eval run together, timed from the same
    start) count once in the total, with the longer of the two."""
    data = backends.read_json(paths.timings) if paths.timings.exists() else {}
    body = [
        [s + (" (overlapped)" if e.get("overlapped") else ""), f"{e['wall_s']:.1f}", str(e["runs"])]
        for s, e in data.items()
    ]
    alone = sum(e["wall_s"] for e in data.values() if not e.get("overlapped"))
    together = max((e["wall_s"] for e in data.values() if e.get("overlapped")), default=0.0)
    body.append(["total", f"{alone + together:.1f}", ""])
    return ["stage", "wall s (summed over invocations)", "invocations"], body


# -- plots --------------------------------------------------------------------------------------------
def plots(cfg: ExperimentConfig, diag: dict[str, Any]) -> dict[str, tuple[str, bytes]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from eval.metrics import wilson

    groups = diag["groups"]
    colors = plt.get_cmap("tab10").colors
    out: dict[str, tuple[str, bytes]] = {}

    # Success by method and demo count, 95% Wilson intervals.
    keys = _keys(cfg)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(keys) * len(cfg.demos) / 2 + 2), 3.8))
    width = 0.8 / len(cfg.demos)
    for j, n in enumerate(cfg.demos):
        for i, key in enumerate(keys):
            k, total = analysis.pooled(groups, key, n)
            p = k / total if total else 0.0
            lo, hi = wilson(k, total)
            x = i + j * width
            ax.bar(
                x, p, width=width, color=colors[j % 10], alpha=0.85, label=f"{n} demos" if i == 0 else None
            )
            ax.errorbar(x, p, yerr=[[p - lo], [hi - p]], color="black", capsize=3)
    if "expert" in groups:
        ax.axhline(groups["expert"]["success"]["rate"], color="gray", ls="--", lw=1, label="scripted expert")
    ax.set_xticks([i + width * (len(cfg.demos) - 1) / 2 for i in range(len(keys))], keys, rotation=15)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("success rate")
    ax.set_title("Success by method and demo count (95% Wilson interval)")
    ax.legend(fontsize=8)
    out["success"] = ("Success by method and demo count", _png(fig))

    # Loss curves (training solid, validation dashed), one colour per method, at the reference demo count.
    n_ref = analysis.reference_demos(cfg)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    drawn = False
    for i, key in enumerate(keys):
        for g in groups.values():
            if g.get("key") != key or g.get("demos") != n_ref or g.get("seed") != 0 or not g.get("curve"):
                continue
            steps = [c["step"] for c in g["curve"]]
            ax.plot(steps, [c["loss"] for c in g["curve"]], color=colors[i % 10], label=f"{key} train")
            val = [c.get("val_loss") for c in g["curve"]]
            if any(v is not None for v in val):
                ax.plot(steps, val, color=colors[i % 10], ls="--", label=f"{key} val")
            drawn = True
    ax.set_xlabel("step")
    ax.set_ylabel("flow-matching loss")
    ax.set_yscale("log")
    ax.set_title(f"Training (solid) and validation (dashed) loss, {n_ref} demos, seed 0")
    if drawn:
        ax.legend(fontsize=7, ncol=2)
    out["loss"] = ("Loss curves", _png(fig))

    # Start sensitivity: grasp x against object x.
    shown = analysis.shown_groups(cfg, groups)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    for i, gid in enumerate(shown):
        pts = groups[gid]["scatter"]
        if not pts:
            continue
        obj = np.array([p["object"] for p in pts])
        grasp = np.array([p["grasp"] for p in pts])
        for a, ax in enumerate(axes):
            ax.scatter(obj[:, a], grasp[:, a], s=14, color=colors[i % 10], label=gid, alpha=0.8)
    for a, ax in enumerate(axes):
        axis = "xy"[a]
        lims = ax.get_xlim()
        ax.plot(lims, lims, color="gray", lw=0.8, ls=":", label="slope 1")
        ax.set_xlabel(f"object start {axis} (m)")
        ax.set_ylabel(f"grasp {axis} (m)")
    axes[0].legend(fontsize=7)
    fig.suptitle("Start sensitivity: where the hand grasped against where the object was")
    out["start"] = ("Start sensitivity scatter", _png(fig))

    # Trajectory overlays: shoulder pitch of the acting arm over time, rollouts of a few cells vs demos.
    overlays = diag.get("overlays")
    if overlays is None:  # diagnostics written before they carried the traces
        return out
    fig, axes = plt.subplots(1, len(shown) + 1, figsize=(3.4 * (len(shown) + 1), 3.4), sharey=True)
    axes = np.atleast_1d(axes)
    for d in overlays["demos"]:
        axes[0].plot(d["t"], d["q"], color="gray", lw=0.8)
    axes[0].set_title(f"{len(overlays['demos'])} training demos")
    for ax, gid in zip(axes[1:], shown, strict=False):
        for r in overlays["groups"].get(gid, []):
            ax.plot(r["t"], r["q"], lw=0.8, color="tab:green" if r["success"] else "tab:red")
        ax.set_title(gid, fontsize=9)
    for ax in axes:
        ax.set_xlabel("s")
    axes[0].set_ylabel(f"{cfg.held_out.hand} shoulder pitch (rad)")
    fig.suptitle("Trajectory overlays (rollouts: green success, red failure)")
    out["trajectories"] = ("Trajectory overlays", _png(fig))
    return out


# -- writer -------------------------------------------------------------------------------------------
def write(cfg: ExperimentConfig, paths) -> tuple[Path, Path]:
    diag = backends.read_json(paths.diagnostics)
    out = paths.report
    out.mkdir(parents=True, exist_ok=True)
    figs = plots(cfg, diag)
    setup = [
        f"Experiment `{cfg.name}`: {cfg.description}".strip(),
        f"Pretraining tasks: {', '.join(cfg.pretrain.tasks)} ({cfg.collect.episodes_per_task} demos each, "
        f"{cfg.pretrain.steps} steps); held-out task `{cfg.held_out.task}` (never in pretraining).",
        f"Evaluation: {cfg.eval.seeds.count} held-out scene seeds from {cfg.eval.seeds.start}, the same for "
        "every cell, closed loop through the eval runner; success is the task's predicates on the final "
        "world.",
        f"Prompt probe: instructions of {', '.join(cfg.prompt.tasks)} on the first {cfg.prompt.seeds} "
        "eval seeds.",
        f"Ran with: {diag.get('versions', 'not recorded by these diagnostics')}. Report written "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
    ]
    tables = {
        "Time per stage": stage_table(paths),
        "The story's table beside ours": story_table(cfg, diag),
        "Success by method and demo count": success_table(cfg, diag),
        "LoRA rank sweep": rank_table(cfg, diag),
        "Diagnostics per cell": diagnostics_table(diag),
        "Training": training_table(diag),
    }
    verdict = verdicts(cfg, diag)
    demo_spread = diag["demos"]["spread"]
    definitions = {
        **diag["definitions"],
        "Demonstrations' own spread": f"{diag['demos']['count']} demos: mean pairwise distance "
        f"{_f(demo_spread['mean'])} rad, {demo_spread['unique']} unique — the scale of a varied motion.",
    }

    md = [
        "# LoRA versus full fine-tuning: experiment report",
        "",
        "## Setup",
        "",
        *[f"- {s}" for s in setup],
        "",
    ]
    html_parts = ["<h2>Setup</h2><ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in setup) + "</ul>"]
    for title in SECTIONS[1:]:
        md += [f"## {title}", ""]
        html_parts.append(f"<h2>{html.escape(title)}</h2>")
        if title == "Verdicts":
            md += [f"- {v}" for v in verdict] + [""]
            html_parts.append(
                "<ul>" + "".join(f"<li>{html.escape(v.replace('**', ''))}</li>" for v in verdict) + "</ul>"
            )
        elif title == "Plots":
            for name, (caption, png) in figs.items():
                (out / f"{name}.png").write_bytes(png)
                md += [f"![{caption}]({name}.png)", ""]
            if "trajectories" not in figs:
                md += ["_No trajectory overlays: these diagnostics predate the traces they draw._", ""]
            html_parts.append(
                '<div class="plots">'
                + "".join(
                    f'<figure><img alt="{html.escape(c)}" '
                    f'src="data:image/png;base64,{base64.b64encode(p).decode()}">'
                    f"<figcaption>{html.escape(c)}</figcaption></figure>"
                    for c, p in figs.values()
                )
                + "</div>"
            )
        elif title == "Definitions":
            md += [f"- **{k}**: {v.removeprefix(k + ':').strip()}" for k, v in definitions.items()] + [""]
            html_parts.append(
                "<dl>"
                + "".join(
                    f"<dt>{html.escape(k)}</dt><dd>{html.escape(v.removeprefix(k + ':').strip())}</dd>"
                    for k, v in definitions.items()
                )
                + "</dl>"
            )
        else:
            head, body = tables[title]
            md += [_md_table(head, body) if body else "_none in this config_", ""]
            html_parts.append(_html_table(head, body) if body else "<p><em>none in this config</em></p>")
    md_path = out / "report.md"
    md_path.write_text("\n".join(md))
    page = PAGE.replace("{{title}}", html.escape(cfg.name)).replace("{{body}}", "".join(html_parts))
    html_path = out / "report.html"
    html_path.write_text(page)
    return md_path, html_path


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}}: experiment report</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1200px; }
h2 { margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; border: 1px solid #eee; padding: 8px; } figure img { max-width: 560px; display: block; }
figcaption { font-size: 12px; color: #555; text-align: center; }
dt { font-weight: 600; margin-top: 8px; } dd { margin-left: 16px; font-size: 13px; }
</style></head>
<body><h1>LoRA versus full fine-tuning: experiment report</h1>{{body}}</body></html>
"""
