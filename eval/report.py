"""Reports over a results database: Markdown + a self-contained HTML page (plots as base64 PNG), and the
comparison of two result sets with Fisher's exact test on success.

    tandem eval report eval_results/lab_basics --out report/
    tandem eval compare eval_results/before eval_results/after
"""

from __future__ import annotations

import base64
import html
import io
import os
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eval.metrics import aggregate, fisher_exact
from eval.runner import RUNS, Results

TEMPLATE = Path(__file__).resolve().parent / "templates" / "report.html"


def load_rows(results: str | Path) -> tuple[list[dict[str, Any]], Path]:
    r = Results.open_existing(results)
    try:
        return r.rows(), r.dir
    finally:
        r.close()


def by(
    rows: list[dict[str, Any]], key: str | Callable[[dict[str, Any]], str]
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        out[key(row) if callable(key) else row[key]].append(row)
    return dict(out)


def _case(row: dict[str, Any]) -> str:
    return f"{row['suite']}/{row['case_id']}"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _failure_label(row: dict[str, Any]) -> str | None:
    if row["status"] != "ok":
        return f"error: {row['status']}"
    f = row["metrics"].get("failure") or {}
    if row["success"] or not f.get("stage"):
        return None
    return f"{f['stage']}: {f['kind']}" + (f" ({f['skill']})" if f.get("skill") else "")


# -- plots --------------------------------------------------------------------------------------------
def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def plots(rows: list[dict[str, Any]]) -> dict[str, tuple[str, bytes]]:
    """name -> (title, PNG bytes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = by(rows, "variant")
    names = list(variants)
    colors = plt.get_cmap("tab10").colors
    out: dict[str, tuple[str, bytes]] = {}

    # Success by variant, 95% Wilson intervals.
    fig, ax = plt.subplots(figsize=(max(4.5, 1.4 * len(names) + 2), 3.6))
    for i, v in enumerate(names):
        a = aggregate(variants[v])
        lo, hi = a["wilson95"]
        p = a["success_rate"]
        ax.bar(i, p, color=colors[i % 10], alpha=0.85)
        ax.errorbar(i, p, yerr=[[p - lo], [hi - p]], color="black", capsize=6)
        ax.text(i, min(hi + 0.03, 1.02), f"{a['successes']}/{a['episodes']}", ha="center", fontsize=9)
    ax.set_xticks(range(len(names)), names, rotation=15)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("success rate")
    ax.set_title("Success by variant (95% Wilson interval)")
    out["success"] = ("Success by variant", _png(fig))

    # Chain length histogram (completed subgoals per episode).
    fig, ax = plt.subplots(figsize=(6, 3.6))
    top = max([r["metrics"].get("subgoals_total", 0) for r in rows if r["status"] == "ok"] + [1])
    width = 0.8 / max(1, len(names))
    for i, v in enumerate(names):
        vals = [r["metrics"]["subgoals_done"] for r in variants[v] if r["metrics"].get("subgoals_total")]
        counts = [vals.count(k) for k in range(top + 1)]
        ax.bar([k + i * width for k in range(top + 1)], counts, width=width, label=v, color=colors[i % 10])
    ax.set_xticks(
        [k + width * (len(names) - 1) / 2 for k in range(top + 1)], [str(k) for k in range(top + 1)]
    )
    ax.set_xlabel("subgoals completed in order")
    ax.set_ylabel("episodes")
    ax.set_title("Chain length")
    ax.legend(fontsize=8)
    out["chains"] = ("Chain length histogram", _png(fig))

    # Failure breakdown.
    labels = sorted({lbl for r in rows if (lbl := _failure_label(r))})
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.45 * len(labels) + 1.2)))
    if labels:
        height = 0.8 / max(1, len(names))
        for i, v in enumerate(names):
            counts = [sum(_failure_label(r) == lbl for r in variants[v]) for lbl in labels]
            ax.barh(
                [k + i * height for k in range(len(labels))],
                counts,
                height=height,
                label=v,
                color=colors[i % 10],
            )
        ax.set_yticks([k + height * (len(names) - 1) / 2 for k in range(len(labels))], labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("episodes")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no failures", ha="center", va="center", fontsize=14)
        ax.set_axis_off()
    ax.set_title("Failure attribution")
    out["failures"] = ("Failure breakdown", _png(fig))

    # Latency: episode wall time, and LLM latency and tokens when an LLM planned (not for offline evals).
    has_llm = any(
        r["metrics"].get("llm_calls") or r["metrics"].get("prompt_tokens")
        for r in rows
        if r["status"] == "ok"
    )
    fig, axes = plt.subplots(1, 2 if has_llm else 1, figsize=(9 if has_llm else 5, 3.6), squeeze=False)
    axes = list(axes[0])
    walls = [[float(r.get("wall_s") or 0) for r in variants[v]] for v in names]
    axes[0].boxplot(walls, tick_labels=names)
    axes[0].set_ylabel("s")
    axes[0].set_title("Episode wall time")
    if has_llm:
        llm = [
            [float(r["metrics"].get("llm_latency_s") or 0) for r in variants[v] if r["status"] == "ok"]
            or [0.0]
            for v in names
        ]
        axes[1].boxplot(llm, tick_labels=names)
        axes[1].set_title("LLM latency per episode")
        axes[1].set_ylabel("s")
    for ax in axes:
        ax.tick_params(axis="x", rotation=15)
    out["latency"] = ("Latency distributions" if has_llm else "Episode wall time", _png(fig))
    if not has_llm:
        return out

    # Tokens.
    fig, ax = plt.subplots(figsize=(6, 3.6))
    tokens = [
        [
            int(r["metrics"].get("prompt_tokens", 0)) + int(r["metrics"].get("completion_tokens", 0))
            for r in variants[v]
            if r["status"] == "ok"
        ]
        or [0]
        for v in names
    ]
    ax.hist(tokens, bins=12, label=names, color=[colors[i % 10] for i in range(len(names))])
    ax.set_xlabel("tokens per episode (prompt + completion)")
    ax.set_ylabel("episodes")
    ax.set_title("Token distribution")
    ax.legend(fontsize=8)
    out["tokens"] = ("Token distribution", _png(fig))
    return out


# -- tables -------------------------------------------------------------------------------------------
def variant_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Metrics as rows, variants as columns (side by side); p-values against the first variant."""
    variants = by(rows, "variant")
    names = list(variants)
    aggs = [aggregate(variants[v]) for v in names]
    base = aggs[0]

    def row(label: str, fn) -> list[str]:
        return [label, *[fn(a) for a in aggs]]

    body = [
        row("episodes", lambda a: str(a["episodes"])),
        row("success", lambda a: f"{a['successes']}/{a['episodes']} ({_pct(a['success_rate'])})"),
        row("95% Wilson CI", lambda a: f"{_pct(a['wilson95'][0])}–{_pct(a['wilson95'][1])}"),
        row("errors (crash, timeout)", lambda a: str(a["errors"])),
        row("plan success", lambda a: f"{a['plan_success']} ({_pct(a['plan_success_rate'])})"),
        row("execution success | plan ok", lambda a: f"{a['exec_success']} ({_pct(a['exec_success_rate'])})"),
        row("avg completed subgoals", lambda a: f"{a['avg_chain']:.2f} (n={a['chain_episodes']})"),
        row("retries / episode", lambda a: f"{a['retries']:.2f}"),
        row("replans / episode", lambda a: f"{a['replans']:.2f}"),
        row("LLM calls / episode", lambda a: f"{a['llm_calls']:.1f}"),
        row("tokens / episode", lambda a: f"{a['tokens']:.0f}"),
        row("LLM latency / episode (s)", lambda a: f"{a['llm_latency_s']:.2f}"),
        row("sim time / episode (s)", lambda a: f"{a['sim_time_s']:.1f}"),
        row("wall time / episode (s)", lambda a: f"{a['wall_time_s']:.1f}"),
        row("spill / episode (ml)", lambda a: f"{a['spilled_ml']:.2f}"),
    ]
    if len(names) > 1:
        body.append(
            [
                f"Fisher p vs {names[0]}",
                "—",
                *[
                    f"{fisher_exact(a['successes'], a['episodes'], base['successes'], base['episodes']):.3f}"
                    for a in aggs[1:]
                ],
            ]
        )
    return ["metric", *names], body


def case_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    names = list(by(rows, "variant"))
    cases = by(rows, "suite")
    body = []
    for suite in cases:
        for case, crows in by(cases[suite], "case_id").items():
            per = by(crows, "variant")
            cells = []
            for v in names:
                rs = per.get(v, [])
                k = sum(bool(r["success"]) for r in rs)
                chains = [r["metrics"]["subgoals_done"] for r in rs if r["metrics"].get("subgoals_total")]
                total = max([r["metrics"].get("subgoals_total", 0) for r in rs if r["status"] == "ok"] + [0])
                chain = f", chain {sum(chains) / len(chains):.1f}/{total}" if chains else ""
                cells.append(f"{k}/{len(rs)}{chain}" if rs else "—")
            body.append([f"{suite}/{case}", *cells])
    return ["case", *names], body


def failure_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    variants = by(rows, "variant")
    labels = sorted({lbl for r in rows if (lbl := _failure_label(r))})
    body = [
        [lbl, *[str(sum(_failure_label(r) == lbl for r in variants[v])) for v in variants]] for lbl in labels
    ]
    return ["failure", *variants], body


def _links(row: dict[str, Any], results_dir: Path, out: Path) -> list[tuple[str, str]]:
    run = results_dir / RUNS / (row["run_id"] or "")
    if not row["run_id"] or not run.exists():
        return []
    rel = Path(os.path.relpath(run, out))
    links = [("events", str(rel / "events.jsonl"))]
    if (run / "summary.json").exists():
        links.append(("summary", str(rel / "summary.json")))
    links += [(f.name, str(rel / f.name)) for f in sorted(run.glob("*.mp4"))]
    return links


def episode_table(rows: list[dict[str, Any]], results_dir: Path, out: Path):
    head = ["case", "variant", "seed", "status", "success", "chain", "failure", "wall s", "record"]
    body = []
    for r in rows:
        m = r["metrics"]
        chain = f"{m['subgoals_done']}/{m['subgoals_total']}" if m.get("subgoals_total") else "—"
        body.append(
            [
                _case(r),
                r["variant"],
                str(r["seed"]),
                r["status"],
                "yes" if r["success"] else "no",
                chain,
                _failure_label(r) or "",
                f"{float(r['wall_s'] or 0):.1f}",
                _links(r, results_dir, out),
            ]
        )
    return head, body


# -- writers ------------------------------------------------------------------------------------------
def _md_table(head: list[str], body: list[list[Any]]) -> str:
    def cell(c: Any) -> str:
        if isinstance(c, list):
            return " ".join(f"[{name}]({href})" for name, href in c)
        return str(c).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def _html_table(head: list[str], body: list[list[Any]]) -> str:
    def cell(c: Any) -> str:
        if isinstance(c, list):
            return " ".join(f'<a href="{html.escape(href)}">{html.escape(name)}</a>' for name, href in c)
        return html.escape(str(c))

    h = "".join(f"<th>{html.escape(x)}</th>" for x in head)
    rows = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{rows}</tbody></table>"


def write_report(results: str | Path, out: str | Path) -> tuple[Path, Path]:
    """report.md (+ PNG files) and report.html (self-contained) in ``out``."""
    rows, results_dir = load_rows(results)
    if not rows:
        raise ValueError(f"{results}: no episodes recorded yet")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figs = plots(rows)
    tables = {
        "Variants side by side": variant_table(rows),
        "Success by case": case_table(rows),
        "Failures": failure_table(rows),
    }
    episodes = episode_table(rows, results_dir, out)
    chain_note = (
        "Chains: the case's ordered subgoals evaluated on the world recorded after each execute wave "
        "(then the final world); a subgoal counts once it holds after the previous one did."
    )
    notes = [
        f"Results: `{results_dir}` — {len(rows)} episodes, {len(by(rows, 'variant'))} variant(s), "
        f"generated {time.strftime('%Y-%m-%d %H:%M')}.",
        "Success: the case's predicates on the recorded final world state (or the expected reply); errors "
        "and timeouts count as failures. Intervals: 95% Wilson. p: two-sided Fisher exact test on success.",
        chain_note,
    ]

    md = ["# Evaluation report", "", *[f"- {n}" for n in notes], ""]
    for title, (head, body) in tables.items():
        md += [f"## {title}", "", _md_table(head, body), ""]
    md += ["## Plots", ""]
    for name, (title, png) in figs.items():
        (out / f"{name}.png").write_bytes(png)
        md += [f"![{title}]({name}.png)", ""]
    md += ["## Episodes", "", _md_table(*episodes), ""]
    md_path = out / "report.md"
    md_path.write_text("\n".join(md))

    sections = "".join(
        f"<h2>{html.escape(title)}</h2>{_html_table(head, body)}" for title, (head, body) in tables.items()
    )
    imgs = "".join(
        f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}"><figcaption>{html.escape(title)}</figcaption></figure>'
        for title, png in figs.values()
    )
    page = TEMPLATE.read_text()
    page = (
        page.replace("{{notes}}", "".join(f"<li>{html.escape(n)}</li>" for n in notes))
        .replace("{{tables}}", sections)
        .replace("{{plots}}", imgs)
        .replace("{{episodes}}", _html_table(*episodes))
    )
    html_path = out / "report.html"
    html_path.write_text(page)
    return md_path, html_path


# -- compare ------------------------------------------------------------------------------------------
def compare(a: str | Path, b: str | Path) -> tuple[list[str], list[list[str]]]:
    """Success and the other headline metrics of two result sets, overall, per variant and per case,
    with the two-sided Fisher exact p-value on success (exact, valid at the small n of evals)."""
    ra, _ = load_rows(a)
    rb, _ = load_rows(b)
    head = [
        "group",
        "A success",
        "B success",
        "Δ success",
        "Fisher p",
        "A chain",
        "B chain",
        "A wall s",
        "B wall s",
    ]
    body = []

    def line(label: str, xa: list[dict[str, Any]], xb: list[dict[str, Any]]) -> None:
        ga, gb = aggregate(xa), aggregate(xb)
        p = fisher_exact(ga["successes"], ga["episodes"], gb["successes"], gb["episodes"])
        sig = " *" if p < 0.05 else ""
        body.append(
            [
                label,
                f"{ga['successes']}/{ga['episodes']} ({_pct(ga['success_rate'])})",
                f"{gb['successes']}/{gb['episodes']} ({_pct(gb['success_rate'])})",
                f"{100 * (gb['success_rate'] - ga['success_rate']):+.0f} pts",
                f"{p:.3f}{sig}",
                f"{ga['avg_chain']:.2f}",
                f"{gb['avg_chain']:.2f}",
                f"{ga['wall_time_s']:.1f}",
                f"{gb['wall_time_s']:.1f}",
            ]
        )

    line("all", ra, rb)
    va, vb = by(ra, "variant"), by(rb, "variant")
    if len(va) > 1 or len(vb) > 1 or set(va) != set(vb):
        for v in [v for v in va if v in vb]:
            line(f"variant {v}", va[v], vb[v])
    ca, cb = by(ra, _case), by(rb, _case)
    for c in [c for c in ca if c in cb]:
        line(f"case {c}", ca[c], cb[c])
    return head, body
