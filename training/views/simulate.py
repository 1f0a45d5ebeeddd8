"""Simulator of organic and bought view curves for the view-pattern model (no labelled data exists).

Assumptions (all parameters are drawn widely per post; ranges are in the dicts below):

Organic attention
  * Audience: followers log-uniform 20 .. 3M. Expected reach = followers x a log-normal
    multiplier (median 0.3, wide) plus a recommendation-feed floor (log-uniform 30 .. 3,000);
    8 % of posts go viral: reach x log-uniform 10 .. 3,000, regardless of account size.
  * Shape: views arrive at a rate proportional to a gamma density t^(k-1) exp(-t/tau):
    saturating growth with decay (k < 1 fastest start, k > 2 a slow starter), tau 0.3 .. 30 h,
    plus (70 %) a long tail with 5-30x slower decay carrying 3-30 % of views.
  * Second waves (30 %): a large account reshares 2 h .. 2 days after publish (held out:
    2-10 days); a new gamma bump (k 0.8-2.5, tau 0.5-24 h: a reshare decays over hours)
    of 0.1-6x the first wave's views. Views and engagement rise together because engagement is
    drawn on the total organic views.
  * Counting noise: each interval's increment is Poisson with a gamma-distributed
    overdispersion (phi 0.005 .. 0.2).
  * Engagement: rate ~ log-normal around 5 % x (followers/1e3)^-0.12 (smaller for big
    audiences), sigma 0.45, 1.3x for viral posts; replies 3-25 % of likes, reposts+quotes 2-12 %.
Bought views (added to a small organic base; label 1). A purchase that matters: bought views
  are scaled up, where needed, to 1-5x the organic views at the time `views` is read.
  * burst: 1-2 deliveries (held out: 2-3, each over 25-60 min) of log-uniform 1k .. 300k views
    (or 0.5-50x the organic views), each over 2-25 min, at any time; no engagement.
  * drip: a constant rate (+-noise, held out: hourly chunks) over 1-5 days (held out: 5-14 days).
  * reach: 20-800 followers (held out: 800-3,000), 20k .. 1M views delivered in an
    organic-looking gamma shape; engagement only from the organic base.
  * with_likes: a burst or a drip of views plus bought likes at 1-6 % of the bought views
    (held out: 6-15 %, with canned replies at 0.2-1 % of the bought likes), no reposts.
Observation (the platform's history, drawn independently of the label)
  * history length log-uniform 3 h .. 21 days; sampling grid (shares in `_GRIDS`): regular,
    log-spaced, random, dense-early-then-sparse, 2-6 sparse points at uniform times, or (28 %) 2-6
    sparse points at log-uniform times with irregular gaps, e.g. 1 h, 2 h, 24 h (held out: regular
    with a 30-70 % gap); first point at publish half the time; `views` may be read up to a day
    after the last point. 44 % of training histories have at most 6 points, organic and bought alike.
  * missing history / engagement / follower count 8 % each; 5 % of histories get glitches
    (shuffled, duplicated, decreasing points) that the feature cleaner must repair.
`region="train"` draws the training ranges; `region="heldout"` draws each post from at least one
held-out variant (different pattern variants, organic settings and sampling family).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammainc

__all__ = ["PATTERNS", "simulate_dataset"]

PATTERNS = ("organic", "burst", "drip", "reach", "with_likes")
H = 3600.0


def _logu(rng, lo, hi):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _gamma_cum(t, start, k, tau):
    """Share of a gamma(k, tau) bump starting at `start` delivered by time t."""
    return gammainc(k, np.maximum(t - start, 0) / tau)


def _organic(rng, heldout_flags, followers=None, reach_scale=1.0):
    """Organic components: list of (views, start_s, k, tau_s), and the engagement rate multiplier."""
    f = followers if followers is not None else _logu(rng, 20, 3e6)
    reach = f * float(np.exp(rng.normal(np.log(0.3), 1.1))) + _logu(rng, 30, 3000)
    viral = rng.random() < 0.08
    if viral:
        reach *= _logu(rng, 10, 3000)
    reach *= reach_scale
    slow = "slow_starter" in heldout_flags
    k = rng.uniform(2.2, 4.0) if slow else rng.uniform(0.6, 2.2)
    tau = _logu(rng, 0.3 * H, 30 * H) / (k if slow else 1.0)
    comps = [(reach, 0.0, k, tau)]
    if rng.random() < 0.7:  # long tail of slower attention
        share = rng.uniform(0.03, 0.3)
        comps = [(reach * (1 - share), 0.0, k, tau), (reach * share, 0.0, 1.0, tau * _logu(rng, 5, 30))]
    late = "late_wave" in heldout_flags
    if late or rng.random() < 0.3:
        start = _logu(rng, 2 * 86400, 10 * 86400) if late else _logu(rng, 2 * H, 2 * 86400)
        comps.append((reach * _logu(rng, 0.1, 6), start, rng.uniform(0.8, 2.5), _logu(rng, 0.5 * H, 24 * H)))
    return f, comps, 1.3 if viral else 1.0


def _engagement(rng, views, followers, multiplier=1.0):
    med = np.clip(0.05 * (followers / 1e3) ** -0.12, 0.008, 0.12) * multiplier
    rate = med * float(np.exp(rng.normal(0, 0.45)))
    likes = rng.poisson(views * rate * 0.85)
    return {
        "likes": int(likes),
        "replies": int(rng.poisson(likes * rng.uniform(0.03, 0.25))),
        "reposts": int(rng.poisson(likes * rng.uniform(0.015, 0.09))),
        "quotes": int(rng.poisson(likes * rng.uniform(0.005, 0.03))),
    }


# training sampling families and their shares; 44 % of histories are sparse (2-6 points)
_GRIDS = {"regular": 0.14, "log": 0.14, "random": 0.14, "early_dense": 0.14, "sparse": 0.16, "sparse_irregular": 0.28}


def _sampling_times(rng, span, heldout_grid):
    kind = "gap" if heldout_grid else rng.choice(list(_GRIDS), p=list(_GRIDS.values()))
    if kind in ("regular", "gap"):
        ts = np.linspace(0, span, int(rng.integers(6, 200)))
        if kind == "gap":
            lo = rng.uniform(0.05, 0.5) * span
            ts = ts[(ts < lo) | (ts > lo + rng.uniform(0.3, 0.7) * span)]
    elif kind == "log":
        ts = np.geomspace(_logu(rng, 30, 600), span, int(rng.integers(6, 100)))
    elif kind == "random":
        ts = np.sort(rng.uniform(0, span, int(rng.integers(3, 150))))
    elif kind == "early_dense":
        step = _logu(rng, 300, 1800)
        early = np.arange(0, min(span, _logu(rng, 2 * H, 12 * H)), step)
        ts = np.concatenate([early, np.arange(early[-1], span, _logu(rng, H, 12 * H)), [span]])
    elif kind == "sparse":
        ts = np.sort(rng.uniform(0.02 * span, span, int(rng.integers(2, 7))))
    else:  # sparse_irregular: 2-6 points at log-uniform times (often a few early, then a long gap), last at the end
        k = int(rng.integers(2, 7))
        t_first = min(_logu(rng, 60, 3 * H), span / 2)
        ts = np.sort(np.append(np.exp(rng.uniform(np.log(t_first), np.log(span), k - 1)), span))
    ts = np.unique(np.round(ts))
    if rng.random() < 0.5:
        ts = ts[ts > 0] if len(ts[ts > 0]) >= 2 else ts
    return ts


def _bought(rng, pattern, heldout, span):
    """Bought components as (views, start_s, duration_s, kind) and bought (likes, replies)."""
    if pattern == "burst" or (pattern == "with_likes" and rng.random() < 0.5):
        n = int(rng.integers(2, 4)) if heldout else (1 if rng.random() < 0.8 else 2)
        parts = []
        for _ in range(n):
            dur = rng.uniform(25, 60) * 60 if heldout and pattern == "burst" else rng.uniform(2, 25) * 60
            parts.append((_logu(rng, 1e3, 3e5), rng.uniform(0, 0.95) * span, dur, "linear"))
        return parts
    if pattern in ("drip", "with_likes"):
        dur = rng.uniform(5, 14) * 86400 if heldout else rng.uniform(1, 5) * 86400
        kind = "chunks" if heldout and rng.random() < 0.5 else "linear"
        return [(_logu(rng, 2e3, 3e5), rng.uniform(0, 0.3) * span, dur, kind)]
    # reach: organic-looking delivery
    return [(_logu(rng, 2e4, 1e6), 0.0, _logu(rng, 0.5 * H, 24 * H), "gamma")]


def _bought_cum(t, parts):
    out = np.zeros_like(t)
    for views, start, dur, kind in parts:
        if kind == "gamma":
            out += views * _gamma_cum(t, start, 1.3, dur)
        elif kind == "chunks":  # hourly equal deliveries
            out += views * np.minimum(np.floor(np.maximum(t - start, 0) / H) * H / dur, 1)
        else:
            out += views * np.clip((t - start) / dur, 0, 1)
    return out


def simulate_post(rng, pattern: str, region: str = "train") -> dict:
    """One post mapping (views, view_history, engagement, follower_count) plus 'pattern' and 'label'."""
    heldout = region == "heldout"
    flags: set = set()
    if heldout:  # each held-out post carries at least one held-out variant
        options = ["grid"] + (["slow_starter", "late_wave"] if pattern == "organic" else ["pattern"])
        flags = {options[int(rng.integers(len(options)))]}
        if rng.random() < 0.3:
            flags.add(options[int(rng.integers(len(options)))])
    if pattern == "reach":
        lo, hi = (800, 3000) if "pattern" in flags else (20, 800)
        followers, comps, mult = _organic(rng, flags, followers=_logu(rng, lo, hi), reach_scale=0.3)
    elif pattern == "organic":
        followers, comps, mult = _organic(rng, flags)
    else:
        followers, comps, mult = _organic(rng, flags, reach_scale=_logu(rng, 0.05, 1.0))
    span = _logu(rng, 3 * H, 21 * 86400)
    ts = _sampling_times(rng, span, "grid" in flags)
    t_now = span + (_logu(rng, 60, 86400) if rng.random() < 0.5 else 0.0)
    all_t = np.append(ts, t_now)
    expected = sum(v * _gamma_cum(all_t, s, k, tau) for v, s, k, tau in comps)
    organic_total = float(expected[-1])
    if pattern != "organic":
        parts = _bought(rng, pattern, "pattern" in flags, span)
        if pattern in ("burst", "with_likes") and rng.random() < 0.3:  # sized relative to the organic views
            parts = [(max(organic_total, 100) * _logu(rng, 0.5, 50), s, d, k) for _, s, d, k in parts]
        bought = _bought_cum(all_t, parts)
        # a purchase worth making: at least as many views as the organic ones by the time `views` is read
        floor = max(organic_total, 200.0)
        if bought[-1] < floor:
            bought *= floor * _logu(rng, 1, 5) / max(bought[-1], 1e-9)
        expected = expected + bought
    inc = np.diff(np.concatenate([[0.0], expected]))
    phi = _logu(rng, 0.005, 0.2)
    inc = rng.poisson(np.maximum(inc, 0) * rng.gamma(1 / phi, phi, size=len(inc)))
    cum = np.cumsum(inc)
    views = int(cum[-1])
    engagement = _engagement(rng, organic_total, followers, mult)
    if pattern == "with_likes":
        bought = max(views - organic_total, 0)
        like_rate = rng.uniform(0.06, 0.15) if "pattern" in flags else rng.uniform(0.01, 0.06)
        bought_likes = int(rng.poisson(bought * like_rate))
        engagement["likes"] += bought_likes
        reply_rate = rng.uniform(0.002, 0.01) if "pattern" in flags else _logu(rng, 1e-5, 3e-3)
        engagement["replies"] += int(rng.poisson(bought_likes * reply_rate))
    elif pattern != "organic" and rng.random() < 0.3:  # a few bot likes
        engagement["likes"] += int(rng.poisson(max(views - organic_total, 0) * _logu(rng, 1e-5, 2e-3)))
    history = [[float(a), int(b)] for a, b in zip(ts, cum[:-1])]
    if rng.random() < 0.05:  # glitches the cleaner must repair
        history = _glitch(rng, history)
    post = {
        "views": views,
        "view_history": history if rng.random() > 0.08 else None,
        "engagement": engagement if rng.random() > 0.08 else None,
        "follower_count": int(round(followers)) if rng.random() > 0.08 else None,
    }
    post.update(pattern=pattern, label=int(pattern != "organic"), variant="+".join(sorted(flags)) or "train")
    return post


def _glitch(rng, history):
    h = [list(p) for p in history]
    if h and rng.random() < 0.5:
        i = int(rng.integers(len(h)))
        h.append([h[i][0], max(h[i][1] - int(rng.integers(0, 50)), 0)])  # duplicate, stale count
    if h and rng.random() < 0.5:
        i = int(rng.integers(len(h)))
        h[i][1] = int(h[i][1] * rng.uniform(0.5, 1.0))  # a decreasing reading
    rng.shuffle(h)
    return h


def simulate_dataset(n: int, seed: int, region: str = "train", organic_share: float = 0.5) -> list[dict]:
    """n posts; organic with probability `organic_share`, else one of the four bought patterns."""
    rng = np.random.default_rng(seed)
    posts = []
    for _ in range(n):
        pattern = "organic" if rng.random() < organic_share else PATTERNS[1 + int(rng.integers(4))]
        posts.append(simulate_post(rng, pattern, region))
    return posts
