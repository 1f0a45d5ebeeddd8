"""ViewCurveFeatures: clean a batch of view histories and turn each post into scale-free features.

Input: a sequence of post mappings with keys "views" (int), "view_history" (list of
[seconds_since_publish, cumulative_views] or None), "engagement" (dict likes/replies/
reposts/quotes or None), "follower_count" (int or None).

Output: `FeatureBatch` with X (n_posts, n_features) float64 in `FEATURE_NAMES` order (NaN where
a feature is not observable), a per-post skip reason, and the raw numbers evidence quotes.

Cleaning (documented interpretation of a messy history; never raises):
  1. points that are not [number, number], with a non-finite value, a negative time, a negative
     view count, or a time after `max_time_s` (a timestamp in the future) are dropped;
  2. points are sorted by time; duplicates at one time keep the largest count;
  3. a history is assumed to start at (0 s, 0 views) unless it has a point at t = 0;
  4. cumulative views are made monotone with a running maximum (a counter never goes back,
     a lower reading is a stale replica);
  5. the post's total is max(views, last history count).
All of it runs on one flat array for the whole batch (segment = post), so cost is
O(total points · log) with no per-point Python; a 100,000-point history costs a few ms.
Shape features read the cleaned curve at fixed grid times (linear interpolation of the
cumulative count), so they do not depend on how densely or regularly it was sampled where it
was sampled. Interpolation across a long gap draws a straight line, which would read as a
steady drip: the linearity/decay features are computed only from grid cells whose history
interval is at most `resolved_gap_share` of the span (NaN otherwise), and three density features
(point count, largest gap, observed share of the late curve) let the model discount shape
features of sparse histories.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Mapping, Sequence

import numpy as np

from .config import FEATURE_NAMES, ViewsConfig

__all__ = ["FeatureBatch", "ViewCurveFeatures"]

_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}
_VIEW_BITS = 40  # cumulative views are clipped to 2**40 (1.1e12) so (post, views) packs into int64


@dataclass
class FeatureBatch:
    X: np.ndarray  # (n, n_features) float64
    skipped: list  # (n,) str or None: why there is nothing to go on
    views: np.ndarray  # (n,) total views used
    followers: np.ndarray  # (n,) NaN when unknown
    likes: np.ndarray  # (n,) NaN when engagement unknown
    replies: np.ndarray  # (n,)
    reposts: np.ndarray  # (n,) reposts + quotes
    span_s: np.ndarray  # (n,) last history time, NaN without a curve
    history_views: np.ndarray  # (n,) last history count, NaN without a curve
    burst_t: np.ndarray  # (n, 2) start, end seconds of the strongest burst window
    burst_gain: np.ndarray  # (n,) views gained inside that window
    band: np.ndarray  # (n, 3) organic engagement-rate q10, q50, q90 for this audience size
    points_t: np.ndarray  # (P,) cleaned history times of all posts, post by post
    points_v: np.ndarray  # (P,) cleaned cumulative views
    points_end: np.ndarray  # (n,) one past each post's last cleaned point in points_t


class ViewCurveFeatures:
    """Stateless transformer: `transform(posts) -> FeatureBatch`. Settings come from `ViewsConfig`."""

    def __init__(self, config: ViewsConfig | None = None) -> None:
        self.config = config or ViewsConfig()

    # ---- parsing -------------------------------------------------------------------------------
    @staticmethod
    def _flatten_histories(hists: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All points of all histories as flat (seg, t, v) float arrays, malformed points dropped."""
        lens = np.fromiter((len(h) if h else 0 for h in hists), np.int64, len(hists))
        total = int(lens.sum())
        try:  # fast path: every point is a pair of numbers
            flat = np.fromiter(chain.from_iterable(chain.from_iterable(h for h in hists if h)), float, 2 * total)
        except (TypeError, ValueError):
            flat, lens = _flatten_slow(hists)
        seg = np.repeat(np.arange(len(hists)), lens)
        return seg, flat[0::2], flat[1::2]

    def _clean(self, n: int, seg, t, v):
        """Sorted, deduplicated, monotone points with an origin per post: (seg, t, v) float arrays."""
        keep = np.isfinite(t) & np.isfinite(v) & (t >= 0) & (t <= self.config.max_time_s) & (v >= 0)
        seg, t, v = seg[keep], t[keep], np.minimum(v[keep], 2.0**_VIEW_BITS - 1)
        n_obs = np.bincount(seg[t > 0], minlength=n)  # observed points after the origin
        key = seg * (2 * self.config.max_time_s + 1) + t  # (post, time) on one sortable axis
        if len(key) > 1 and not np.all(key[1:] >= key[:-1]):  # most histories arrive sorted: skip the sort
            order = np.argsort(key, kind="stable")
            seg, t, v = seg[order], t[order], v[order]
        first = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]]) if len(seg) else np.zeros(0, np.int64)
        seg = np.insert(seg, first, seg[first])  # (0 s, 0 views) origin before each post's points
        t = np.insert(t, first, 0.0)
        v = np.insert(v, first, 0.0)
        packed = (seg.astype(np.int64) << _VIEW_BITS) | v.astype(np.int64)  # running max within a post
        v = (np.maximum.accumulate(packed) & ((1 << _VIEW_BITS) - 1)).astype(float)
        last_at_time = np.ones(len(t), bool)  # after the running max, the last point at a time holds the max
        last_at_time[:-1] = (seg[1:] != seg[:-1]) | (t[1:] != t[:-1])
        return seg[last_at_time], t[last_at_time], v[last_at_time], n_obs

    # ---- features ------------------------------------------------------------------------------
    def transform(self, posts: Sequence[Mapping]) -> FeatureBatch:
        cfg = self.config
        n = len(posts)
        views = np.nan_to_num(_counts([p.get("views") for p in posts]), nan=0.0)
        followers = _counts([p.get("follower_count") for p in posts])
        engs = [p.get("engagement") for p in posts]
        engs = [e if type(e) is dict or isinstance(e, Mapping) else None for e in engs]  # `type` first: ABC checks are slow
        no_eng = np.array([e is None for e in engs], bool)  # (n,) engagement unknown
        likes, replies, reposts, quotes = (
            np.where(no_eng, np.nan, np.nan_to_num(_counts([e.get(k, 0) if e is not None else 0 for e in engs])))
            for k in ("likes", "replies", "reposts", "quotes")
        )
        reposts = reposts + quotes

        seg, t, v, n_obs = self._clean(n, *self._flatten_histories([p.get("view_history") for p in posts]))
        ends = np.cumsum(np.bincount(seg, minlength=n))  # (n,) one past each post's last point
        last = np.maximum(ends - 1, 0)
        has_pts = np.bincount(seg, minlength=n) > 0
        span = np.where(has_pts, t[last] if len(t) else 0.0, np.nan)
        hist_v = np.where(has_pts, v[last] if len(v) else 0.0, np.nan)
        curve = has_pts & (n_obs >= cfg.min_history_points) & (span > 0) & (hist_v > 0)  # (n,)
        total = np.fmax(views, hist_v)  # (n,)

        X = np.full((n, len(FEATURE_NAMES)), np.nan)
        X[:, _COL["log_views"]] = np.log10(total + 1)
        X[:, _COL["log_followers"]] = np.log10(followers + 1)
        X[:, _COL["log_views_per_follower"]] = np.log10((total + 1) / (followers + 1))
        eng_rate = (likes + replies + reposts) / np.maximum(total, 1)
        eng_rate = np.where(total > 0, eng_rate, np.nan)
        X[:, _COL["log_engagement_rate"]] = np.log10(np.maximum(eng_rate, 1e-5))
        band = self.engagement_band(followers)  # (n, 3)
        X[:, _COL["log_engagement_vs_audience"]] = X[:, _COL["log_engagement_rate"]] - np.log10(band[:, 1])
        X[:, _COL["log_replies_per_like"]] = np.log10((replies + 1) / (likes + 1))
        X[:, _COL["log_reposts_per_like"]] = np.log10((reposts + 1) / (likes + 1))
        X[:, _COL["log_span_hours"]] = np.where(curve, np.log10(np.maximum(span, 1) / 3600), np.nan)
        X[:, _COL["history_coverage"]] = np.where(curve, hist_v / np.maximum(total, 1), np.nan)

        burst_t = np.full((n, 2), np.nan)
        burst_gain = np.full(n, np.nan)
        rows = np.flatnonzero(curve)
        if len(rows):
            # sampling density: cleaned points after the origin and the longest interval between points
            n_pts = np.bincount(seg, minlength=n) - 1  # (n,)
            X[:, _COL["log_history_points"]] = np.where(curve, np.log10(np.maximum(n_pts, 1)), np.nan)
            dt = np.zeros(len(t))
            dt[1:] = np.where(seg[1:] == seg[:-1], np.diff(t), 0.0)
            starts = ends - np.bincount(seg, minlength=n)  # (n,) first point of each post
            max_gap = np.maximum.reduceat(dt, np.minimum(starts[rows], len(t) - 1))  # rows have points
            X[rows, _COL["max_gap_share"]] = max_gap / span[rows]
            keep = curve[seg]
            self._shape_features(X, rows, seg[keep], t[keep], v[keep], span[rows], hist_v[rows], burst_t, burst_gain)

        skipped = [None] * n
        for i in np.flatnonzero(~curve & (np.isnan(likes) | (total <= 0))):
            skipped[i] = "no views to judge" if total[i] <= 0 else "no view history and no engagement"
        return FeatureBatch(X, skipped, total, followers, likes, replies, reposts, span, hist_v, burst_t, burst_gain,
                            band, t, v, ends)

    def _shape_features(self, X, rows, seg, t, v, span, hist_v, burst_t, burst_gain) -> None:
        """Fill the growth-shape columns for `rows` (posts with a readable curve)."""
        cfg = self.config
        m, K = len(rows), cfg.log_grid_points
        # log-time grid: t_lo .. span, K points; t_lo shrinks for short histories
        t_lo = np.minimum(cfg.log_grid_t_lo_s, span / 100)  # (m,)
        grid = t_lo[:, None] * (span / t_lo)[:, None] ** np.linspace(0, 1, K)[None, :]  # (m, K)
        grid_t = np.concatenate([np.zeros((m, 1)), grid], axis=1)  # (m, K+1), starts at publish
        cum = _interp_segments(seg, t, v, np.repeat(rows, K + 1), grid_t.ravel()).reshape(m, K + 1)
        cum /= hist_v[:, None]  # (m, K+1) share of the history's final count
        cum[:, 0] = 0.0

        # burst: a window of w cells whose rate beats both neighbouring 2-cell rates
        best = np.full(m, -np.inf)
        best_ratio = np.zeros(m)
        best_lo = np.zeros(m, np.int64)
        best_hi = np.zeros(m, np.int64)
        for w in (1, 2, 3):
            k = np.arange(0, K + 1 - w)  # window start index on grid_t
            gain = cum[:, k + w] - cum[:, k]  # (m, nk)
            left = np.where(k >= 2, (cum[:, k] - cum[:, np.maximum(k - 2, 0)]) / 2, np.nan)
            hi = np.minimum(k + w + 2, K)
            right = np.where(k + w + 2 <= K, (cum[:, hi] - cum[:, k + w]) / 2, np.nan)
            base = np.fmax(left, right)  # (m, nk) neighbours' rate per cell
            excess = gain - w * base
            j = np.argmax(excess, axis=1)
            val = excess[np.arange(m), j]
            better = val > best
            best = np.where(better, val, best)
            ratio = (gain[np.arange(m), j] / w + 1e-4) / (base[np.arange(m), j] + 1e-4)
            best_ratio = np.where(better, ratio, best_ratio)
            best_lo = np.where(better, j, best_lo)
            best_hi = np.where(better, j + w, best_hi)
        X[rows, _COL["burst_excess"]] = best
        X[rows, _COL["burst_log_ratio"]] = np.log10(best_ratio)
        ar = np.arange(m)
        burst_t[rows, 0] = grid_t[ar, best_lo]
        burst_t[rows, 1] = grid_t[ar, best_hi]
        burst_gain[rows] = (cum[ar, best_hi] - cum[ar, best_lo]) * hist_v
        dur = _tightest_span(seg, t, v, rows, burst_t[rows], hist_v)  # (m,) seconds
        gain = 0.8 * burst_gain[rows] / hist_v
        X[rows, _COL["burst_log_minutes"]] = np.log10(np.maximum(dur, 60.0) / 60)
        X[rows, _COL["burst_log_rate_vs_mean"]] = np.log10((gain / np.maximum(dur, 60.0) + 1e-12) / (1 / span))
        for q, name in ((0.1, "t10_position"), (0.5, "t50_position"), (0.9, "t90_position")):
            X[rows, _COL[name]] = (cum[:, 1:] < q).sum(axis=1) / K

        # linear-time grid: 16 equal cells from publish to the history's end, plus cell midpoints;
        # `gap` is the length of the history interval each grid time falls in (0 on a point)
        C = cfg.linear_grid_cells
        q = np.linspace(0, 1, 2 * C + 1)  # boundaries at even, midpoints at odd indices
        lin_t = span[:, None] * q[None, :]  # (m, 2C+1)
        lin, gap = _interp_segments(seg, t, v, np.repeat(rows, 2 * C + 1), lin_t.ravel(), with_gap=True)
        lin = lin.reshape(m, 2 * C + 1)[:, ::2] / hist_v[:, None]  # (m, C+1) boundaries
        gap = gap.reshape(m, 2 * C + 1) / span[:, None]  # (m, 2C+1) share of the span
        seen = gap <= cfg.resolved_gap_share  # (m, 2C+1) value read from a short interval
        cell_seen = seen[:, 1::2]  # (m, C) a cell's increment is observed when its midpoint is
        cells = np.diff(lin, axis=1)  # (m, C) share of views per cell
        late, late_seen = cells[:, C // 4 :], cell_seen[:, C // 4 :]  # cells 4..15: after the launch
        n_late = late_seen.sum(axis=1)
        X[rows, _COL["first_cell_share"]] = cells[:, 0]
        X[rows, _COL["half_share"]] = np.where(seen[:, C], lin[:, C // 2], np.nan)
        X[rows, _COL["last_quarter_rate"]] = np.where(seen[:, 3 * C // 2], (1 - lin[:, 3 * C // 4]) * 4, np.nan)
        q2, q4 = cell_seen[:, C // 4 : C // 2], cell_seen[:, 3 * C // 4 :]  # observed cells 4-7, 12-15
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = (cells[:, C // 4 : C // 2] * q2).sum(axis=1) / q2.sum(axis=1)
            r4 = (cells[:, 3 * C // 4 :] * q4).sum(axis=1) / q4.sum(axis=1)
            X[rows, _COL["late_rate_trend"]] = np.log10((r4 + 1e-4) / (r2 + 1e-4))  # NaN if either has none
            mean = (late * late_seen).sum(axis=1) / n_late
            var = (((late - mean[:, None]) ** 2) * late_seen).sum(axis=1) / n_late
        X[rows, _COL["late_rate_cv"]] = np.where(
            n_late >= cfg.min_observed_late_cells, np.sqrt(var) / (mean + 1e-6), np.nan
        )
        X[rows, _COL["max_cell_share"]] = cells.max(axis=1)
        X[rows, _COL["late_observed_share"]] = n_late / (C - C // 4)

    def engagement_band(self, followers: np.ndarray) -> np.ndarray:
        """(n, 3) organic engagement-rate q10, q50, q90 for each audience size (middle band if unknown)."""
        bands = np.asarray(self.config.engagement_bands, float)  # (B, 4)
        log_f = np.log10(np.where(np.isnan(followers), 10**3.5, followers) + 1)
        idx = np.clip(np.searchsorted(bands[:, 0], log_f, side="right") - 1, 0, len(bands) - 1)
        return bands[idx, 1:]


def _tightest_span(seg, t, v, rows, window, hist_v, share: float = 0.8) -> np.ndarray:
    """(m,) shortest time between observed points of post rows[i] holding `share` of its window's gain.

    window: (m, 2) start, end seconds. Points bracketing the window count, so sparse sampling
    gives long spans (the curve cannot say the views came faster than it was observed).
    """
    m = len(rows)
    pos = np.full(int(seg.max()) + 1 if len(seg) else 1, -1)
    pos[rows] = np.arange(m)
    local = pos[seg]  # (P,) row index of each point's post
    scale = 4 * (t.max() if len(t) else 1.0) + 1.0
    key_t = seg * scale + t
    a = np.searchsorted(key_t, rows * scale + window[:, 0], side="right") - 1  # last point <= start
    b = np.searchsorted(key_t, rows * scale + window[:, 1], side="left")  # first point >= end
    last = np.searchsorted(seg, rows, side="right") - 1
    b = np.minimum(b, last)
    need = share * (v[b] - v[a]) / hist_v  # (m,) share of the post's views
    idx = np.arange(len(seg))
    in_win = (local >= 0) & (idx >= a[local]) & (idx <= b[local])
    p = idx[in_win]
    r = local[p]
    share_v = np.where(local >= 0, 0.5 * v / hist_v[np.maximum(local, 0)], 0.0)  # in [0, 0.5]
    key_v = seg + share_v  # monotone within a post, posts 1 apart: one sorted axis
    q = np.searchsorted(key_v, key_v[p] + 0.5 * need[r] - 1e-12, side="left")
    ok = (q <= b[r]) & (need[r] > 0)
    out = np.where(need > 0, np.inf, window[:, 1] - window[:, 0])
    np.minimum.at(out, r[ok], t[q[ok]] - t[p[ok]])
    return np.where(np.isfinite(out), out, window[:, 1] - window[:, 0])


def _interp_segments(seg, t, v, q_seg, q_t, with_gap: bool = False):
    """Cumulative views of post q_seg at time q_t, linear between its points, flat after its last.

    Every post in q_seg has a point at t = 0 (the origin), so a point at or before q_t exists.
    with_gap: also return the length (s) of the interval q_t falls in: 0 on a point, inf after the last.
    """
    scale = 4 * (t.max() if len(t) else 1.0) + 1.0  # separates posts on one sorted key axis
    keys = seg * scale + t
    i = np.searchsorted(keys, q_seg * scale + q_t, side="right") - 1  # last point <= q_t
    j = np.minimum(i + 1, len(t) - 1)
    inside = (seg[j] == q_seg) & (j != i) & (t[j] > t[i])
    width = np.where(inside, t[j] - t[i], 1.0)
    frac = np.where(inside, (q_t - t[i]) / width, 0.0)
    out = v[i] + np.clip(frac, 0, 1) * np.where(inside, v[j] - v[i], 0.0)
    if not with_gap:
        return out
    gap = np.where(q_t == t[i], 0.0, np.where(inside, width, np.inf))
    return out, gap


def _counts(values: list) -> np.ndarray:
    """(n,) float counts; None (or, on the slow path, anything not a number) becomes NaN."""
    try:
        return np.asarray(values, dtype=float).reshape(len(values))
    except (TypeError, ValueError):
        return np.fromiter((_num(x) for x in values), float, len(values))


def _num(x) -> float:
    """A count as float; None or a non-number becomes NaN."""
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else np.nan


def _flatten_slow(hists: list) -> tuple[np.ndarray, np.ndarray]:
    """Slow path for malformed histories: keep only [number, number] points."""
    flat, lens = [], []
    for h in hists:
        pts = [
            (float(p[0]), float(p[1]))
            for p in (h or ())
            if isinstance(p, (list, tuple)) and len(p) == 2 and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in p
            )
        ]
        lens.append(len(pts))
        flat.extend(chain.from_iterable(pts))
    return np.asarray(flat, float), np.asarray(lens, np.int64)
