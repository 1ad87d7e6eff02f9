"""GR00T's message encoding: msgpack, numpy arrays as ``np.save`` bytes (no pickle), and ModalityConfig.

The two releases differ only in how a ModalityConfig travels: N1.5 sends ``as_json`` as a JSON *string*
(pydantic ``model_dump_json``, keys with their ``video.``/``state.``/``action.`` prefix), N1.6 as a *dict*
(dataclass fields, enums by name, keys without prefix). Which one a server sent tells its version.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import msgpack
import numpy as np

Version = Literal["n1.5", "n1.6"]
VERSIONS: tuple[Version, ...] = ("n1.5", "n1.6")

_NDARRAY = "__ndarray_class__"
_MODALITY = "__ModalityConfig_class__"


@dataclass
class ModalityConfig:
    """One modality's sampling as a GR00T server describes it. ``version`` is how it came over the wire."""

    delta_indices: list[int]
    modality_keys: list[str]
    version: Version = "n1.6"
    action_configs: list[dict[str, Any]] | None = None  # N1.6: rep (RELATIVE/ABSOLUTE/DELTA), type, format
    extra: dict[str, Any] = field(default_factory=dict)  # fields this client does not use, kept for echo

    def to_wire(self) -> dict[str, Any]:
        if self.version == "n1.5":
            body = {"delta_indices": self.delta_indices, "modality_keys": self.modality_keys}
            return {_MODALITY: True, "as_json": json.dumps(body)}
        body = {
            "delta_indices": self.delta_indices,
            "modality_keys": self.modality_keys,
            "sin_cos_embedding_keys": None,
            "mean_std_embedding_keys": None,
            "action_configs": self.action_configs,
        } | self.extra
        return {_MODALITY: True, "as_json": body}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> ModalityConfig:
        raw = obj.get("as_json")
        version: Version = "n1.5" if isinstance(raw, str) else "n1.6"
        body = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
        if not isinstance(body, dict) or "modality_keys" not in body:
            raise ValueError(f"a ModalityConfig without modality_keys: {str(raw)[:200]}")
        known = {"delta_indices", "modality_keys", "action_configs"}
        return cls(
            delta_indices=[int(i) for i in body.get("delta_indices") or []],
            modality_keys=[str(k) for k in body["modality_keys"]],
            version=version,
            action_configs=body.get("action_configs"),
            extra={k: v for k, v in body.items() if k not in known},
        )


# The .npy format (version 1.0) as np.save writes it. numpy's own reader parses the header with a Python
# literal evaluator (~0.1-0.6 ms an array, and a request carries one array per key); plain arrays are
# read and written here directly, byte for byte what np.save writes, anything else goes through numpy.
_MAGIC = b"\x93NUMPY"
_HEADER = re.compile(
    r"\{'descr': '([<>|=][a-zA-Z]\d*)', 'fortran_order': (True|False), 'shape': \(([\d, ]*)\), \}"
)
_ALIGN = 64


def npy_bytes(arr: np.ndarray) -> bytes:
    """``np.save(..., allow_pickle=False)``'s bytes for ``arr``."""
    if arr.dtype.hasobject or arr.dtype.fields is not None or arr.dtype.subdtype is not None:
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)  # raises for object arrays: never pickled
        return buf.getvalue()
    fortran = arr.flags.f_contiguous and not arr.flags.c_contiguous
    header = f"{{'descr': {arr.dtype.str!r}, 'fortran_order': {fortran}, 'shape': {arr.shape!r}, }}"
    pad = _ALIGN - (len(_MAGIC) + 4 + len(header) + 1) % _ALIGN
    header += " " * (pad % _ALIGN) + "\n"
    data = arr.tobytes(order="F" if fortran else "C")
    return _MAGIC + b"\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin1") + data


def npy_array(data: bytes) -> np.ndarray:
    """The array in ``np.save`` bytes (never unpickles)."""
    if data[:6] == _MAGIC and data[6] == 1:
        n = int.from_bytes(data[8:10], "little")
        m = _HEADER.match(data[10 : 10 + n].decode("latin1"))
        dtype = np.dtype(m.group(1)) if m else None
        if m and dtype is not None and not dtype.hasobject:
            shape = tuple(int(x) for x in m.group(3).split(",") if x.strip())
            count = int(np.prod(shape, dtype=np.int64))
            flat = np.frombuffer(data, dtype, count=count, offset=10 + n)
            return flat.reshape(shape, order="F" if m.group(2) == "True" else "C").copy()
    return np.load(io.BytesIO(data), allow_pickle=False)


def _encode(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return {_NDARRAY: True, "as_npy": npy_bytes(obj)}
    if isinstance(obj, ModalityConfig):
        return obj.to_wire()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot send a {type(obj).__name__} over the GR00T wire")


def _decode(obj: dict[str, Any]) -> Any:
    if obj.get(_NDARRAY):
        return npy_array(obj["as_npy"])
    if obj.get(_MODALITY):
        return ModalityConfig.from_wire(obj)
    return obj


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, default=_encode, use_bin_type=True)


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, object_hook=_decode, raw=False, strict_map_key=False)
