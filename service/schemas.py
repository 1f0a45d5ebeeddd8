"""The contract: Post (input) and Verdict (output), as pydantic v2 models.

These models mirror docs/contract.md field for field. Every front (HTTP, CLI,
Spark) validates with them, so a rule about a field lives here and nowhere else.

Listed fields are validated strictly (a string is not a number, a number is not
a bool); unlisted fields are ignored so clients can carry their own metadata.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

__all__ = [
    "CHECK_NAMES",
    "Author",
    "Check",
    "CheckStatus",
    "Decision",
    "Engagement",
    "MediaItem",
    "Post",
    "Verdict",
    "VerdictError",
    "Versions",
]

MAX_TEXT_CHARS = 10_000
MAX_MEDIA_ITEMS = 20
MAX_HISTORY_POINTS = 100_000

# The seven checks every verdict carries, in the order they are reported.
CHECK_NAMES: tuple[str, ...] = (
    "public_profile",
    "has_text",
    "min_views",
    "organic_views",
    "no_branded_content",
    "no_copyrighted_content",
    "no_platform_watermark",
)

_INPUT = ConfigDict(extra="ignore", frozen=True)
NonNegativeInt = Annotated[StrictInt, Field(ge=0)]
Seconds = StrictInt | Annotated[StrictFloat, Field(allow_inf_nan=False)]


class Author(BaseModel):
    model_config = _INPUT

    id: StrictStr = Field(min_length=1, max_length=256, description="The creator's account id.")
    is_public: StrictBool = Field(description="The creator's profile is public.")
    follower_count: NonNegativeInt | None = Field(default=None, description="Followers when the post was scored.")


class MediaItem(BaseModel):
    model_config = _INPUT

    type: Literal["video", "image"] = Field(description="`video` or `image`.")
    path: StrictStr = Field(
        min_length=1,
        max_length=1024,
        description="Path relative to the media root the caller configures; it may never leave that root.",
    )


class Engagement(BaseModel):
    model_config = _INPUT

    likes: NonNegativeInt = 0
    replies: NonNegativeInt = 0
    reposts: NonNegativeInt = 0
    quotes: NonNegativeInt = 0


class Post(BaseModel):
    """One creator post to judge. See docs/contract.md for each field's meaning."""

    model_config = _INPUT

    post_id: StrictStr = Field(min_length=1, max_length=128, description="Unique within a batch.")
    author: Author
    text: StrictStr | None = Field(
        default=None,
        max_length=MAX_TEXT_CHARS,
        description="The post's text; absent, null or empty means no text.",
    )
    media: list[MediaItem] = Field(default_factory=list, max_length=MAX_MEDIA_ITEMS)
    views: NonNegativeInt = Field(description="Views the platform counted for this post.")
    view_history: list[tuple[Seconds, NonNegativeInt]] | None = Field(
        default=None,
        max_length=MAX_HISTORY_POINTS,
        description="[seconds_since_publish, cumulative_views] pairs, time ascending.",
    )
    engagement: Engagement | None = None
    paid_partnership_label: StrictBool = Field(
        default=False, description="The platform's own paid-partnership flag, set by the creator."
    )
    created_at: StrictStr | None = Field(default=None, max_length=64, description="ISO-8601 timestamp.")


class CheckStatus(str, Enum):
    passed = "pass"
    fail = "fail"
    review = "review"
    skipped = "skipped"


class Decision(str, Enum):
    eligible = "eligible"
    ineligible = "ineligible"
    needs_review = "needs_review"
    error = "error"


class Check(BaseModel):
    """The outcome of one check: status, and where a model decided, its score and evidence."""

    status: CheckStatus
    detail: str | None = Field(default=None, description="Why, in words (always set when skipped).")
    score: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Calibrated probability that the violation is present."
    )
    evidence: list[dict[str, Any]] = Field(
        default_factory=list,
        description="What was found: text spans {start, end, label}, media index, time_s, box [x, y, w, h], platform.",
    )


class VerdictError(BaseModel):
    code: str = Field(description="snake_case reason, e.g. invalid_post, media_not_found.")
    message: str = Field(description="One sentence a person can act on.")


class Versions(BaseModel):
    policy: str
    models: dict[str, str | None] = Field(description="Artifact version per model; null when not installed.")


class Verdict(BaseModel):
    post_id: str | None = Field(description="The post's id; null only when the input had no readable id.")
    decision: Decision
    bonus_tier: Literal["none", "base", "high"]
    checks: dict[str, Check] = Field(description="Always the seven checks, by name.")
    error: VerdictError | None = None
    versions: Versions


_JSON_TYPE_NAMES = {"dict": "object", "list": "array", "str": "string", "NoneType": "null", "int": "number",
                    "float": "number", "bool": "boolean"}


def json_type_name(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages people read ("got array", not "got list")."""
    name = type(value).__name__
    return _JSON_TYPE_NAMES.get(name, name)


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    """("media", 2, "path") -> "media[2].path"; pydantic's tuple/union tags are dropped."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("tuple", "list", "int", "float", "function-after", "constrained-int"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "post"


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


# pydantic error type -> the rule in our own words ("expected ..."); others keep pydantic's text.
_RULES = {
    "greater_than_equal": "expected >= {ge}",
    "less_than_equal": "expected <= {le}",
    "string_too_long": "expected at most {max_length} characters",
    "string_too_short": "expected at least {min_length} characters",
    "too_long": "expected at most {max_length} items",
    "too_short": "expected at least {min_length} items",
    "int_type": "expected an integer",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "model_type": "expected a JSON object",
    "dict_type": "expected a JSON object",
    "list_type": "expected a JSON array",
    "tuple_type": "expected a [seconds, views] pair",
    "literal_error": "expected {expected}",
    "finite_number": "expected a finite number",
}


def describe_validation_errors(errors: list[dict[str, Any]]) -> str:
    """pydantic errors as `<field path>: expected <rule>, got <value>`, joined by "; "."""
    parts = []
    for err in errors:
        path = _loc_to_path(tuple(err.get("loc", ())))
        if err.get("type") == "missing":
            parts.append(f"{path}: required field is missing")
            continue
        template = _RULES.get(err.get("type", ""))
        try:
            rule = template.format(**err.get("ctx", {})) if template else err.get("msg", "invalid")
        except (KeyError, IndexError):
            rule = err.get("msg", "invalid")
        parts.append(f"{path}: {rule}, got {_short(err.get('input'))}")
    return "; ".join(parts)
