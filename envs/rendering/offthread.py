"""Frames of the simulator's state rendered on a thread of their own, so the control loop does not wait.

On CPU (llvmpipe) a 224 px frame takes 20-30 ms: a policy asking for one on the control thread stalls
the 50 Hz loop at every request. ``RenderThread.submit`` copies the MjData on the calling thread
(``mj_copyData``, ~0.3 ms for the G1 lab) and renders the copy on the render thread, which owns its
renderers (a GL context is current on the thread that made it). The model is shared, not copied (the
G1 lab's is 130 MB, and copying it holds the GIL for ~0.4 s): the render thread only reads it, and
the fields an env changes at run time for looks (liquid levels and colours, written by the control
thread) travel with the snapshot as ``GeomLook`` patches applied to the rendered scene.
The simulation is untouched: the render thread never sees the env's MjData, and of the model it
changes only what ``fast_renderer`` changes while it makes a context (the infinite planes' drawn size,
which collisions never read; tests/test_rendering.py steps the lab through that bit for bit).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import mujoco
import numpy as np

THREAD_NAME = "render"


@dataclass(frozen=True)
class GeomLook:
    """How one geom is drawn now, where the env changes its looks while running. The env also writes
    them into the model before submitting (a geom whose model alpha is 0 is left out of the scene), and
    the patch keeps a frame right when a later write lands while it is drawn."""

    geom: int
    size: np.ndarray  # (3,)
    local_pos: np.ndarray  # (3,) in its body's frame
    rgba: np.ndarray  # (4,)
    rbound: float

    def write(self, model: mujoco.MjModel) -> None:
        model.geom_size[self.geom] = self.size
        model.geom_pos[self.geom] = self.local_pos
        model.geom_rgba[self.geom] = self.rgba
        model.geom_rbound[self.geom] = self.rbound


class RenderThread:
    """Renders frames of ``model``'s state on one background thread.

    Args:
        model: the env's model (read-only here).
    """

    def __init__(self, model: mujoco.MjModel) -> None:
        self.model = model
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
        self._free: list[mujoco.MjData] = []  # snapshots not in use; several requests may be in flight
        self._free_lock = threading.Lock()
        self._renderers: dict[tuple[int, int, bool], mujoco.Renderer] = {}  # the render thread's own
        self._owner: dict[str, int] = {}  # the render thread's ident, once it has rendered
        # Renderers must be freed on their thread: their GL context is current there, and a Renderer
        # collected on another thread fails in __del__ (EGL_BAD_ACCESS), wherever the collection ran.
        # An env dropped without close() frees them on their thread too.
        self._finalizer = weakref.finalize(self, _free_on_thread, self._pool, self._renderers, self._owner)

    @classmethod
    def following(cls, current: RenderThread | None, model: mujoco.MjModel) -> RenderThread:
        """``current`` if it renders ``model``; else a new one (an env rebuilt its model on reset)."""
        if current is not None and current.model is model:
            return current
        if current is not None:
            current.close()
        return cls(model)

    def submit(
        self,
        data: mujoco.MjData,
        cameras: Sequence[str],
        width: int,
        height: int,
        antialias: bool = False,
        looks: Sequence[GeomLook] = (),
    ) -> Future[dict[str, np.ndarray]]:
        """Snapshot ``data`` now; the frames ``{camera: (height, width, 3) uint8}`` of that state come
        later. Call from the thread that steps ``data``."""
        with self._free_lock:
            snap = self._free.pop() if self._free else None
        if snap is None:
            snap = mujoco.MjData(self.model)
        mujoco.mj_copyData(snap, self.model, data)
        return self._pool.submit(self._render, snap, tuple(cameras), width, height, antialias, tuple(looks))

    def _render(
        self,
        snap: mujoco.MjData,
        cameras: tuple[str, ...],
        width: int,
        height: int,
        antialias: bool,
        looks: tuple[GeomLook, ...],
    ) -> dict[str, np.ndarray]:
        self._owner["ident"] = threading.get_ident()
        try:
            key = (width, height, antialias)
            renderer = self._renderers.get(key)
            if renderer is None:
                from envs.rendering.renderer import fast_renderer

                renderer = self._renderers[key] = fast_renderer(self.model, width, height, antialias)
            frames = {}
            for cam in cameras:
                renderer.update_scene(snap, camera=cam)
                apply_looks(renderer.scene, snap, self.model, looks)
                frames[cam] = renderer.render()
            return frames
        finally:
            with self._free_lock:
                self._free.append(snap)

    def close(self) -> None:
        """Free the renderers (on their own thread) and stop the thread."""
        self._finalizer()


def _free_on_thread(pool: ThreadPoolExecutor, renderers: dict, owner: dict[str, int]) -> None:
    def free() -> None:
        for r in renderers.values():
            r.close()
        renderers.clear()

    if owner.get("ident") == threading.get_ident():  # dropped by the render thread itself
        free()
    else:
        with contextlib.suppress(RuntimeError):  # the interpreter is exiting: its contexts go with it
            pool.submit(free).result()
    pool.shutdown(wait=False)


def apply_looks(scene: mujoco.MjvScene, data: mujoco.MjData, model: mujoco.MjModel, looks) -> None:
    """Draw ``looks`` into a scene made from ``data``: its geom positions come from the last physics
    step, which saw the model's looks of the render before."""
    if not looks:
        return
    by_geom = {look.geom: look for look in looks}
    for i in range(scene.ngeom):
        g = scene.geoms[i]
        if g.objtype != mujoco.mjtObj.mjOBJ_GEOM or g.objid not in by_geom:
            continue
        look = by_geom[g.objid]
        body = model.geom_bodyid[look.geom]
        g.size[:] = _drawn_size(model.geom_type[look.geom], look.size)
        g.rgba[:] = look.rgba
        g.pos[:] = data.xpos[body] + data.xmat[body].reshape(3, 3) @ look.local_pos


def _drawn_size(geom_type: int, size: np.ndarray) -> np.ndarray:
    """A model geom size as a scene geom carries it (a cylinder's (r, h) is drawn as (r, r, h))."""
    geom_type = int(geom_type)  # a numpy integer from the model never equals the enum
    if geom_type == int(mujoco.mjtGeom.mjGEOM_SPHERE):
        return np.array([size[0], size[0], size[0]])
    if geom_type in (int(mujoco.mjtGeom.mjGEOM_CAPSULE), int(mujoco.mjtGeom.mjGEOM_CYLINDER)):
        return np.array([size[0], size[0], size[1]])
    return np.asarray(size)
