"""Noticing new objects in a bucket, robustly: by modification time, not by key order.

Keys are not written in order (hour folders, retries, several writers), objects can be replaced
under the same key, and S3 reports LastModified as the start of an upload, so an object can
appear with a time older than one already seen. The cursor therefore keeps a watermark and the
objects seen within a look-back window behind it; anything in the window that is not in `seen`
at the same version is new.

An object's version is its modification time, or (with `with_size`) its modification time and
size: S3 listings have one-second resolution, so a writer that may replace an object within
the same second (the CDC capture rewriting an uncommitted object with more records) needs the
size to tell the versions apart. A replacement of the same size within the same second is not
seen. `limit` hands on at most that many objects per scan, oldest first, and `pick` hands on the
ones it picks from the new objects; the rest stay new for the next scan.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lakehouse.storage import ObjectInfo

LOOKBACK_MS = 10 * 60 * 1000

Version = int | tuple[int, int]  # last_modified_ms, or (last_modified_ms, size)


@dataclass(frozen=True)
class ObjectCursor:
    watermark_ms: int = 0
    seen: dict[str, Version] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {"seen": dict(sorted(self.seen.items())), "watermark_ms": self.watermark_ms},
            separators=(",", ":"),
        )

    @staticmethod
    def from_json(text: str | None) -> ObjectCursor:
        if not text:
            return ObjectCursor()
        try:
            data = json.loads(text)
            seen = {
                k: int(v) if isinstance(v, int) else (int(v[0]), int(v[1]))
                for k, v in data["seen"].items()
            }
            return ObjectCursor(int(data["watermark_ms"]), seen)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            raise ValueError(f"not an object cursor ({e!r}): {text[:200]!r}") from None


def version_of(o: ObjectInfo, with_size: bool) -> Version:
    return (o.last_modified_ms, o.size) if with_size else o.last_modified_ms


def scan(
    objects: Iterable[ObjectInfo],
    cursor: ObjectCursor,
    lookback_ms: int = LOOKBACK_MS,
    *,
    with_size: bool = False,
    limit: int | None = None,
    pick: Callable[[list[ObjectInfo]], list[ObjectInfo]] | None = None,
) -> tuple[list[ObjectInfo], ObjectCursor]:
    """New or replaced objects since the cursor (oldest first, at most `limit`, those `pick`
    picks), and the cursor that remembers them."""
    horizon = cursor.watermark_ms - lookback_ms
    listed = [o for o in objects if o.last_modified_ms > horizon]
    new = sorted(
        (o for o in listed if cursor.seen.get(o.key) != version_of(o, with_size)),
        key=lambda o: (o.last_modified_ms, o.key),
    )
    handed = new[:limit] if limit is not None else new
    if pick is not None:
        handed = pick(handed)
    keys = {o.key for o in handed}
    held = {o.key: o.last_modified_ms for o in new if o.key not in keys}
    new = [o for o in new if o.key in keys]
    # Held objects must not fall behind the look-back before they are handed on: the watermark
    # moves at most up to the oldest of them (and catches up with objects handed on meanwhile).
    newest = max([cursor.watermark_ms, *(o.last_modified_ms for o in listed if o.key not in held)])
    watermark = max(cursor.watermark_ms, min([newest, *held.values()]))
    keep_after = watermark - lookback_ms
    seen = {
        o.key: version_of(o, with_size)
        for o in listed
        if o.last_modified_ms > keep_after and o.key not in held
    }
    return new, ObjectCursor(watermark, seen)
