"""Media paths: resolved inside the caller's media root, never outside it.

A post names its media by a path relative to a root the caller configures
(--media-root, $BONUSCHECK_MEDIA_ROOT, or a per-request upload folder). The
path is refused when it is absolute, climbs out with "..", or reaches outside
through a symlink; a path that stays inside but names no file is
`media_not_found`. Messages never show server paths.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Sequence

from .schemas import MediaItem
from .signals import PostError

__all__ = ["MediaRoot", "resolve_media"]


class MediaRoot:
    """A folder that every media path must stay inside."""

    def __init__(self, root: str | os.PathLike[str] | None) -> None:
        self.root = Path(root).resolve() if root else None

    @classmethod
    def from_env(cls) -> MediaRoot:
        return cls(os.environ.get("BONUSCHECK_MEDIA_ROOT") or None)

    def resolve(self, index: int, item: MediaItem) -> Path:
        """The real file behind media[index].path; raises PostError naming the field."""
        field = f"media[{index}].path"
        rel = item.path
        if "\x00" in rel or "\\" in rel:
            raise PostError("invalid_media_path", f"{field}: expected a relative POSIX path, got {rel!r}")
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts:
            raise PostError("invalid_media_path", f"{field}: must stay inside the media root, got {rel!r}")
        if self.root is None:
            raise PostError(
                "media_not_found",
                f"{field}: no media root is configured (set BONUSCHECK_MEDIA_ROOT or --media-root), got {rel!r}",
            )
        real = (self.root / pure).resolve()
        if not real.is_relative_to(self.root):
            raise PostError("invalid_media_path", f"{field}: must stay inside the media root, got {rel!r}")
        if not real.is_file():
            raise PostError("media_not_found", f"{field}: no such file under the media root, got {rel!r}")
        return real


def resolve_media(root: MediaRoot, media: Sequence[MediaItem]) -> list[Path]:
    return [root.resolve(i, item) for i, item in enumerate(media)]
