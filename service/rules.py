"""The program's rules that need no model: cheap, exact, decided first.

Each rule returns a `Check` for one post. They read thresholds from the policy
and nothing else, so their boundaries (2,499 / 2,500) are tested directly.
"""

from __future__ import annotations

import re
import unicodedata

from .policy import Policy
from .schemas import Check, CheckStatus, Post

__all__ = ["RULE_CHECKS", "branded_label_rule", "has_meaningful_text", "run_rules"]

RULE_CHECKS: tuple[str, ...] = ("public_profile", "has_text", "min_views")

# What does not count as text: links and @mentions carry no words of the
# creator's own. Emoji, punctuation and whitespace are not letters or digits,
# so they fall out in has_meaningful_text. Hashtags do count: "#sunset" is a word.
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@[\w.]+")


def has_meaningful_text(text: str | None) -> bool:
    """True when, after removing URLs and @mentions, a letter or digit of any script remains."""
    if not text:
        return False
    rest = _MENTION.sub(" ", _URL.sub(" ", text))
    return any(unicodedata.category(ch)[0] in "LN" for ch in rest)


def _public_profile(post: Post) -> Check:
    if post.author.is_public:
        return Check(status=CheckStatus.passed)
    return Check(status=CheckStatus.fail, detail="the creator's profile is private")


def _has_text(post: Post) -> Check:
    if has_meaningful_text(post.text):
        return Check(status=CheckStatus.passed)
    return Check(
        status=CheckStatus.fail,
        detail="no text: absent, empty, or only whitespace, emoji, links and @mentions",
    )


def _min_views(post: Post, policy: Policy) -> Check:
    threshold = policy.views.min_views
    if post.views >= threshold:
        return Check(status=CheckStatus.passed, detail=f"{post.views} >= {threshold}")
    return Check(status=CheckStatus.fail, detail=f"{post.views} < {threshold}")


def branded_label_rule(post: Post) -> Check | None:
    """The platform's own paid-partnership flag fails no_branded_content without a model."""
    if post.paid_partnership_label:
        return Check(status=CheckStatus.fail, score=1.0, detail="paid_partnership_label is true")
    return None


def run_rules(post: Post, policy: Policy) -> dict[str, Check]:
    """The rule checks for one post, plus no_branded_content when the label already decides it."""
    checks = {
        "public_profile": _public_profile(post),
        "has_text": _has_text(post),
        "min_views": _min_views(post, policy),
    }
    label = branded_label_rule(post)
    if label is not None:
        checks["no_branded_content"] = label
    return checks
