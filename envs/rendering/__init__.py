"""Offscreen rendering: decimated-mesh cache and a fast renderer setup for CPU, frames to PNG and MP4."""

from envs.rendering.media import VideoWriter, save_png
from envs.rendering.renderer import fast_renderer, lp_num_threads

__all__ = ["VideoWriter", "fast_renderer", "lp_num_threads", "save_png"]
