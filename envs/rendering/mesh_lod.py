"""A cache of decimated copies of the robot's visual meshes, built on first use.

CPU rendering (Mesa llvmpipe) is bound by triangle count, not resolution: the G1's ~720k STL faces
render at ~5-14 frames/s, a 90% decimation at ~60 (sim-notes). Only visual geoms switch to the
decimated copies; collision geoms keep the original meshes, so physics is the same either way.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import mujoco
import numpy as np

DEFAULT_REDUCTION = 0.9
_VISUAL_GROUP = 2


def cache_dir() -> Path:
    root = os.environ.get("TANDEM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "tandem"
    )
    return Path(root) / "meshes"


def read_stl(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (deduplicated) and triangle indices of a binary or ASCII STL file."""
    raw = path.read_bytes()
    n = int(np.frombuffer(raw, np.uint32, 1, 80)[0]) if len(raw) >= 84 else 0
    if len(raw) == 84 + 50 * n:
        rec = np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
        tri = np.frombuffer(raw, rec, n, 84)["v"].reshape(-1, 3)
    else:
        words = raw.decode("ascii", "replace").split()
        tri = np.array(
            [
                [float(words[i + 1]), float(words[i + 2]), float(words[i + 3])]
                for i, w in enumerate(words)
                if w == "vertex"
            ],
            dtype=np.float32,
        )
    verts, idx = np.unique(tri.astype(np.float64), axis=0, return_inverse=True)
    return verts, idx.reshape(-1, 3).astype(np.int32)


def decimated(path: Path, reduction: float = DEFAULT_REDUCTION) -> tuple[np.ndarray, np.ndarray]:
    """Decimated (vertices, faces) of one mesh file, from the cache or made and cached now."""
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:16]
    out = cache_dir() / f"{path.stem}-{digest}-r{int(reduction * 100)}.npz"
    if out.exists():
        with np.load(out) as z:
            return z["verts"], z["faces"]
    import fast_simplification  # only needed the first time

    verts, faces = read_stl(path)
    if len(faces) > 200:
        verts, faces = fast_simplification.simplify(verts, faces, target_reduction=reduction)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, verts=np.asarray(verts, np.float64), faces=np.asarray(faces, np.int32))
    tmp.replace(out)  # atomic: parallel workers may build the same entry
    return np.asarray(verts, np.float64), np.asarray(faces, np.int32)


def use_decimated_visual_meshes(spec: mujoco.MjSpec, reduction: float = DEFAULT_REDUCTION) -> int:
    """Point every visual mesh geom at a decimated copy of its mesh; return how many meshes were swapped."""
    meshdir = Path(spec.modelfiledir) / spec.meshdir
    by_name = {m.name: m for m in spec.meshes}
    swapped: dict[str, str] = {}
    for geom in spec.geoms:
        if geom.type != mujoco.mjtGeom.mjGEOM_MESH or geom.group != _VISUAL_GROUP:
            continue
        src = by_name.get(geom.meshname)
        if src is None or not src.file:
            continue
        if geom.meshname not in swapped:
            verts, faces = decimated(meshdir / src.file, reduction)
            lod = spec.add_mesh(
                name=f"{geom.meshname}__lod", uservert=verts.ravel().tolist(), userface=faces.ravel().tolist()
            )
            lod.scale = src.scale
            swapped[geom.meshname] = lod.name
        geom.meshname = swapped[geom.meshname]
    return len(swapped)
