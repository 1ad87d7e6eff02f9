"""Offscreen rendering: decimated-mesh cache and a fast renderer setup for CPU, frames to PNG and MP4."""

from envs.rendering.gl import RenderingError, choose_gl_backend

choose_gl_backend()  # before the modules below import mujoco

from envs.rendering.media import VideoWriter, save_png  # noqa: E402
from envs.rendering.renderer import fast_renderer, lp_num_threads  # noqa: E402

__all__ = [
    "RenderingError",
    "VideoWriter",
    "choose_gl_backend",
    "fast_renderer",
    "lp_num_threads",
    "save_png",
]
