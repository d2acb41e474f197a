"""Noticing new objects in a bucket, robustly: by modification time, not by key order.

Keys are not written in order (hour folders, retries, several writers), objects can be replaced
under the same key, and S3 reports LastModified as the start of an upload, so an object can
appear with a time older than one already seen. The cursor therefore keeps a watermark and the
objects seen within a look-back window behind it; anything in the window that is not in `seen`
with the same modification time is new.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from lakehouse.storage import ObjectInfo

LOOKBACK_MS = 10 * 60 * 1000


@dataclass(frozen=True)
class ObjectCursor:
    watermark_ms: int = 0
    seen: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {"seen": dict(sorted(self.seen.items())), "watermark_ms": self.watermark_ms},
            separators=(",", ":"),
        )

    @staticmethod
    def from_json(text: str | None) -> ObjectCursor:
        if not text:
            return ObjectCursor()
        data = json.loads(text)
        return ObjectCursor(int(data["watermark_ms"]), {k: int(v) for k, v in data["seen"].items()})


def scan(
    objects: Iterable[ObjectInfo], cursor: ObjectCursor, lookback_ms: int = LOOKBACK_MS
) -> tuple[list[ObjectInfo], ObjectCursor]:
    """New or replaced objects since the cursor, and the cursor that remembers them."""
    horizon = cursor.watermark_ms - lookback_ms
    listed = [o for o in objects if o.last_modified_ms > horizon]
    new = [o for o in listed if cursor.seen.get(o.key) != o.last_modified_ms]
    watermark = max([cursor.watermark_ms, *(o.last_modified_ms for o in listed)])
    keep_after = watermark - lookback_ms
    seen = {o.key: o.last_modified_ms for o in listed if o.last_modified_ms > keep_after}
    return sorted(new, key=lambda o: (o.last_modified_ms, o.key)), ObjectCursor(watermark, seen)
