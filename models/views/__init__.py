"""The view-pattern model behind the `organic_views` check: `load(path)` and `ViewPatternModel.score_posts`."""

from .model import ViewPatternModel, ViewScore, load

__all__ = ["ViewPatternModel", "ViewScore", "load"]
