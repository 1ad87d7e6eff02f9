"""Offscreen rendering: decimated-mesh cache for fast CPU rendering, frames to PNG and MP4."""

from envs.rendering.media import VideoWriter, save_png

__all__ = ["VideoWriter", "save_png"]
