"""``tandem dataset split`` and ``merge``: new datasets made of episodes of existing ones.

Episodes are re-indexed and re-committed through the writer (parquet rewritten, videos copied, stats
recomputed), so the results are datasets like any other: ``check`` passes, a rerun appends.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from eval.datasets import format as fmt
from eval.datasets.layout import layout_for_robot_type
from eval.datasets.reader import Dataset
from eval.datasets.writer import DatasetError, DatasetWriter, EpisodeData

_RECORD_KEYS = ("episode_index", "tasks", "length")


def _writer_for(ds: Dataset, out: Path) -> DatasetWriter:
    cams = [k.removeprefix(fmt.IMAGE_PREFIX) for k in ds.video_keys]
    size = ds.features[ds.video_keys[0]]["shape"][0] if cams else 0
    try:
        layout = layout_for_robot_type(ds.info.get("robot_type"), ds.root / fmt.INFO)
    except ValueError as e:
        raise DatasetError(str(e)) from None
    expected = fmt.features(layout, cams, size, ds.fps)
    if ds.features != expected:
        raise DatasetError(
            f"{ds.root / fmt.INFO}: features are not those `tandem collect` writes; cannot edit"
        )
    if (Path(out) / fmt.INFO).exists():
        raise DatasetError(f"{out}: already a dataset; split and merge write new folders")
    return DatasetWriter(out, layout, ds.fps, cams, size)


def copy_episodes(
    ds: Dataset, indices: Iterable[int], w: DatasetWriter, on_episode: Callable | None = None
) -> int:
    """Append episodes of ``ds`` to ``w`` in the given order; returns how many."""
    n = 0
    for i in indices:
        ep = ds.episode(i)
        cols = ds.columns(i)
        videos = {}
        for key in ds.video_keys:
            tmp = w.tmp / f"copy-{i}-{key}.mp4"
            shutil.copyfile(ds.video_path(i, key), tmp)
            videos[key] = tmp
        stats = next((s["stats"] for s in ds.stats if s["episode_index"] == i), {})
        w.add_episode(
            EpisodeData(
                instruction=ep["tasks"][0],
                state=cols[fmt.STATE],
                action=cols[fmt.ACTION],
                base_velocity=cols.get(fmt.BASE_VELOCITY),
                videos=videos,
                image_stats={k: stats[k] for k in ds.video_keys if k in stats},
                extras={k: v for k, v in ep.items() if k not in _RECORD_KEYS} | {"source": f"{ds.root}#{i}"},
            )
        )
        n += 1
        if on_episode:
            on_episode(i)
    return n


def select(ds: Dataset, tasks: list[str] | None, episodes: list[int] | None) -> list[int]:
    """Episodes whose task name or instruction is in ``tasks`` and/or whose index is in ``episodes``."""
    out = []
    for e in ds.episodes:
        i = e["episode_index"]
        by_task = tasks is not None and (e.get("task_name") in tasks or any(t in tasks for t in e["tasks"]))
        by_index = episodes is not None and i in episodes
        if by_task or by_index:
            out.append(i)
    known = {e.get("task_name") for e in ds.episodes} | {t for e in ds.episodes for t in e["tasks"]}
    missing = [t for t in tasks or [] if t not in known]
    if missing:
        raise DatasetError(
            f"{ds.root}: no episodes of task(s) {missing}; tasks: {sorted(filter(None, known))}"
        )
    bad = [i for i in episodes or [] if not 0 <= i < len(ds.episodes)]
    if bad:
        raise DatasetError(f"{ds.root}: no episode(s) {bad} (the dataset has {len(ds.episodes)})")
    return out


def split(
    src: Path,
    train: Path,
    held_out: Path,
    tasks: list[str] | None = None,
    episodes: list[int] | None = None,
    limit: int | None = None,
) -> tuple[int, int]:
    """Held-out = the selected episodes (the first ``limit`` of them); train = every other episode."""
    ds = Dataset.open(src)
    chosen = select(ds, tasks, episodes)
    if limit is not None:
        chosen = chosen[:limit]
    rest = [e["episode_index"] for e in ds.episodes if e["episode_index"] not in set(chosen)]
    w_test, w_train = _writer_for(ds, held_out), _writer_for(ds, train)
    n_test = copy_episodes(ds, chosen, w_test)
    n_train = copy_episodes(ds, rest, w_train)
    w_test.close()
    w_train.close()
    return n_train, n_test


def merge(sources: list[Path], out: Path) -> int:
    """One dataset with every episode of ``sources``, in order; they must have the same features and fps."""
    sets = [Dataset.open(s) for s in sources]
    first = sets[0]
    for ds in sets[1:]:
        if ds.fps != first.fps or ds.features != first.features:
            raise DatasetError(
                f"{ds.root / fmt.INFO}: features or fps differ from {first.root / fmt.INFO}; "
                "only datasets with the same features merge"
            )
    w = _writer_for(first, out)
    n = sum(copy_episodes(ds, range(len(ds.episodes)), w) for ds in sets)
    w.close()
    return n
