"""Batch scoring: formats, worker processes, kill -9 and --resume, and Spark equal to local."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from service.batch import InputError, score_file

BIN = Path(sys.executable).parent
GOOD = {"post_id": "p", "author": {"id": "a", "is_public": True, "follower_count": 900}, "text": "Sunset run by the river",
        "views": 12840, "view_history": [[0, 0], [3600, 820], [86400, 11900]],
        "engagement": {"likes": 310, "replies": 22, "reposts": 9, "quotes": 1}}


def posts(n: int) -> list[dict]:
    out = []
    for i in range(n):
        post = dict(GOOD, post_id=f"p{i}", views=(i * 997) % 20000)
        if i % 7 == 3:
            post["author"] = {"id": "a", "is_public": False}
        out.append(post)
    return out


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def args(tmp_path: Path) -> dict:
    return {"media_root": str(tmp_path)}


def test_parquet_in_and_out_with_bad_rows(tmp_path):
    table = pa.Table.from_pylist(
        [
            {"post_id": "a", "author": {"id": "x", "is_public": True}, "text": "hello there", "views": 3000,
             "view_history": [[0.0, 0.0], [60.0, 820.0]]},
            {"post_id": "b", "author": {"id": "x", "is_public": True}, "text": "hi", "views": None, "view_history": None},
            {"post_id": "c", "author": {"id": "x", "is_public": False}, "text": "yo", "views": 100, "view_history": None},
        ]
    )
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    out = tmp_path / "out.parquet"
    summary = score_file(src, out, pipeline_args=args(tmp_path), workers=1)
    got = pq.read_table(out).to_pylist()
    assert [r["post_id"] for r in got] == ["a", "b", "c"]
    assert [r["decision"] for r in got][1:] == ["error", "ineligible"]
    assert got[0]["decision"] != "error", got[0]["error_message"]  # 820.0 views read back as an integer
    assert got[1]["error_code"] == "invalid_post" and got[1]["error_message"] == "row 2: views: required field is missing"
    assert json.loads(got[2]["verdict_json"])["checks"]["public_profile"]["status"] == "fail"
    assert summary.posts == 3 and summary.error_codes == {"invalid_post": 1}


def test_parquet_with_wrong_schema_fails_before_work(tmp_path):
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [1], "body": ["x"]}), src)
    with pytest.raises(InputError, match=r"missing \['post_id', 'author', 'views'\]"):
        score_file(src, tmp_path / "out.jsonl", pipeline_args=args(tmp_path))
    assert not (tmp_path / "out.jsonl").exists()
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        score_file(tmp_path / "junk.parquet", tmp_path / "out.jsonl", pipeline_args=args(tmp_path))


def test_workers_keep_input_order_and_match_single_process(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [*posts(300), "{broken", {"post_id": "neg", "views": -1}])
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    score_file(src, one, pipeline_args=args(tmp_path), workers=1, batch_size=64)
    summary = score_file(src, two, pipeline_args=args(tmp_path), workers=2, batch_size=16)
    assert one.read_bytes() == two.read_bytes()
    assert [v["post_id"] for v in read_jsonl(two)] == [f"p{i}" for i in range(300)] + [None, "neg"]
    assert summary.posts == 302 and summary.error_codes == {"invalid_json": 1, "invalid_post": 1}


def test_kill_9_then_resume_equals_uninterrupted_run(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [*posts(5_000), "not json"])
    reference = tmp_path / "reference.jsonl"
    score_file(src, reference, pipeline_args=args(tmp_path), workers=1, batch_size=500)

    out = tmp_path / "out.jsonl"
    checkpoint = tmp_path / ".out.jsonl.checkpoint"
    cmd = [str(BIN / "bonuscheck"), "score", str(src), "-o", str(out), "--workers", "1", "--batch-size", "10", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # let it land a few more chunks past the first checkpoint
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not out.exists(), "output must not appear under its real name before the run completes"
    done = json.loads(checkpoint.read_text())["rows"]
    assert 0 < done < 5_001

    result = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == reference.read_bytes()
    assert not checkpoint.exists() and not (tmp_path / ".out.jsonl.partial").exists()


def test_resume_refuses_a_changed_input(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", posts(50))
    out = tmp_path / "out.jsonl"
    (tmp_path / ".out.jsonl.partial").write_text("")
    (tmp_path / ".out.jsonl.checkpoint").write_text(json.dumps({"fingerprint": "older run", "cursor": 0}))
    with pytest.raises(InputError, match="changed since the interrupted run"):
        score_file(src, out, pipeline_args=args(tmp_path), resume=True)


@pytest.mark.slow
def test_spark_equals_local_post_for_post(tmp_path):
    from service.spark_job import spark_score

    records = [{"post_id": p["post_id"], "post_json": json.dumps(p)} for p in posts(120)]
    records += [{"post_id": "bad1", "post_json": "{not json"}, {"post_id": "bad2", "post_json": json.dumps({"post_id": "bad2"})}]
    src = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(records), src, row_group_size=40)
    local = tmp_path / "local.parquet"
    score_file(src, local, pipeline_args=args(tmp_path), workers=1)
    n = spark_score(str(src), str(tmp_path / "spark.parquet"), master="local[2]", media_root=str(tmp_path))
    assert n == len(records)
    expected = pq.read_table(local).to_pylist()
    got = pq.read_table(tmp_path / "spark.parquet").to_pylist()
    assert [r["post_id"] for r in expected][-2:] == ["bad1", "bad2"]
    assert sorted(got, key=lambda r: r["post_id"]) == sorted(expected, key=lambda r: r["post_id"])
    assert expected[-2]["error_message"].startswith("row 121: post_json: not valid JSON")
