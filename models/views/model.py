"""ViewPatternModel: calibrated P(bought views) for a post from its view curve and engagement.

scikit-learn shaped: `fit(X, y)` on the feature matrix of `ViewCurveFeatures` (NaN allowed),
`predict_proba(X)`, and `score_posts(posts)` that does features + model + evidence for a batch.
The estimator is a histogram gradient-boosted tree ensemble; its scores are calibrated with
isotonic regression fitted on a held-back stratified share of the training rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from threadpoolctl import threadpool_limits
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .config import ViewsConfig
from .evidence import build_evidence
from .features import ViewCurveFeatures

__all__ = ["ViewPatternModel", "ViewScore", "load"]

DEFAULT_ARTIFACT = Path(__file__).resolve().parent / "artifact"
_ESTIMATOR_FILE = "estimator.skops"
_CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class ViewScore:
    """One post's result. probability: calibrated P(bought views), None when skipped."""

    probability: float | None
    evidence: tuple[dict, ...] = ()
    skipped: str | None = None


class ViewPatternModel(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees on view-curve features, isotonic-calibrated.

    Args:
        max_iter: boosting rounds.
        learning_rate: shrinkage per round.
        max_leaf_nodes: leaves per tree.
        min_samples_leaf: rows per leaf at least.
        l2_regularization: L2 penalty on leaf values.
        calibration_fraction: share of the fit rows held back to fit the isotonic calibration.
        random_state: seed for the calibration split and the trees.
        config: feature settings used by `score_posts` (default `ViewsConfig()`).
    """

    _parameter_constraints: dict = {
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_leaf_nodes": [Interval(Integral, 2, None, closed="left")],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
        "l2_regularization": [Interval(Real, 0, None, closed="left")],
        "calibration_fraction": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
        "config": [ViewsConfig, None],
    }

    def __init__(
        self,
        *,
        max_iter: int = 300,
        learning_rate: float = 0.08,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 40,
        l2_regularization: float = 1.0,
        calibration_fraction: float = 0.25,
        random_state: int | None = 0,
        config: ViewsConfig | None = None,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state
        self.config = config

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    @property
    def version(self) -> str:
        return getattr(self, "version_", "views-unfitted")

    # ---- learning --------------------------------------------------------------------------------
    def fit(self, X, y):
        self._validate_params()
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", reset=True)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(
                f"Only binary classification is supported. y has {len(self.classes_)} classes, "
                "but ViewPatternModel expects 2 (organic, bought)"
            )
        y01 = (y == self.classes_[1]).astype(int)
        seed = self.random_state if isinstance(self.random_state, Integral) else 0
        n_cal = int(round(self.calibration_fraction * len(y01)))
        if min(np.bincount(y01)) >= 4 and 2 <= n_cal <= len(y01) - 2:
            X_fit, X_cal, y_fit, y_cal = train_test_split(
                X, y01, test_size=n_cal, stratify=y01, random_state=seed
            )
        else:  # too few rows to hold any back: calibrate on the fit rows
            X_fit, X_cal, y_fit, y_cal = X, X, y01, y01
        self.estimator_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
        ).fit(X_fit, y_fit)
        self.n_iter_ = self.estimator_.n_iter_
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(self.estimator_.predict_proba(X_cal)[:, 1], y_cal)
        self.calibration_x_ = np.asarray(iso.X_thresholds_, float)  # (k,) raw scores
        self.calibration_y_ = np.asarray(iso.y_thresholds_, float)  # (k,) calibrated probabilities
        self.version_ = "views-dev"
        return self

    # ---- inference -------------------------------------------------------------------------------
    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, ensure_all_finite="allow-nan", reset=False)
        p = self._calibrate(self.estimator_.predict_proba(X)[:, 1])
        return np.column_stack([1 - p, p])  # (n, 2)

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def _calibrate(self, raw: np.ndarray) -> np.ndarray:
        if len(self.calibration_x_) == 1:
            return np.full_like(raw, self.calibration_y_[0])
        return np.interp(raw, self.calibration_x_, self.calibration_y_)

    def score_posts(self, posts: Sequence[Mapping]) -> list[ViewScore]:
        """One ViewScore per post, in order. See `ViewCurveFeatures` for the mapping keys."""
        check_is_fitted(self)
        if not isinstance(posts, Sequence) or isinstance(posts, (str, bytes)):
            raise TypeError(f"posts: expected a sequence of mappings, got {type(posts).__name__}")
        if len(posts) == 0:
            return []
        config = self.config or ViewsConfig()
        batch = ViewCurveFeatures(config).transform(posts)
        live = np.array([s is None for s in batch.skipped])
        proba = np.full(len(posts), np.nan)
        if live.any():
            # One OpenMP thread: the trees are cheap, and on a busy machine OpenMP's spinning
            # workers made a 10-post call ~400x slower; callers scale with processes instead.
            with threadpool_limits(limits=1, user_api="openmp"):
                raw = self.estimator_.predict_proba(batch.X[live])[:, 1]
            proba[live] = self._calibrate(raw)
        evidence = build_evidence(batch, config, proba)
        return [
            ViewScore(None, (), batch.skipped[i]) if not live[i] else ViewScore(float(proba[i]), evidence[i], None)
            for i in range(len(posts))
        ]

    # ---- persistence -----------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write estimator.skops + config.json into directory `path`."""
        import skops.io as sio

        check_is_fitted(self)
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        sio.dump(self.estimator_, path / _ESTIMATOR_FILE)
        params = {k: v for k, v in self.get_params().items() if k != "config"}
        doc = {
            "version": self.version,
            "params": params,
            "config": (self.config or ViewsConfig()).to_dict(),
            "classes": self.classes_.tolist(),
            "n_features_in": int(self.n_features_in_),
            "calibration_x": self.calibration_x_.tolist(),
            "calibration_y": self.calibration_y_.tolist(),
        }
        (path / _CONFIG_FILE).write_text(json.dumps(doc, indent=1))
        return path


def load(path=DEFAULT_ARTIFACT) -> ViewPatternModel:
    """Rebuild a fitted ViewPatternModel from an artifact directory written by `save`."""
    import skops.io as sio

    path = Path(path)
    for name in (_ESTIMATOR_FILE, _CONFIG_FILE):
        if not (path / name).is_file():
            raise FileNotFoundError(
                f"view-pattern artifact: expected {name} in {path}, not found; run `make train-views` to build it"
            )
    doc = json.loads((path / _CONFIG_FILE).read_text())
    untrusted = sio.get_untrusted_types(file=path / _ESTIMATOR_FILE)
    foreign = [t for t in untrusted if not t.startswith(("sklearn.", "numpy."))]
    if foreign:
        raise ValueError(f"{path / _ESTIMATOR_FILE}: expected only sklearn/numpy types, got {foreign}")
    model = ViewPatternModel(**doc["params"], config=ViewsConfig.from_dict(doc["config"]))
    model.estimator_ = sio.load(path / _ESTIMATOR_FILE, trusted=untrusted)
    model.classes_ = np.asarray(doc["classes"])
    model.n_features_in_ = doc["n_features_in"]
    model.calibration_x_ = np.asarray(doc["calibration_x"], float)
    model.calibration_y_ = np.asarray(doc["calibration_y"], float)
    model.version_ = doc["version"]
    return model
