"""Adapters: each shipped model seen as a `Signal` (see service/signals.py).

An adapter turns posts into its model's input, calls the model's batch method
once, and turns the model's answer into a CheckSignal per check. Loading reads
the artifact in models/<name>/artifact/ and raises FileNotFoundError when the
model has not shipped, which leaves its checks "model not installed".
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .schemas import Post
from .signals import CheckSignal

__all__ = ["load_text_signal", "load_views_signal", "load_watermark_signal"]


class ViewsSignal:
    name = "views"
    checks = ("organic_views",)

    def __init__(self, model) -> None:
        self.model = model
        self.version = model.version

    def score_posts(self, posts: Sequence[Post], media_paths) -> list[dict[str, CheckSignal]]:
        items = [
            {
                "views": p.views,
                "view_history": [list(pt) for pt in p.view_history] if p.view_history is not None else None,
                "engagement": p.engagement.model_dump() if p.engagement is not None else None,
                "follower_count": p.author.follower_count,
            }
            for p in posts
        ]
        return [
            {"organic_views": CheckSignal(score=s.probability, evidence=tuple(s.evidence), skipped=s.skipped)}
            for s in self.model.score_posts(items)
        ]


class TextSignal:
    name = "text"
    checks = ("no_branded_content", "no_copyrighted_content")

    def __init__(self, model) -> None:
        self.model = model
        self.version = model.version

    def score_posts(self, posts: Sequence[Post], media_paths) -> list[dict[str, CheckSignal]]:
        scores = self.model.score_texts([p.text or "" for p in posts])
        out = []
        for s in scores:
            spans = {check: tuple(sp for sp in s.spans if sp.get("check") == check) for check in self.checks}
            out.append(
                {
                    "no_branded_content": CheckSignal(score=s.branded, evidence=spans["no_branded_content"]),
                    "no_copyrighted_content": CheckSignal(score=s.copyright, evidence=spans["no_copyrighted_content"]),
                }
            )
        return out


class WatermarkSignal:
    """Scores every media item of every post in the batch; a post's score is its worst item.

    All items' frames go through the detector in one call, so when BentoML merges concurrent
    requests into one batch, their frames share the CNN's forward passes.
    """

    name = "watermark"
    checks = ("no_platform_watermark",)
    # media items sampled and scored together: enough to fill the CNN's batches, few enough that
    # their decoded frames (about 1.5 MB each at 720p, kept for OCR) stay small in memory
    MEDIA_PER_CHUNK = 32

    def __init__(self, detector, sample_frames, media_error) -> None:
        self.detector = detector
        self.version = detector.version
        self._sample_frames = sample_frames
        self._media_error = media_error

    def _sample(self, post: Post, paths: Sequence[Path]) -> list:
        """One entry per media item: its SampledFrames, or {"media": i, "error": ...} when unreadable."""
        out = []
        for index, (item, path) in enumerate(zip(post.media, paths)):
            try:
                out.append(self._sample_frames(path, item.type, size=self.detector.input_size))
            except self._media_error as exc:
                out.append({"media": index, "error": exc.message})
        return out

    @staticmethod
    def _post_signal(sampled: list, scores: dict[int, object]) -> CheckSignal:
        best, evidence = 0.0, []
        unreadable = [s for s in sampled if isinstance(s, dict)]
        for index, score in scores.items():
            best = max(best, score.probability)
            if score.platform != "none":
                evidence.extend({"media": index, **ev} for ev in score.evidence)
        if unreadable and len(unreadable) == len(sampled):
            # Nothing could be looked at: the check could not run, so the policy holds the post for review.
            return CheckSignal(skipped="; ".join(f"media[{u['media']}]: {u['error']}" for u in unreadable), blocking=True)
        partly = "; ".join(f"media[{u['media']}] could not be read: {u['error']}" for u in unreadable) or None
        return CheckSignal(score=best, evidence=tuple(evidence + unreadable), skipped=partly, blocking=bool(unreadable))

    def score_posts(self, posts: Sequence[Post], media_paths) -> list[dict[str, CheckSignal]]:
        out: list[dict[str, CheckSignal]] = []
        start = 0
        while start < len(posts):  # chunks of about MEDIA_PER_CHUNK media items bound the decoded frames held at once
            end, n_media = start, 0
            while end < len(posts) and (end == start or n_media + len(posts[end].media) <= self.MEDIA_PER_CHUNK):
                n_media += len(posts[end].media)
                end += 1
            out += self._score_chunk(posts[start:end], media_paths[start:end])
            start = end
        return out

    def _score_chunk(self, posts: Sequence[Post], media_paths) -> list[dict[str, CheckSignal]]:
        sampled = [self._sample(p, paths) for p, paths in zip(posts, media_paths)]
        readable = [(n, i) for n, items in enumerate(sampled) for i, s in enumerate(items) if not isinstance(s, dict)]
        media_scores = self.detector.score_media_batch([sampled[n][i] for n, i in readable])
        per_post: list[dict[int, object]] = [{} for _ in posts]
        for (n, i), score in zip(readable, media_scores):
            per_post[n][i] = score
        return [{"no_platform_watermark": self._post_signal(items, scores)} for items, scores in zip(sampled, per_post)]


def load_views_signal(models_dir: Path) -> ViewsSignal:
    from models.views import load

    return ViewsSignal(load(Path(models_dir) / "views" / "artifact"))


def load_text_signal(models_dir: Path) -> TextSignal:
    from models.text import load

    return TextSignal(load(Path(models_dir) / "text" / "artifact"))


def load_watermark_signal(models_dir: Path) -> WatermarkSignal:
    from models.watermark import load

    from .frames import MediaError, sample_frames

    return WatermarkSignal(load(Path(models_dir) / "watermark" / "artifact"), sample_frames, MediaError)

