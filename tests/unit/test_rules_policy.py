"""Rule checks at their boundaries, and policy validation errors."""

from __future__ import annotations

import pytest

from service.policy import PolicyError, load_policy
from service.rules import has_meaningful_text, run_rules
from service.schemas import Post

POLICY = load_policy()


def make_post(**overrides) -> Post:
    base = {"post_id": "p1", "author": {"id": "a", "is_public": True}, "text": "Sunset run", "views": 5000}
    base.update(overrides)
    return Post.model_validate(base)


@pytest.mark.parametrize(
    ("views", "status"), [(0, "fail"), (2499, "fail"), (2500, "pass"), (2501, "pass"), (10**9, "pass")]
)
def test_min_views_boundary(views, status):
    check = run_rules(make_post(views=views), POLICY)["min_views"]
    assert check.status.value == status
    assert check.detail == (f"{views} >= 2500" if status == "pass" else f"{views} < 2500")


@pytest.mark.parametrize(("views", "tier"), [(2499, "none"), (2500, "base"), (9999, "base"), (10000, "high")])
def test_tier_boundary(views, tier):
    assert POLICY.tier_for(views) == tier


def test_private_profile_fails():
    check = run_rules(make_post(author={"id": "a", "is_public": False}), POLICY)["public_profile"]
    assert check.status.value == "fail" and "private" in check.detail


@pytest.mark.parametrize(
    "text",
    [None, "", "   \n\t", "🔥🔥🔥", "😀 👍🏽 ❤️‍🔥", "https://example.com/x", "@someone @other.name", "@a https://t.co/x 🔥 !!!"],
)
def test_no_text(text):
    assert not has_meaningful_text(text)
    assert run_rules(make_post(text=text), POLICY)["has_text"].status.value == "fail"


@pytest.mark.parametrize("text", ["ok", "#sunset", "12 km", "日本語", "Привет", "🔥 great run 🔥", "@bob look at this"])
def test_has_text(text):
    assert has_meaningful_text(text)


def test_paid_partnership_label_fails_branded_check():
    checks = run_rules(make_post(paid_partnership_label=True), POLICY)
    assert checks["no_branded_content"].status.value == "fail"
    assert checks["no_branded_content"].detail == "paid_partnership_label is true"
    assert "no_branded_content" not in run_rules(make_post(), POLICY)


def write_policy(tmp_path, text: str):
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


SHIPPED = load_policy().model_dump()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.update(surprise=1), "surprise: Extra inputs are not permitted"),
        (lambda p: p["views"].update(min_views=-1), "views.min_views"),
        (lambda p: p["views"].update(high_tier_views=100), "high_tier_views >= min_views"),
        (lambda p: p["checks"]["organic_views"].update(review_at=0.9, fail_at=0.5), "review_at <= fail_at"),
        (lambda p: p["checks"]["organic_views"].update(fail_at="high"), "checks.organic_views.fail_at"),
        (lambda p: p["checks"].pop("no_platform_watermark"), "missing ['no_platform_watermark']"),
        (lambda p: p["checks"]["organic_views"].update(treshold=0.3), "checks.organic_views.treshold"),
    ],
)
def test_policy_errors_name_the_key(tmp_path, mutate, message):
    import copy

    import yaml

    raw = copy.deepcopy(SHIPPED)
    mutate(raw)
    with pytest.raises(PolicyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_policy(write_policy(tmp_path, yaml.safe_dump(raw)))


def test_policy_file_problems(tmp_path):
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(tmp_path / "absent.yaml")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(write_policy(tmp_path, "views: [unclosed"))


def test_policy_env_override(tmp_path, monkeypatch):
    import yaml

    raw = dict(SHIPPED, version="test-env")
    monkeypatch.setenv("BONUSCHECK_POLICY", str(write_policy(tmp_path, yaml.safe_dump(raw))))
    assert load_policy().version == "test-env"
