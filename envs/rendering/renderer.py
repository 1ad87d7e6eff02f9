"""Offscreen renderers set up for speed on CPU (Mesa llvmpipe); the same setup is harmless on a GPU.

What costs what at 224x224 on one core (eval/bench/sim.py measures it; figures in the README):
- 4x multisampling (MuJoCo's default ``offsamples``) roughly halves the frame rate: llvmpipe shades
  every sample. ``antialias=False`` (the default) renders one sample per pixel; edges get jaggier.
- An infinite floor plane is drawn as a fixed 200 x 200 grid of quads (~80k triangles, as many as the
  decimated robot), lit per vertex. A finite plane as large as the far clip with 100 cells per side
  looks the same (the grid only carries per-vertex lighting) at a quarter of the vertices.
- Shadows, reflections and the skybox are off: each is another pass over the scene.
Fewer lights or no haze gain nothing measurable; decimating past 90% gains 15-40% but tears holes
into the hands and legs (white patches from 95%).
"""

from __future__ import annotations

import os

import mujoco

from envs.rendering.gl import rendering_error

# llvmpipe reads this once, when the first GL context of the process is made. 0 rasterizes in the
# calling thread: one core per renderer, no hand-off between threads (which stalls on a busy machine).
# Set LP_NUM_THREADS yourself to spread one renderer over several cores.
DEFAULT_LP_THREADS = "0"
FLOOR_CELLS = 100  # 2.6 m cells: coarser shows as flat floor lighting, finer as light bands
_OFF_FLAGS = (
    mujoco.mjtRndFlag.mjRND_SHADOW,
    mujoco.mjtRndFlag.mjRND_REFLECTION,
    mujoco.mjtRndFlag.mjRND_SKYBOX,
)


def lp_num_threads() -> str:
    """The LP_NUM_THREADS setting renderers made from now on use (``default`` if unset)."""
    return os.environ.get("LP_NUM_THREADS", "default")


def fast_renderer(model: mujoco.MjModel, width: int, height: int, antialias: bool = False) -> mujoco.Renderer:
    """A Renderer for ``model`` with the fast CPU setup; ``model`` is left as it was."""
    os.environ.setdefault("LP_NUM_THREADS", DEFAULT_LP_THREADS)
    planes = [
        i
        for i in range(model.ngeom)
        if model.geom_type[i] == mujoco.mjtGeom.mjGEOM_PLANE and min(model.geom_size[i, :2]) <= 0
    ]
    saved_sizes = model.geom_size[planes].copy()
    saved_samples = model.vis.quality.offsamples
    # Both are read only while the context is made (plane grids become display lists then), so they
    # are changed just for that; physics never sees them (planes collide as infinite whatever the size).
    half = 1.05 * model.vis.map.zfar * model.stat.extent  # the infinite plane's own rendered extent
    try:
        model.geom_size[planes] = [half, half, half / FLOOR_CELLS]
        model.vis.quality.offsamples = 4 if antialias else 0
        renderer = mujoco.Renderer(model, height=height, width=width)
    except ValueError:  # an image larger than the model's framebuffer: the caller's mistake
        raise
    except Exception as e:  # no GL context: GLFW without a display, EGL or OSMesa missing
        raise rendering_error(e) from e
    finally:
        model.geom_size[planes] = saved_sizes
        model.vis.quality.offsamples = saved_samples
    for flag in _OFF_FLAGS:
        renderer.scene.flags[flag] = False
    return renderer
