"""Decision assembly, score bands, short-circuiting and media-root safety in the pipeline."""

from __future__ import annotations

import itertools
import os

import pytest

from service.media import MediaRoot
from service.pipeline import Pipeline, _Outcome, decide
from service.policy import load_policy
from service.schemas import CHECK_NAMES, Check, CheckStatus, Verdict
from service.signals import CheckSignal

POLICY = load_policy()
GOOD = {"post_id": "p1", "author": {"id": "a", "is_public": True}, "text": "Sunset run", "views": 12840}


@pytest.fixture
def pipeline(tmp_path) -> Pipeline:
    return Pipeline(POLICY, {}, MediaRoot(tmp_path))


def outcome(status: str, blocking: bool = False) -> _Outcome:
    return _Outcome(Check(status=status, detail="x" if status == "skipped" else None), blocking)


@pytest.mark.parametrize("statuses", list(itertools.product(["pass", "fail", "review", "skipped"], repeat=3)))
@pytest.mark.parametrize("blocking", [False, True])
def test_decide_every_combination(statuses, blocking):
    outcomes = {f"c{i}": outcome(s, blocking and s == "skipped") for i, s in enumerate(statuses)}
    got = decide(outcomes).value
    if "fail" in statuses:
        assert got == "ineligible"
    elif "review" in statuses or (blocking and "skipped" in statuses):
        assert got == "needs_review"
    else:
        assert got == "eligible"


@pytest.mark.parametrize(
    ("score", "status"), [(0.0, "pass"), (0.4999, "pass"), (0.5, "review"), (0.8499, "review"), (0.85, "fail"), (1.0, "fail")]
)
def test_score_bands(tmp_path, score, status):
    band = POLICY.checks["organic_views"].model_copy(update={"fail_at": 0.85, "review_at": 0.5})
    policy = POLICY.model_copy(update={"checks": {**POLICY.checks, "organic_views": band}})
    out = Pipeline(policy, {}, MediaRoot(tmp_path))._check_from_signal("organic_views", CheckSignal(score=score, evidence=({"feature": "burst"},)))
    assert out.check.status.value == status
    assert out.check.evidence == [{"feature": "burst"}]
    assert (out.check.detail is None) == (status == "pass")


def test_partial_look_goes_to_review_unless_it_already_fails(pipeline):
    partial = CheckSignal(score=0.01, skipped="media[1] could not be read: truncated", blocking=True)
    out = pipeline._check_from_signal("no_platform_watermark", partial)
    assert out.check.status.value == "review" and "media[1] could not be read" in out.check.detail
    sure = CheckSignal(score=0.99, skipped="media[1] could not be read: truncated", blocking=True)
    assert pipeline._check_from_signal("no_platform_watermark", sure).check.status.value == "fail"


def test_skipped_signal_blocks_only_when_required_or_asked(pipeline):
    assert pipeline._check_from_signal("organic_views", CheckSignal(skipped="unreadable", blocking=True)).blocking
    assert not pipeline._check_from_signal("organic_views", CheckSignal(skipped="no view history")).blocking


def test_models_absent_never_eligible(pipeline):
    (verdict,) = pipeline.evaluate([GOOD])
    assert verdict.decision.value == "needs_review"
    assert verdict.bonus_tier == "high"
    assert list(verdict.checks) == list(CHECK_NAMES)
    for name in ("organic_views", "no_branded_content", "no_copyrighted_content"):
        assert verdict.checks[name].status is CheckStatus.skipped
        assert verdict.checks[name].detail == "model not installed"
        assert verdict.checks[name].score is None
    assert verdict.checks["no_platform_watermark"].detail == "no media"
    assert verdict.versions.models == {"views": None, "text": None, "watermark": None}
    assert verdict.versions.policy == POLICY.version


def test_failed_rule_short_circuits(pipeline):
    (verdict,) = pipeline.evaluate([dict(GOOD, views=2499, author={"id": "a", "is_public": False})])
    assert verdict.decision.value == "ineligible" and verdict.bonus_tier == "none"
    assert verdict.checks["organic_views"].detail == "not needed: public_profile, min_views failed"


def test_without_short_circuit_models_are_still_asked(tmp_path):
    policy = POLICY.model_copy(update={"short_circuit": False})
    (verdict,) = Pipeline(policy, {}, MediaRoot(tmp_path)).evaluate([dict(GOOD, views=10)])
    assert verdict.decision.value == "ineligible"
    assert verdict.checks["organic_views"].detail == "model not installed"


def test_label_decides_branded_without_model(pipeline):
    (verdict,) = pipeline.evaluate([dict(GOOD, paid_partnership_label=True)])
    assert verdict.decision.value == "ineligible"
    assert verdict.checks["no_branded_content"].status is CheckStatus.fail
    assert verdict.checks["no_copyrighted_content"].detail.startswith("not needed")


def test_bad_posts_become_errors_and_neighbours_are_scored(pipeline):
    items = [GOOD, {"post_id": "bad", "views": -1}, "nonsense", dict(GOOD, post_id="p2")]
    verdicts = pipeline.evaluate(items)
    assert [v.post_id for v in verdicts] == ["p1", "bad", None, "p2"]
    assert [v.decision.value for v in verdicts] == ["needs_review", "error", "error", "needs_review"]
    assert verdicts[1].error.code == "invalid_post"
    assert "views: expected >= 0, got -1" in verdicts[1].error.message
    assert "author: required field is missing" in verdicts[1].error.message
    assert verdicts[2].error.message == "post: expected a JSON object, got string"
    for v in verdicts[1:3]:
        assert v.bonus_tier == "none" and list(v.checks) == list(CHECK_NAMES)
        Verdict.model_validate(v.model_dump())


def test_empty_batch(pipeline):
    assert pipeline.evaluate([]) == []


def with_media(path: str) -> dict:
    return dict(GOOD, media=[{"type": "video", "path": path}])


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("../outside.mp4", "invalid_media_path"),
        ("a/../../outside.mp4", "invalid_media_path"),
        ("/etc/passwd", "invalid_media_path"),
        ("a\\..\\b.mp4", "invalid_media_path"),
        ("missing.mp4", "media_not_found"),
        ("sub", "media_not_found"),  # a folder is not a media file
    ],
)
def test_media_paths_stay_inside_root(pipeline, tmp_path, path, code):
    (tmp_path / "sub").mkdir()
    (verdict,) = pipeline.evaluate([with_media(path)])
    assert verdict.decision.value == "error"
    assert verdict.error.code == code
    assert str(tmp_path) not in verdict.error.message  # never show server paths


def test_symlink_escaping_root_is_refused(pipeline, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-outside.mp4"
    outside.write_bytes(b"x")
    os.symlink(outside, tmp_path / "link.mp4")
    (verdict,) = pipeline.evaluate([with_media("link.mp4")])
    assert verdict.error.code == "invalid_media_path"


def test_media_inside_root_resolves(pipeline, tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.mp4").write_bytes(b"x")
    os.symlink(tmp_path / "clips" / "a.mp4", tmp_path / "inner-link.mp4")
    for path in ("clips/a.mp4", "./clips/a.mp4", "inner-link.mp4"):
        (verdict,) = pipeline.evaluate([with_media(path)])
        assert verdict.decision.value != "error", verdict.error


def test_no_media_root_configured():
    (verdict,) = Pipeline(POLICY, {}, MediaRoot(None)).evaluate([with_media("a.mp4")])
    assert verdict.error.code == "media_not_found"
    assert "BONUSCHECK_MEDIA_ROOT" in verdict.error.message


def test_unreadable_media_never_passes_with_the_shipped_watermark_model(tmp_path):
    """Real files through the real sampler and detector: an unreadable item holds the post for review."""
    import cv2
    import numpy as np

    gradient = np.tile(np.linspace(0, 255, 320, dtype=np.uint8)[None, :, None], (240, 1, 3))
    cv2.imwrite(str(tmp_path / "ok.png"), gradient)
    (tmp_path / "fake.jpg").write_text("this is not an image")
    pipeline = Pipeline.load(only_models=["watermark"], media_root=tmp_path)
    both = dict(GOOD, media=[{"type": "image", "path": "ok.png"}, {"type": "image", "path": "fake.jpg"}])
    only_bad = dict(GOOD, post_id="p2", media=[{"type": "image", "path": "fake.jpg"}])
    v_both, v_bad = pipeline.evaluate([both, only_bad])
    assert v_both.decision.value != "eligible"
    assert any(ev.get("media") == 1 and "error" in ev for ev in v_both.checks["no_platform_watermark"].evidence)
    check = v_bad.checks["no_platform_watermark"]
    assert check.status is CheckStatus.skipped and check.detail.startswith("media[0]: ")
    assert v_bad.decision.value == "needs_review"


def test_watermark_batch_equals_posts_scored_alone(tmp_path):
    """The watermark signal runs every media item of a batch through one CNN call: each post's
    check must come out exactly as when the post is scored alone (mixed images, a real H.264
    clip and an unreadable file)."""
    import av
    import cv2
    import numpy as np

    rng = np.random.default_rng(3)
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), cv2.GaussianBlur(rng.integers(0, 255, (300, 240, 3), dtype=np.uint8), (7, 7), 2))
    with av.open(str(tmp_path / "clip.mp4"), "w") as out:
        vs = out.add_stream("libx264", rate=10, options={"crf": "28", "preset": "ultrafast"})
        vs.width, vs.height, vs.pix_fmt = 160, 288, "yuv420p"
        for i in range(30):
            frame = np.full((288, 160, 3), (i * 8) % 256, np.uint8)
            for pkt in vs.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
    (tmp_path / "bad.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    media = [
        [{"type": "image", "path": "img0.png"}, {"type": "video", "path": "clip.mp4"}],
        [{"type": "video", "path": "bad.mp4"}],
        [{"type": "image", "path": "img1.png"}, {"type": "video", "path": "bad.mp4"}, {"type": "image", "path": "img2.png"}],
    ]
    posts = [dict(GOOD, post_id=f"p{i}", media=m) for i, m in enumerate(media)]
    pipeline = Pipeline.load(only_models=["watermark"], media_root=tmp_path)
    together = pipeline.evaluate(posts)
    alone = [pipeline.evaluate([p])[0] for p in posts]
    pipeline.signals["watermark"].MEDIA_PER_CHUNK = 2  # chunk boundaries inside the batch
    chunked = pipeline.evaluate(posts)
    for a, b, c in zip(together, alone, chunked):
        assert a.checks["no_platform_watermark"] == b.checks["no_platform_watermark"] == c.checks["no_platform_watermark"]
    assert together[1].checks["no_platform_watermark"].status is CheckStatus.skipped
    assert any(ev.get("media") == 1 and "error" in ev for ev in together[2].checks["no_platform_watermark"].evidence)
