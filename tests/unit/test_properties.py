"""Property tests of Pipeline.evaluate: any JSON in, exactly one well-formed verdict out, by the contract's rules.

The pipeline is built without models, so the model checks are "model not
installed" and the decision comes from the rules alone: ineligible when a rule
fails, needs_review otherwise (the model checks are required).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from service.media import MediaRoot
from service.pipeline import Pipeline
from service.policy import DEFAULT_POLICY_PATH, MODEL_CHECKS, Policy, load_policy
from service.rules import has_meaningful_text
from service.schemas import CHECK_NAMES, Post, Verdict

POLICY = load_policy(DEFAULT_POLICY_PATH)
MEDIA_FILES = ("a.png", "clips/b.mp4")  # created in the media root by the fixture
MEDIA_CODES = {"invalid_media_path", "media_not_found"}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies -----------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
non_negative = st.integers(min_value=0, max_value=10**12) | st.sampled_from([0, 2499, 2500, 2501, 9999, 10_000, 10_001])
texts = st.none() | st.text(max_size=60) | st.sampled_from(
    ["", "   ", "🙂🔥", "https://x.co/a @bob", "#sunset", "Sunset run, 12 km", "@a 7", "日本語", "x" * 10_000]
)


@st.composite
def valid_posts(draw, post_id=None) -> dict:
    post = {
        "post_id": post_id or draw(st.text(min_size=1, max_size=128)),
        "author": {"id": draw(st.text(min_size=1, max_size=30)), "is_public": draw(st.booleans())},
        "views": draw(non_negative),
    }
    optional = {
        "text": texts,
        "media": st.lists(
            st.fixed_dictionaries({"type": st.sampled_from(["video", "image"]), "path": st.sampled_from(MEDIA_FILES)}),
            max_size=3,
        ),
        "view_history": st.none() | st.lists(st.tuples(st.integers(0, 10**6) | st.floats(0, 1e6), non_negative).map(list), max_size=4),
        "engagement": st.none() | st.fixed_dictionaries({}, optional={k: non_negative for k in ("likes", "replies", "reposts", "quotes")}),
        "paid_partnership_label": st.booleans(),
        "created_at": st.none() | st.just("2024-04-12T18:03:00Z"),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            post[key] = draw(strategy)
    if draw(st.booleans()):
        post["author"]["follower_count"] = draw(st.none() | non_negative)
    if draw(st.booleans()):
        post["client_label"] = draw(json_values)  # unlisted fields are ignored
    return post


FIELDS = (
    ("post_id",), ("author",), ("author", "id"), ("author", "is_public"), ("author", "follower_count"),
    ("text",), ("media",), ("media", 0), ("media", 0, "type"), ("media", 0, "path"), ("views",),
    ("view_history",), ("view_history", 0), ("engagement",), ("engagement", "likes"),
    ("paid_partnership_label",), ("created_at",),
)


@st.composite
def almost_posts(draw) -> dict:
    """A valid post with one field (maybe nested) replaced by any JSON value, or removed."""
    post = draw(valid_posts())
    path = draw(st.sampled_from(FIELDS))
    target = post
    for key in path[:-1]:
        if key == "media" and not target.get("media"):
            target["media"] = [{"type": "image", "path": MEDIA_FILES[0]}]
        if key == "view_history" and not target.get("view_history"):
            target["view_history"] = [[0, 0]]
        if key == "engagement" and not target.get("engagement"):
            target["engagement"] = {}
        target = target[key]
    last = path[-1]
    if isinstance(target, dict) and draw(st.booleans()):
        target.pop(last, None)
    else:
        target[last] = draw(json_values)
    return post


anything = json_values | almost_posts() | valid_posts()


# -- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Pipeline:
    root = tmp_path_factory.mktemp("media")
    for name in MEDIA_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"\x89PNG not really")
    return Pipeline(POLICY, {}, MediaRoot(root))


def parse(value) -> Post | None:
    try:
        return Post.model_validate(value)
    except ValidationError:
        return None


def expected_id(value) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("post_id"), str) and 1 <= len(value["post_id"]) <= 128:
        return value["post_id"]
    return None


def assert_well_formed(verdict: Verdict) -> None:
    assert isinstance(verdict, Verdict)
    assert Verdict.model_validate_json(verdict.model_dump_json()) == verdict  # serialisable, round-trips
    assert tuple(verdict.checks) == CHECK_NAMES
    for check in verdict.checks.values():
        if check.status.value == "skipped":
            assert check.detail
    assert (verdict.error is not None) == (verdict.decision.value == "error")
    if verdict.decision.value == "error":
        assert verdict.bonus_tier == "none"
        assert verdict.error.code and verdict.error.message
        assert "Traceback" not in verdict.error.message
    assert verdict.versions.policy == POLICY.version
    assert verdict.versions.models == {"views": None, "text": None, "watermark": None}


# -- (a) any JSON value: exactly one verdict, never an exception ---------------------------------


@SETTINGS
@given(value=anything)
def test_any_json_value_gives_one_well_formed_verdict(pipeline, value):
    json.dumps(value)  # the strategy only makes JSON values
    verdicts = pipeline.evaluate([value])
    assert len(verdicts) == 1
    verdict = verdicts[0]
    assert_well_formed(verdict)
    post = parse(value)
    if post is None:
        assert verdict.decision.value == "error"
        assert verdict.error.code == "invalid_post"
        assert verdict.post_id == expected_id(value)
    elif verdict.decision.value == "error":
        # A valid post errors only because of its media (paths the strategy did not take from MEDIA_FILES).
        assert post.media and verdict.error.code in MEDIA_CODES
        assert not all(item.path in MEDIA_FILES for item in post.media)
        assert verdict.error.message.startswith("media[")
    else:
        assert verdict.post_id == post.post_id


@SETTINGS
@given(value=almost_posts())
def test_error_iff_post_is_rejected(pipeline, value):
    verdict = pipeline.evaluate([value])[0]
    post = parse(value)
    media_ok = post is not None and all(item.path in MEDIA_FILES for item in post.media)
    if post is None:
        assert verdict.decision.value == "error" and verdict.error.code == "invalid_post"
    elif media_ok:
        assert verdict.decision.value != "error", verdict.error


# -- (b) valid posts: the contract's decision and tier rules -------------------------------------


@st.composite
def policies(draw) -> Policy:
    low = draw(st.integers(0, 20_000))
    high = draw(st.integers(low, 40_000))
    raw = POLICY.model_dump()
    raw["views"] = {"min_views": low, "high_tier_views": high}
    raw["short_circuit"] = draw(st.booleans())
    return Policy.model_validate(raw)


@SETTINGS
@given(post=valid_posts(), policy=st.just(POLICY) | policies())
def test_decision_follows_the_contract(pipeline, post, policy):
    pipe = Pipeline(policy, {}, pipeline.media_root)
    verdict = pipe.evaluate([post])[0]
    assert_well_formed(verdict)
    assert verdict.post_id == post["post_id"]
    statuses = {name: check.status.value for name, check in verdict.checks.items()}

    public = post["author"]["is_public"]
    texty = has_meaningful_text(post.get("text"))
    enough = post["views"] >= policy.views.min_views
    label = post.get("paid_partnership_label", False)
    assert statuses["public_profile"] == ("pass" if public else "fail")
    assert statuses["has_text"] == ("pass" if texty else "fail")
    assert statuses["min_views"] == ("pass" if enough else "fail")
    op = ">=" if enough else "<"
    assert verdict.checks["min_views"].detail == f"{post['views']} {op} {policy.views.min_views}"
    if label:
        assert statuses["no_branded_content"] == "fail"

    rule_failed = not (public and texty and enough) or label
    assert ("fail" in statuses.values()) == rule_failed
    if rule_failed:
        assert verdict.decision.value == "ineligible"
        assert verdict.bonus_tier == "none"
        if policy.short_circuit and not (public and texty and enough):
            for name in MODEL_CHECKS:
                if not (label and name == "no_branded_content"):
                    assert statuses[name] == "skipped"
                    assert verdict.checks[name].detail.startswith("not needed: ")
    else:
        # No models: the required model checks could not run, so the post waits for review.
        assert verdict.decision.value == "needs_review"
        assert "skipped" in statuses.values()
        views = post["views"]
        want = "high" if views >= policy.views.high_tier_views else "base" if views >= policy.views.min_views else "none"
        assert verdict.bonus_tier == want
    assert verdict.decision.value != "eligible"  # never without the models


@SETTINGS
@given(views=non_negative)
def test_tier_thresholds_of_the_shipped_policy(pipeline, views):
    post = {"post_id": "t", "author": {"id": "a", "is_public": True}, "text": "Sunset run", "views": views}
    verdict = pipeline.evaluate([post])[0]
    if views < 2500:
        assert (verdict.decision.value, verdict.bonus_tier) == ("ineligible", "none")
    else:
        assert verdict.bonus_tier == ("high" if views >= 10_000 else "base")


# -- (c) batches: order, ids, and batch == one by one -------------------------------------------


@settings(SETTINGS, max_examples=60)
@given(values=st.lists(anything, max_size=12))
def test_batch_keeps_order_and_matches_single_calls(pipeline, values):
    verdicts = pipeline.evaluate(values)
    assert len(verdicts) == len(values)
    for value, verdict in zip(values, verdicts):
        assert_well_formed(verdict)
        post = parse(value)
        assert verdict.post_id == (post.post_id if post is not None else expected_id(value))
        assert verdict == pipeline.evaluate([value])[0]  # batching changes nothing
    assert pipeline.evaluate(values) == verdicts  # deterministic


def test_empty_batch(pipeline):
    assert pipeline.evaluate([]) == []
