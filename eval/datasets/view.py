"""``tandem dataset view``: one episode as an MP4 to watch: its cameras side by side under the instruction,
over a strip of state (solid) and action (dashed) plots of the joint groups that move, with a cursor."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eval.datasets import format as fmt
from eval.datasets.reader import Dataset
from eval.datasets.video import read_frames

PANEL_H = 256  # px height of each camera panel
STRIP_H = 200
TITLE_H = 32


def _spans(ds: Dataset) -> list[tuple[str, slice]]:
    """The state groups of modality.json (the whole vector as one group without it)."""
    groups = (ds.modality or {}).get("state") or {
        "state": {"start": 0, "end": ds.features[fmt.STATE]["shape"][0]}
    }
    return [(name, slice(g["start"], g["end"])) for name, g in groups.items()]


def _moving_groups(
    state: np.ndarray, action: np.ndarray, spans: list[tuple[str, slice]], k: int = 2
) -> list[tuple[str, slice]]:
    motion = [(float(np.ptp(np.r_[state[:, s], action[:, s]], axis=0).max()), name, s) for name, s in spans]
    return [(name, s) for _, name, s in sorted(motion, reverse=True)[:k]]


def _strip(state: np.ndarray, action: np.ndarray, spans, fps: int, width: int) -> np.ndarray:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = _moving_groups(state, action, spans)
    t = np.arange(len(state)) / fps
    fig, axes = plt.subplots(1, len(groups), figsize=(width / 100, STRIP_H / 100), dpi=100)
    for ax, (name, s) in zip(np.atleast_1d(axes), groups, strict=True):
        for j in range(s.start, s.stop):
            (line,) = ax.plot(t, state[:, j], lw=1)
            ax.plot(t, action[:, j], lw=1, ls="--", color=line.get_color())
        ax.set_title(f"{name}: state -, action --", fontsize=8)
        ax.tick_params(labelsize=6)
        ax.set_xlim(t[0], max(t[-1], 1e-3))
    fig.tight_layout(pad=0.4)
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return img, [ax.get_position() for ax in np.atleast_1d(axes)], t[-1] if len(t) else 0.0


def render_episode(ds: Dataset, index: int, out: Path) -> Path:
    from PIL import Image, ImageDraw

    from envs.rendering.media import VideoWriter

    ep = ds.episode(index)
    cols = ds.columns(index)
    cams = [read_frames(ds.video_path(index, k)) for k in ds.video_keys]
    n = ep["length"]
    panels_w = sum(int(c.shape[2] * PANEL_H / c.shape[1]) for c in cams) if cams else 512
    width = max(panels_w, 512) // 8 * 8
    strip, boxes, t_end = _strip(cols[fmt.STATE], cols[fmt.ACTION], _spans(ds), ds.fps, width)
    strip = np.asarray(Image.fromarray(strip).resize((width, STRIP_H)))
    success = ep.get("success")
    title = f"{ep['tasks'][0]}   [{ep.get('task_name', '')} seed {ep.get('seed', '?')}, success {success}]"
    with VideoWriter(out, fps=ds.fps) as w:
        for k in range(n):
            canvas = Image.new("RGB", (width, TITLE_H + PANEL_H + STRIP_H), (20, 20, 20))
            x = 0
            for c in cams:
                frame = Image.fromarray(c[min(k, len(c) - 1)])
                pw = int(frame.width * PANEL_H / frame.height)
                canvas.paste(frame.resize((pw, PANEL_H), Image.NEAREST), (x, TITLE_H))
                x += pw
            canvas.paste(Image.fromarray(strip), (0, TITLE_H + PANEL_H))
            d = ImageDraw.Draw(canvas)
            d.text((6, 7), f"{title}   t={k / ds.fps:5.2f} s", fill=(240, 240, 240))
            for box in boxes:  # the cursor at this frame's time on every plot
                frac = (k / ds.fps) / t_end if t_end > 0 else 0.0
                cx = int((box.x0 + frac * box.width) * width)
                top = TITLE_H + PANEL_H + int((1 - box.y1) * STRIP_H)
                bottom = TITLE_H + PANEL_H + int((1 - box.y0) * STRIP_H)
                d.line([(cx, top), (cx, bottom)], fill=(220, 30, 30), width=1)
            w.append(np.asarray(canvas))
    return Path(out)
