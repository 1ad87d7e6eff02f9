"""Which OpenGL backend MuJoCo renders offscreen with, chosen before MuJoCo is imported.

MuJoCo reads ``MUJOCO_GL`` once, when ``mujoco`` is first imported, and defaults to GLFW, which needs a
display: on a headless Linux box every render then dies in a GLFW traceback. So when the user has not
chosen, Linux gets EGL (GPU or Mesa) if its library is installed, else OSMesa (software). Imports no
MuJoCo, so entry points can call it first.
"""

from __future__ import annotations

import ctypes.util
import os
import sys

HINT = (
    "install an offscreen OpenGL backend: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri "
    "(MUJOCO_GL=egl), or libosmesa6 (MUJOCO_GL=osmesa); on a desktop, MUJOCO_GL=glfw"
)


class RenderingError(RuntimeError):
    """No OpenGL context could be made for offscreen rendering."""


def choose_gl_backend() -> str | None:
    """Set ``MUJOCO_GL`` to a backend that works without a display unless the user set it, or MuJoCo
    was imported already (too late to matter). Returns the backend in effect (None: MuJoCo's default)."""
    chosen = os.environ.get("MUJOCO_GL")
    if chosen is not None or not sys.platform.startswith("linux") or "mujoco" in sys.modules:
        return chosen
    for backend, library in (("egl", "EGL"), ("osmesa", "OSMesa")):
        if ctypes.util.find_library(library):
            os.environ["MUJOCO_GL"] = backend
            return backend
    return None


def rendering_error(err: BaseException) -> RenderingError:
    """A one-line error for a failed GL context, naming the backend tried and what to install."""
    backend = os.environ.get("MUJOCO_GL", "glfw (MuJoCo's default)")
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return RenderingError(f"cannot render offscreen with MUJOCO_GL={backend} ({first}); {HINT}")
