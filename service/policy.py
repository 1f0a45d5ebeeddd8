"""The program's thresholds, loaded from policy.yaml into a frozen, validated model.

Which file: an explicit path, else $BONUSCHECK_POLICY, else the policy.yaml
shipped at the repository root. Unknown keys are rejected by name so a typo in
a threshold never silently falls back to a default.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .schemas import CHECK_NAMES

__all__ = ["MODEL_CHECKS", "CheckPolicy", "Policy", "PolicyError", "ViewThresholds", "load_policy", "policy_file"]

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent.parent / "policy.yaml"
MODEL_CHECKS: tuple[str, ...] = ("organic_views", "no_branded_content", "no_copyrighted_content", "no_platform_watermark")

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)


class PolicyError(ValueError):
    """policy.yaml could not be read or breaks a rule; the message names the key."""


class ViewThresholds(BaseModel):
    model_config = _STRICT

    min_views: int = Field(ge=0, description="A post counts from this many views (inclusive).")
    high_tier_views: int = Field(ge=0, description="The high payout tier starts here (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> ViewThresholds:
        if self.high_tier_views < self.min_views:
            raise ValueError(
                f"expected high_tier_views >= min_views, got {self.high_tier_views} < {self.min_views}"
            )
        return self


class CheckPolicy(BaseModel):
    model_config = _STRICT

    fail_at: float = Field(gt=0.0, le=1.0, description="Scores at or above this fail the check.")
    review_at: float = Field(gt=0.0, le=1.0, description="Scores at or above this (and below fail_at) go to review.")
    required: bool = True
    review_when_no_input: bool = False

    @model_validator(mode="after")
    def _band(self) -> CheckPolicy:
        if self.review_at > self.fail_at:
            raise ValueError(f"expected review_at <= fail_at, got {self.review_at} > {self.fail_at}")
        return self

    def status_for(self, score: float) -> str:
        if score >= self.fail_at:
            return "fail"
        if score >= self.review_at:
            return "review"
        return "pass"


class Policy(BaseModel):
    model_config = _STRICT

    version: str = Field(min_length=1)
    views: ViewThresholds
    short_circuit: bool = True
    checks: dict[str, CheckPolicy]

    @model_validator(mode="after")
    def _every_model_check(self) -> Policy:
        missing = [name for name in MODEL_CHECKS if name not in self.checks]
        unknown = [name for name in self.checks if name not in MODEL_CHECKS]
        if missing or unknown:
            raise ValueError(
                f"expected exactly the model checks {list(MODEL_CHECKS)}, "
                f"got missing {missing} and unknown {unknown}"
            )
        return self

    def tier_for(self, views: int) -> str:
        if views >= self.views.high_tier_views:
            return "high"
        if views >= self.views.min_views:
            return "base"
        return "none"


def policy_file(path: str | os.PathLike[str] | None = None) -> Path:
    """Which policy file is meant: `path`, else $BONUSCHECK_POLICY, else the shipped policy.yaml."""
    return Path(path or os.environ.get("BONUSCHECK_POLICY") or DEFAULT_POLICY_PATH)


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """Read and validate a policy file; raises PolicyError naming the file and the key at fault."""
    path = policy_file(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"policy file {path}: cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy file {path}: not valid YAML ({exc})") from None
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyError(f"policy file {path}: {problems}") from None


assert set(MODEL_CHECKS) < set(CHECK_NAMES)
