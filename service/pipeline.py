"""evaluate(posts) -> verdicts: the only place where checks become a decision.

Order of work, cheapest first:
  1. validate each post (a bad one becomes an `error` verdict; its neighbours go on),
  2. resolve its media inside the media root,
  3. run the rule checks; with `short_circuit`, a failed rule skips the models,
  4. ask each installed model about the posts still open, in one batch per model,
  5. turn scores into statuses with the policy's bands, and statuses into a decision.

The HTTP service, the CLI and the Spark job all call `Pipeline.evaluate`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from pydantic import ValidationError

from .media import MediaRoot, resolve_media
from .policy import MODEL_CHECKS, Policy, load_policy
from .rules import run_rules
from .schemas import (
    CHECK_NAMES,
    Check,
    CheckStatus,
    Decision,
    Post,
    Verdict,
    VerdictError,
    Versions,
    describe_validation_errors,
    json_type_name,
)
from .signals import SIGNAL_SPECS, CheckSignal, PostError, Signal, SignalSpec, load_signals

__all__ = ["Pipeline", "decide"]

log = logging.getLogger(__name__)

DEFAULT_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


@dataclass
class _Outcome:
    """A check's result plus whether a skip should hold the post for review."""

    check: Check
    blocking: bool = False


def _skipped(detail: str, blocking: bool = False) -> _Outcome:
    return _Outcome(Check(status=CheckStatus.skipped, detail=detail), blocking)


def decide(outcomes: Mapping[str, _Outcome]) -> Decision:
    """Any fail -> ineligible; else any review or blocking skip -> needs_review; else eligible."""
    statuses = [o.check.status for o in outcomes.values()]
    if CheckStatus.fail in statuses:
        return Decision.ineligible
    if CheckStatus.review in statuses or any(o.blocking for o in outcomes.values()):
        return Decision.needs_review
    return Decision.eligible


def _post_id_of(raw: Any) -> str | None:
    """The id to echo back in an error verdict, when the input has a usable one."""
    if isinstance(raw, Post):
        return raw.post_id
    if isinstance(raw, dict):
        pid = raw.get("post_id")
        if isinstance(pid, str) and 0 < len(pid) <= 128:
            return pid
    return None


class Pipeline:
    """Policy + installed models + media root; `evaluate` is safe to call from many fronts."""

    def __init__(self, policy: Policy, signals: Mapping[str, Signal], media_root: MediaRoot) -> None:
        self.policy = policy
        self.signals = dict(signals)
        self.media_root = media_root
        self.versions = Versions(
            policy=policy.version,
            models={spec.name: getattr(self.signals.get(spec.name), "version", None) for spec in SIGNAL_SPECS},
        )

    @classmethod
    def load(
        cls,
        *,
        policy_path: str | os.PathLike[str] | None = None,
        models_dir: str | os.PathLike[str] | None = None,
        media_root: str | os.PathLike[str] | None = None,
        only_models: Sequence[str] | None = None,
    ) -> Pipeline:
        """Everything from files: the policy, the shipped models, the media root ($BONUSCHECK_MEDIA_ROOT by default)."""
        policy = load_policy(policy_path)
        signals = load_signals(Path(models_dir or DEFAULT_MODELS_DIR), only=only_models)
        root = MediaRoot(media_root) if media_root is not None else MediaRoot.from_env()
        return cls(policy, signals, root)

    # -- verdicts ---------------------------------------------------------
    def error_verdict(self, post_id: str | None, code: str, message: str) -> Verdict:
        checks = {name: Check(status=CheckStatus.skipped, detail="post could not be read") for name in CHECK_NAMES}
        return Verdict(
            post_id=post_id,
            decision=Decision.error,
            bonus_tier="none",
            checks=checks,
            error=VerdictError(code=code, message=message),
            versions=self.versions,
        )

    def _verdict(self, post: Post, outcomes: dict[str, _Outcome]) -> Verdict:
        decision = decide(outcomes)
        tier = "none" if decision is Decision.ineligible else self.policy.tier_for(post.views)
        return Verdict(
            post_id=post.post_id,
            decision=decision,
            bonus_tier=tier,
            checks={name: outcomes[name].check for name in CHECK_NAMES},
            versions=self.versions,
        )

    # -- steps ------------------------------------------------------------
    @staticmethod
    def _validate(raw: Any) -> Post:
        if isinstance(raw, Post):
            return raw
        if not isinstance(raw, dict):
            raise PostError("invalid_post", f"post: expected a JSON object, got {json_type_name(raw)}")
        try:
            return Post.model_validate(raw)
        except ValidationError as exc:
            raise PostError("invalid_post", describe_validation_errors(exc.errors())) from None

    def _check_from_signal(self, name: str, sig: CheckSignal) -> _Outcome:
        band = self.policy.checks[name]
        if sig.score is None:
            reason = sig.skipped or "model gave no score"
            blocking = (sig.blocking and band.required) or (not sig.blocking and band.review_when_no_input)
            return _skipped(reason, blocking)
        status = band.status_for(sig.score)
        detail = None
        if status == "fail":
            detail = f"score {sig.score:.2f} >= fail_at {band.fail_at}"
        elif status == "review":
            detail = f"score {sig.score:.2f} >= review_at {band.review_at}"
        elif sig.blocking:  # the model saw only part of the input: what it missed could hide a violation
            status, detail = "review", f"score {sig.score:.2f}, but {sig.skipped or 'part of the input could not be read'}"
        return _Outcome(Check(status=status, score=round(sig.score, 4), detail=detail, evidence=list(sig.evidence)))

    def _score_batch(
        self, signal: Signal, posts: list[Post], media: list[list[Path]]
    ) -> list[dict[str, CheckSignal] | PostError]:
        """One batched call; if it fails, post by post so one bad post cannot sink the rest."""
        try:
            return list(signal.score_posts(posts, media))
        except Exception:  # noqa: BLE001 - isolate, then retry item by item below
            log.warning("model %s failed on a batch of %d; retrying per post", signal.name, len(posts), exc_info=True)
        results: list[dict[str, CheckSignal] | PostError] = []
        for post, paths in zip(posts, media):
            try:
                results.append(signal.score_posts([post], [paths])[0])
            except PostError as exc:
                results.append(exc)
            except Exception as exc:  # noqa: BLE001 - a model bug must not lose the post
                log.exception("model %s failed on post %s", signal.name, post.post_id)
                results.append({c: CheckSignal(skipped=f"model error: {type(exc).__name__}", blocking=True) for c in signal.checks})
        return results

    def _run_model(
        self, spec: SignalSpec, open_idx: list[int], posts: list[Post], media: list[list[Path]],
        outcomes: list[dict[str, _Outcome]], failed: dict[int, PostError],
    ) -> None:
        todo = []
        for i in open_idx:
            reason = spec.missing_input(posts[i])
            if reason is not None:
                for name in spec.checks:
                    outcomes[i].setdefault(name, _skipped(reason, self.policy.checks[name].review_when_no_input))
            else:
                todo.append(i)
        signal = self.signals.get(spec.name)
        if signal is None:
            for i in todo:
                for name in spec.checks:
                    outcomes[i].setdefault(name, _skipped("model not installed", self.policy.checks[name].required))
            return
        if not todo:
            return
        results = self._score_batch(signal, [posts[i] for i in todo], [media[i] for i in todo])
        for i, result in zip(todo, results):
            if isinstance(result, PostError):
                failed[i] = result
                continue
            for name in spec.checks:
                outcomes[i].setdefault(name, self._check_from_signal(name, result.get(name, CheckSignal(skipped="model gave no result", blocking=True))))

    # -- the one entry point ----------------------------------------------
    def evaluate(self, items: Sequence[Any], *, media_root: MediaRoot | None = None) -> list[Verdict]:
        """One verdict per item, in order. Items are Post objects or raw JSON values."""
        root = media_root or self.media_root
        verdicts: list[Verdict | None] = [None] * len(items)
        posts: list[Post] = []
        media: list[list[Path]] = []
        where: list[int] = []  # posts[k] came from items[where[k]]
        for i, raw in enumerate(items):
            try:
                post = self._validate(raw)
                media.append(resolve_media(root, post.media))
            except PostError as exc:
                verdicts[i] = self.error_verdict(_post_id_of(raw), exc.code, exc.message)
                continue
            posts.append(post)
            where.append(i)

        outcomes: list[dict[str, _Outcome]] = []
        open_idx: list[int] = []
        for k, post in enumerate(posts):
            rules = {name: _Outcome(check) for name, check in run_rules(post, self.policy).items()}
            failed_rules = [n for n, o in rules.items() if o.check.status is CheckStatus.fail]
            if failed_rules and self.policy.short_circuit:
                for name in MODEL_CHECKS:
                    rules.setdefault(name, _skipped(f"not needed: {', '.join(failed_rules)} failed"))
            else:
                open_idx.append(k)
            outcomes.append(rules)

        failed: dict[int, PostError] = {}
        for spec in SIGNAL_SPECS:
            self._run_model(spec, open_idx, posts, media, outcomes, failed)

        for k, post in enumerate(posts):
            if k in failed:
                verdicts[where[k]] = self.error_verdict(post.post_id, failed[k].code, failed[k].message)
            else:
                verdicts[where[k]] = self._verdict(post, outcomes[k])
        return verdicts  # type: ignore[return-value]
