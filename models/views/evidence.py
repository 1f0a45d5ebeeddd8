"""Evidence: the view-curve features that fired, in words a reviewer can check against the post.

Which features are reported is decided by flag levels in `ViewsConfig` (not by the policy's
thresholds); strings are only built for posts where something fired, so the batch cost stays low.
Times are offsets since publish ("2h00", "3d 4h").
"""

from __future__ import annotations

import numpy as np

from .config import FEATURE_NAMES, ViewsConfig
from .features import FeatureBatch

__all__ = ["build_evidence", "format_offset", "format_duration"]

_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


def format_offset(seconds: float) -> str:
    """Offset since publish: '14 min', '2h05', '3d 4h'."""
    s = int(round(seconds))
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}"
    return f"{s // 86400}d {(s % 86400) // 3600}h"


def format_duration(seconds: float) -> str:
    s = max(int(round(seconds)), 60)
    if s < 3600:
        return f"{s // 60} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def _pct(x: float) -> str:
    return f"{100 * x:.2g} %"


def build_evidence(batch: FeatureBatch, config: ViewsConfig, proba: np.ndarray) -> list[tuple[dict, ...]]:
    """(n,) tuples of evidence dicts, strongest first, at most `config.max_evidence` each."""
    X = batch.X
    n = len(X)
    burst = np.nan_to_num(X[:, _COL["burst_excess"]], nan=-1.0)
    drip = np.nan_to_num(X[:, _COL["last_quarter_rate"]], nan=0.0)
    drip_cv = np.nan_to_num(X[:, _COL["late_rate_cv"]], nan=9.0)  # NaN: the late curve was not observed
    observed = np.nan_to_num(X[:, _COL["late_observed_share"]], nan=0.0)
    eng_rate = 10 ** X[:, _COL["log_engagement_rate"]]  # NaN when engagement unknown
    vpf = (batch.views + 1) / (batch.followers + 1)  # NaN when followers unknown
    low_eng = eng_rate < config.flag_engagement_below_q10 * batch.band[:, 0]
    reply_rate = batch.replies / np.maximum(batch.likes, 1)
    few_replies = (batch.likes >= 100) & (reply_rate < config.replies_per_like_band[0] / 3)

    fired = {
        "burst": burst >= config.flag_burst_excess,
        # only a steady rate that was observed: never a line interpolated across a long gap
        "linear_drip": (drip >= config.flag_drip_last_quarter_rate) & (drip_cv < 0.6)
        & (observed >= config.flag_drip_min_observed),
        "reach": (vpf >= config.flag_reach_views_per_follower) & (eng_rate < batch.band[:, 0]),
        "low_engagement": low_eng,
        "few_replies": few_replies,
    }
    strength = {  # comparable 0..1 scores to order entries
        "burst": np.clip(burst, 0, 1),
        "linear_drip": np.clip(drip / 1.5, 0, 1),
        "reach": np.clip(np.log10(np.fmax(vpf, 1)) / 4, 0, 1),
        "low_engagement": np.clip(1 - eng_rate / batch.band[:, 0], 0, 1),
        "few_replies": np.clip(1 - reply_rate / config.replies_per_like_band[0], 0, 1) * 0.8,
    }
    any_fired = np.zeros(n, bool)
    for mask in fired.values():
        any_fired |= mask
    out: list[tuple[dict, ...]] = [()] * n
    for i in np.flatnonzero(any_fired & (np.nan_to_num(proba, nan=-1.0) >= config.evidence_min_probability)):
        names = sorted((k for k in fired if fired[k][i]), key=lambda k: -strength[k][i])
        out[i] = tuple(_entry(name, i, batch, eng_rate[i], vpf[i], drip[i]) for name in names[: config.max_evidence])
    return out


def _tightest_burst(batch: FeatureBatch, i: int, share: float = 0.8) -> tuple[float, float, float]:
    """The shortest span between observed points holding `share` of the burst window's gain.

    The feature's window is a log-time grid cell (hours wide late in a history); the observed
    points inside it usually pin the delivery down to minutes.
    """
    t0, t1 = batch.burst_t[i]
    start, end = (batch.points_end[i - 1] if i else 0), batch.points_end[i]
    t, v = batch.points_t[start:end], batch.points_v[start:end]  # this post's cleaned points
    a = max(int(np.searchsorted(t, t0, side="right")) - 1, 0)  # last point at or before the window
    b = min(int(np.searchsorted(t, t1, side="left")), len(t) - 1)  # first point at or after it
    t, v = t[a : b + 1], v[a : b + 1]
    need = share * (v[-1] - v[0]) if len(v) > 1 else 0.0
    if need <= 0:
        return t0, t1, batch.burst_gain[i]
    q = np.searchsorted(v, v + need, side="left")  # (k,) first point reaching +need from each start
    ok = q < len(v)
    p = np.flatnonzero(ok)
    best = p[np.argmin(t[q[ok]] - t[p])]
    return float(t[best]), float(t[q[best]]), float(v[q[best]] - v[best])


def _likes_text(batch: FeatureBatch, i: int) -> str:
    if np.isnan(batch.likes[i]):
        return "engagement unknown"
    return f"{int(batch.likes[i]):,} likes and {int(batch.replies[i]):,} replies total"


def _entry(name: str, i: int, batch: FeatureBatch, eng_rate: float, vpf: float, drip: float) -> dict:
    X = batch.X[i]
    if name == "burst":
        t0, t1, gain = _tightest_burst(batch, i)
        msg = (
            f"+{gain:,.0f} views in {format_duration(t1 - t0)} "
            f"({format_offset(t0)}–{format_offset(t1)} after publish) with {_likes_text(batch, i)}"
        )
        return {"feature": "burst", "message": msg, "value": round(float(X[_COL["burst_excess"]]), 3),
                "t_start_s": float(t0), "t_end_s": float(t1)}
    if name == "linear_drip":
        span = batch.span_s[i]
        rate = batch.history_views[i] * drip / (span / 3600)  # last-quarter views per hour
        n_points = int(round(10 ** X[_COL["log_history_points"]]))
        msg = (
            f"steady ~{rate:,.0f} views/h from {format_offset(0.75 * span)} to {format_offset(span)} after publish "
            f"(last quarter at {drip:.0%} of the average rate, {X[_COL['late_observed_share']]:.0%} of the late curve "
            f"observed, {n_points} points); organic attention decays"
        )
        return {"feature": "linear_drip", "message": msg, "value": round(float(drip), 3),
                "t_start_s": float(0.75 * span), "t_end_s": float(span)}
    if name == "reach":
        msg = (
            f"{batch.views[i]:,.0f} views from {batch.followers[i]:,.0f} followers ({vpf:,.0f}× the audience) "
            f"with {_pct(eng_rate)} engagement"
        )
        return {"feature": "reach", "message": msg, "value": round(float(vpf), 1)}
    if name == "low_engagement":
        q10, _, q90 = batch.band[i]
        msg = f"engagement {_pct(eng_rate)} vs {_pct(q10)}–{_pct(q90)} for this audience size"
        return {"feature": "low_engagement", "message": msg, "value": round(float(eng_rate), 6)}
    likes, replies, reposts = int(batch.likes[i]), int(batch.replies[i]), int(batch.reposts[i])
    msg = (
        f"{likes:,} likes but {replies:,} replies and {reposts:,} reposts/quotes "
        f"({_pct(replies / max(likes, 1))} replies per like; organic posts get several %)"
    )
    return {"feature": "few_replies", "message": msg, "value": round(replies / max(likes, 1), 5)}
