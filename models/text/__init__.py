"""Text model: calibrated P(brand partnership) and P(copyrighted material) per post, with evidence spans."""

from .classifier import TextClassifier, TextScore, load

__all__ = ["load", "TextClassifier", "TextScore"]
