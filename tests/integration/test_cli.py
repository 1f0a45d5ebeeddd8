"""The `bonuscheck` CLI: score, schema, serve's refusal, and --help, through CliRunner and one real subprocess.

click >= 8.2 has no `mix_stderr`: `result.stdout` and `result.stderr` are always
separate, `result.output` interleaves them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.batch import score_file
from service.cli import ExitStatus, app
from service.policy import DEFAULT_POLICY_PATH

REPO = Path(__file__).resolve().parents[2]
BONUSCHECK = str(Path(sys.executable).with_name("bonuscheck"))
PIPELINE_ARGS = {"policy_path": str(DEFAULT_POLICY_PATH), "media_root": None}
W1 = ["--workers", "1"]  # in this process: worker start-up costs seconds on a 2-core runner
CHECKS = [
    "public_profile", "has_text", "min_views", "organic_views",
    "no_branded_content", "no_copyrighted_content", "no_platform_watermark",
]


def post(post_id: str, views: int = 3000, **changes) -> dict:
    return {"post_id": post_id, "author": {"id": "a", "is_public": True}, "text": "Sunset run, 12 km", "views": views, **changes}


# (line, what the verdict must be): "ok" is judged, otherwise the expected error code.
LINES: list[tuple[str, str]] = [
    (json.dumps(post("good-1")), "ok"),
    ('{"post_id": "broken", "views": ', "invalid_json"),
    (json.dumps({"post_id": "missing"}), "invalid_post"),
    (json.dumps(post("negative", views=-5)), "invalid_post"),
    (json.dumps(post("huge-text", text="x" * 1_000_000)), "invalid_post"),
    ("", "invalid_json"),
    ("   ", "invalid_json"),
    (json.dumps([post("in-array")]), "invalid_post"),
    ('"just a string"', "invalid_post"),
    (json.dumps(post("bad-media", media=[{"type": "image", "path": "../x.jpg"}])), "invalid_media_path"),
    (json.dumps(post("good-2", views=12_000, routing_key="eu")), "ok"),
    (json.dumps(post("good-3", views=10, author={"id": "a", "is_public": False})), "ok"),
]
EXPECTED_IDS = ["good-1", None, "missing", "negative", "huge-text", None, None, None, None, "bad-media", "good-2", "good-3"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"BONUSCHECK_POLICY": None, "BONUSCHECK_API_KEYS": None, "HOST": None, "PORT": None})


@pytest.fixture
def posts_file(tmp_path) -> Path:
    path = tmp_path / "posts.jsonl"
    path.write_text("\n".join(line for line, _ in LINES) + "\n", encoding="utf-8")
    return path


def read_verdicts(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_verdicts_match_lines(verdicts: list[dict]) -> None:
    assert len(verdicts) == len(LINES)
    assert [v["post_id"] for v in verdicts] == EXPECTED_IDS
    for number, (verdict, (_, want)) in enumerate(zip(verdicts, LINES), start=1):
        assert list(verdict["checks"]) == CHECKS
        if want == "ok":
            assert verdict["decision"] in {"eligible", "ineligible", "needs_review"}
            assert verdict["error"] is None
        else:
            assert verdict["decision"] == "error", number
            assert verdict["error"]["code"] == want, number
            assert verdict["error"]["message"].startswith(f"line {number}: "), verdict["error"]["message"]
            assert verdict["bonus_tier"] == "none"
    assert verdicts[-1]["decision"] == "ineligible"  # private profile and 10 views fail the rules


def test_score_mixed_file(runner, posts_file, tmp_path):
    out, report = tmp_path / "verdicts.jsonl", tmp_path / "report.json"
    result = runner.invoke(app, ["score", *W1, str(posts_file), "-o", str(out), "--report", str(report), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    verdicts = read_verdicts(out)
    assert_verdicts_match_lines(verdicts)
    assert verdicts[3]["error"]["message"] == "line 4: views: expected >= 0, got -5"
    assert "line 5: text: expected at most 10000 characters" in verdicts[4]["error"]["message"]
    assert verdicts[7]["error"]["message"] == "line 8: post: expected a JSON object, got array"

    assert f"{len(LINES)} posts in " in result.stderr
    assert "decisions: " in result.stderr and f"error {len(LINES) - 3}" in result.stderr
    assert "errors: invalid_post 5, invalid_json 3, invalid_media_path 1" in result.stderr

    summary = json.loads(report.read_text())
    assert summary["posts"] == len(LINES)
    assert summary["decisions"] == dict(Counter(v["decision"] for v in verdicts))
    assert summary["error_codes"] == {"invalid_json": 3, "invalid_post": 5, "invalid_media_path": 1}
    assert summary["failed_checks"]["public_profile"] == 1 and summary["failed_checks"]["min_views"] == 1
    assert summary["seconds"] >= 0

    assert sorted(p.name for p in tmp_path.iterdir()) == ["posts.jsonl", "report.json", "verdicts.jsonl"]  # no .partial


def test_score_replaces_an_existing_output(runner, posts_file, tmp_path):
    out = tmp_path / "verdicts.jsonl"
    out.write_text("old\n" * 100)
    result = runner.invoke(app, ["score", *W1, str(posts_file), "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert len(read_verdicts(out)) == len(LINES)


def test_score_small_batches_give_the_same_verdicts(runner, posts_file, tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert runner.invoke(app, ["score", *W1, str(posts_file), "-o", str(a), "--no-progress"]).exit_code == 0
    assert runner.invoke(app, ["score", *W1, str(posts_file), "-o", str(b), "--batch-size", "1", "--no-progress"]).exit_code == 0
    assert read_verdicts(a) == read_verdicts(b)


def test_score_media_root_option(runner, tmp_path):
    media = tmp_path / "media"
    (media / "img").mkdir(parents=True)
    (media / "img" / "a.jpg").write_bytes(b"\xff\xd8 not a real jpeg")
    posts = tmp_path / "posts.jsonl"
    posts.write_text(
        json.dumps(post("found", media=[{"type": "image", "path": "img/a.jpg"}])) + "\n"
        + json.dumps(post("missing", media=[{"type": "image", "path": "img/b.jpg"}])) + "\n"
    )
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["score", *W1, str(posts), "-o", str(out), "--media-root", str(media), "--no-progress"])
    assert result.exit_code == 0, result.output
    found, missing = read_verdicts(out)
    assert found["error"] is None or found["error"]["code"] != "media_not_found"
    assert missing["error"]["code"] == "media_not_found"
    assert str(tmp_path) not in missing["error"]["message"]  # no server paths


def test_progress_bar_goes_to_stderr(runner, posts_file, tmp_path):
    result = runner.invoke(app, ["score", *W1, str(posts_file), "-o", str(tmp_path / "v.jsonl"), "--progress"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "scoring" in result.stderr


def test_score_real_subprocess(posts_file, tmp_path):
    out, report = tmp_path / "verdicts.jsonl", tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if k != "BONUSCHECK_POLICY"}
    done = subprocess.run(
        [BONUSCHECK, "score", str(posts_file), "-o", str(out), "--report", str(report)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert_verdicts_match_lines(read_verdicts(out))
    assert f"{len(LINES)} posts in " in done.stderr
    assert json.loads(report.read_text())["posts"] == len(LINES)
    assert not list(tmp_path.glob(".*.partial"))


# -- the output appears only when complete --------------------------------------------------------


class _Crash(Exception):
    pass


def _crash_on_second_chunk():
    calls = []

    def on_progress(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 2:
            raise _Crash

    return on_progress


def test_output_absent_until_complete(posts_file, tmp_path):
    out = tmp_path / "verdicts.jsonl"
    with pytest.raises(_Crash):
        score_file(posts_file, out, pipeline_args=PIPELINE_ARGS, batch_size=2, on_progress=_crash_on_second_chunk())
    assert not out.exists()


def test_crash_keeps_the_previous_output(posts_file, tmp_path):
    out = tmp_path / "verdicts.jsonl"
    out.write_text("previous run\n")
    with pytest.raises(_Crash):
        score_file(posts_file, out, pipeline_args=PIPELINE_ARGS, batch_size=2, on_progress=_crash_on_second_chunk())
    assert out.read_text() == "previous run\n"


def test_rerun_after_a_crash_gives_the_full_output(runner, posts_file, tmp_path):
    out = tmp_path / "verdicts.jsonl"
    with pytest.raises(_Crash):
        score_file(posts_file, out, pipeline_args=PIPELINE_ARGS, batch_size=2, on_progress=_crash_on_second_chunk())
    for extra in ([], ["--resume"]):
        result = runner.invoke(app, ["score", *W1, str(posts_file), "-o", str(out), "--no-progress", *extra])
        assert result.exit_code == 0, result.output
        assert_verdicts_match_lines(read_verdicts(out))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["posts.jsonl", "verdicts.jsonl"]  # no .partial, no checkpoint


# -- errors name the option and exit 1 ------------------------------------------------------------


def test_missing_input_exits_1_naming_input(runner, tmp_path):
    result = runner.invoke(app, ["score", *W1, str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == ExitStatus.ERROR == 1
    assert "'INPUT'" in result.stderr and "nope.jsonl" in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_input_folder_exits_1_naming_input(runner, tmp_path):
    result = runner.invoke(app, ["score", *W1, str(tmp_path), "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 1
    assert "'INPUT'" in result.stderr


def test_missing_output_folder_exits_1_naming_output(runner, posts_file, tmp_path):
    result = runner.invoke(app, ["score", *W1, str(posts_file), "-o", str(tmp_path / "no" / "out.jsonl")])
    assert result.exit_code == 1
    assert "'--output'" in result.stderr


def test_missing_media_root_exits_1(runner, posts_file, tmp_path):
    result = runner.invoke(app, ["score", *W1, str(posts_file), "-o", str(tmp_path / "o.jsonl"), "--media-root", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "'--media-root'" in result.stderr


def _policy_with(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "policy.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        ("short_circuit: true", "short_circuit: true\nshort_circut: true", ["short_circut"]),
        ("review_at: 0.3", "review_at: 0.95", ["checks.no_branded_content", "review_at", "fail_at"]),
        ("min_views: 2500", "min_views: 25OO", ["views.min_views"]),
        ("high_tier_views: 10000", "high_tier_views: 100", ["high_tier_views", "min_views"]),
        ("fail_at: 0.9", "fail_at: 1.5", ["fail_at"]),
        ("  no_platform_watermark:", "  no_platform_watermarks:", ["no_platform_watermarks"]),
        ('version: "2024-04"', 'version: "2024-04"\n  bad indentation: [', ["not valid YAML"]),
    ],
    ids=["unknown-key", "review-above-fail", "string-threshold", "high-below-min", "fail-above-1", "unknown-check", "bad-yaml"],
)
def test_bad_policy_exits_1_naming_policy_and_key(runner, posts_file, tmp_path, old, new, names):
    policy = _policy_with(tmp_path, old, new)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["score", *W1, str(posts_file), "-o", str(out), "--policy", str(policy)])
    assert result.exit_code == 1, result.output
    assert "'--policy'" in result.stderr
    for name in names:
        assert name in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_policy_from_env(runner, posts_file, tmp_path):
    policy = _policy_with(tmp_path, "min_views: 2500", "min_views: 100")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["score", *W1, str(posts_file), "-o", str(out), "--no-progress"], env={"BONUSCHECK_POLICY": str(policy)})
    assert result.exit_code == 0, result.output
    assert read_verdicts(out)[0]["checks"]["min_views"]["detail"] == "3000 >= 100"


def test_bad_batch_size_is_a_usage_error(runner, posts_file, tmp_path):
    result = runner.invoke(app, ["score", *W1, str(posts_file), "-o", str(tmp_path / "o.jsonl"), "--batch-size", "0"])
    assert result.exit_code == ExitStatus.USAGE == 2
    assert "--batch-size" in result.stderr


# -- schema, serve, help --------------------------------------------------------------------------


def test_schema_prints_post_and_verdict(runner):
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    schemas = json.loads(result.stdout)
    assert set(schemas) == {"post", "verdict"}
    assert {"post_id", "author", "views"} <= set(schemas["post"]["required"])
    assert set(schemas["verdict"]["properties"]) >= {"post_id", "decision", "bonus_tier", "checks", "error", "versions"}


@pytest.mark.parametrize("which", ["post", "verdict"])
def test_schema_one(runner, which):
    result = runner.invoke(app, ["schema", which])
    assert result.exit_code == 0
    assert "properties" in json.loads(result.stdout)


def test_schema_unknown_is_a_usage_error(runner):
    result = runner.invoke(app, ["schema", "posts"])
    assert result.exit_code == 2
    assert "'WHICH'" in result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_serve_public_host_without_keys_is_refused(runner, host):
    result = runner.invoke(app, ["serve", "--host", host, "--port", "1"])
    assert result.exit_code == ExitStatus.UNSAFE == 3
    assert "'--host'" in result.stderr and "BONUSCHECK_API_KEYS" in result.stderr


def test_help_lists_the_commands(runner):
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("score", "schema", "serve"):
        assert command in result.stdout


def test_no_args_shows_help(runner):
    result = runner.invoke(app, [])
    assert "score" in result.output


def test_real_help_subprocess():
    done = subprocess.run([BONUSCHECK, "--help"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0
    for command in ("score", "schema", "serve"):
        assert command in done.stdout
