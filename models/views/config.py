"""ViewsConfig: every knob of the view-pattern model's feature extraction, saved in its artifact.

One frozen dataclass feeds `ViewCurveFeatures` and the evidence wording; `train.py`
fills the reference bands from simulated organic posts and writes it to
`artifact/config.json`, and `load()` rebuilds the model from that file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

__all__ = ["FEATURE_NAMES", "ViewsConfig"]

# Column order of the feature matrix (n_posts, n_features). NaN marks "not observable"
# (no history, no engagement, no follower count); the gradient-boosted trees route NaN natively.
FEATURE_NAMES: tuple[str, ...] = (
    # totals
    "log_views",  # log10(views + 1)
    "log_followers",  # log10(followers + 1)
    "log_views_per_follower",  # log10((views + 1) / (followers + 1)): reach beyond the audience
    "log_engagement_rate",  # log10(all engagement / views), floored at 1e-5
    "log_engagement_vs_audience",  # log engagement rate minus the organic median for this audience size
    "log_replies_per_like",  # log10((replies + 1) / (likes + 1)): bought likes come without replies
    "log_reposts_per_like",  # log10((reposts + quotes + 1) / (likes + 1))
    # history coverage
    "log_span_hours",  # log10 of the last history time in hours
    "history_coverage",  # last history views / views (views added after the history ends)
    # growth shape on a log-time grid (scale-free: fractions of the history's final views)
    "burst_excess",  # largest share of views in a short window above both neighbouring rates
    "burst_log_ratio",  # log10 of that window's rate over its neighbours' rate
    "burst_log_minutes",  # log10 minutes of the shortest observed span holding 80 % of that window's gain
    "burst_log_rate_vs_mean",  # log10 of that span's rate over the history's mean rate
    "t10_position",  # position (0..1) on the log-time grid where 10 % of views are reached
    "t50_position",  # ... 50 %
    "t90_position",  # ... 90 %
    # linearity and decay on a linear-time grid, read only where the history was observed: a value
    # that would come from interpolating across a gap longer than `resolved_gap_share` of the span
    # is NaN (a straight line drawn across a gap is no evidence of a steady rate)
    "first_cell_share",  # share of views in the first 1/16 of the history
    "half_share",  # share of views in the first half (0.5 for a linear drip); NaN inside a long gap
    "last_quarter_rate",  # rate in the last quarter / average rate (1 for a drip, ~0 when decayed); NaN likewise
    "late_rate_trend",  # log10(rate in observed cells 12-15 / in observed cells 4-7): 0 for a drip, < 0 for decay
    "late_rate_cv",  # coefficient of variation of the observed cells' increments over cells 4-15 (drip: small)
    "max_cell_share",  # largest single linear cell's share of views
    # sampling density: how much of the curve's shape was seen at all
    "log_history_points",  # log10 of the cleaned history points after publish
    "max_gap_share",  # longest interval between consecutive points / span (1 for a single point)
    "late_observed_share",  # share of cells 4-15 whose increment was observed (not inside a long gap)
)


@dataclass(frozen=True)
class ViewsConfig:
    """Feature-extraction and evidence settings. Units are in each comment."""

    log_grid_points: int = 48  # points of the log-time grid from t_lo to the history's end
    log_grid_t_lo_s: float = 60.0  # seconds; first log-grid point (shrunk for histories < 100 min)
    linear_grid_cells: int = 16  # cells of the linear-time grid (features assume 16)
    max_time_s: float = 366 * 86400.0  # seconds; later history points are dropped as implausible
    min_history_points: int = 2  # observed points (t > 0) needed to read a curve shape
    # A linear-grid value counts as observed when the history interval it falls in spans at most this
    # share of the history (4 linear cells); longer gaps are interpolation, so drip features are NaN there.
    resolved_gap_share: float = 0.25
    min_observed_late_cells: int = 4  # observed cells among 4-15 needed for late_rate_cv
    # Organic engagement reference: rows of (log10 followers bin start, q10, q50, q90 of engagement rate).
    # Filled by training from simulated organic posts; the defaults are the simulator's assumption.
    engagement_bands: tuple[tuple[float, float, float, float], ...] = (
        (0.0, 0.02, 0.055, 0.14),
        (2.0, 0.017, 0.047, 0.12),
        (3.0, 0.015, 0.04, 0.10),
        (4.0, 0.013, 0.034, 0.09),
        (5.0, 0.011, 0.029, 0.075),
        (6.0, 0.009, 0.025, 0.065),
    )
    replies_per_like_band: tuple[float, float] = (0.03, 0.25)  # organic q10, q90 of replies / likes
    # Evidence: a feature is reported when it passes its flag level (reviewer-facing wording only;
    # the decision itself is the calibrated probability and the policy's thresholds).
    flag_burst_excess: float = 0.25  # share of views in the burst window above the neighbours
    flag_drip_last_quarter_rate: float = 0.6  # last-quarter rate / average rate
    flag_drip_min_observed: float = 0.5  # late_observed_share needed before a drip is reported
    flag_reach_views_per_follower: float = 30.0  # views / followers
    flag_engagement_below_q10: float = 0.5  # engagement rate under this many times the band's q10
    max_evidence: int = 3  # evidence entries per post
    evidence_min_probability: float = 0.1  # no evidence below this score (nothing for a reviewer to see)
    feature_names: tuple[str, ...] = field(default=FEATURE_NAMES)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ViewsConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"config.json: unknown keys {unknown}, expected a subset of {sorted(known)}")
        values = {}
        for key, value in data.items():
            # JSON turns tuples into lists; nested bands become tuples again.
            if isinstance(value, list):
                value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
            values[key] = value
        return cls(**values)
