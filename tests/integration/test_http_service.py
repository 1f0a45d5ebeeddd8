"""The HTTP service end to end: a real `bonuscheck serve` subprocess, spoken to with httpx.

One server is started for the whole module (startup costs seconds on a 2-core
runner). It runs with API keys, so every non-auth test sends `Bearer k1` and the
auth tests leave it out. Assertions stick to facts that hold whether or not the
models are installed (rule checks, error codes, HTTP statuses).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import httpx
import pytest

from tests.integration.server_process import free_port, stop

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BONUSCHECK = str(Path(sys.executable).with_name("bonuscheck"))
KEYS = ("k1", "k2")
AUTH = {"Authorization": f"Bearer {KEYS[0]}"}
CHECKS = {
    "public_profile", "has_text", "min_views", "organic_views",
    "no_branded_content", "no_copyrighted_content", "no_platform_watermark",
}
JUDGED = {"eligible", "ineligible", "needs_review"}


def form(**fields: str) -> list:
    """Plain form fields sent as multipart parts (httpx sends `data=` alone as urlencoded)."""
    return [(name, (None, value)) for name, value in fields.items()]


def tiny_png(width: int = 8, height: int = 8) -> bytes:
    """A valid grey RGB PNG, built by hand so the test needs no image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def post(post_id: str = "p1", **changes) -> dict:
    base = {
        "post_id": post_id,
        "author": {"id": "creator_42", "is_public": True, "follower_count": 15300},
        "text": "Sunset run by the river, 12 km today",
        "views": 3000,
    }
    base.update(changes)
    return base


def server_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BONUSCHECK_API_KEYS", "BONUSCHECK_POLICY", "HOST", "PORT")}
    env.update(BENTOML_DO_NOT_TRACK="true", BENTOML_HOME=str(tmp / "bentoml_home"), BONUSCHECK_MEDIA_ROOT=str(tmp / "media"))
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> str:
    """A real server with API keys k1,k2 and a media root holding img/a.png; yields its base URL."""
    tmp = tmp_path_factory.mktemp("http")
    (tmp / "media" / "img").mkdir(parents=True)
    (tmp / "media" / "img" / "a.png").write_bytes(tiny_png())
    port = free_port()
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [BONUSCHECK, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO, env=server_env(tmp, BONUSCHECK_API_KEYS=",".join(KEYS)),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode} before ready:\n{log_path.read_text(errors='replace')}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not ready after 120 s:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.25)
        yield url
    finally:
        stop(proc)
        log_text = log_path.read_text(errors="replace")
        # A 500 anywhere in the run is a bug even when the test that caused it only checked `< 500`.
        print(f"server log: {log_text.count('status=500')} responses with status 500")


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server, headers=AUTH, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def anon(server):
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c


def assert_verdict_shape(v: dict) -> None:
    assert set(v) >= {"post_id", "decision", "bonus_tier", "checks", "error", "versions"}
    assert set(v["checks"]) == CHECKS
    assert v["bonus_tier"] in {"none", "base", "high"}
    for check in v["checks"].values():
        assert check["status"] in {"pass", "fail", "review", "skipped"}
        if check["status"] == "skipped":
            assert check["detail"]


def locs(response: httpx.Response) -> list[list]:
    body = response.json()
    assert isinstance(body["detail"], list) and body["detail"]
    for entry in body["detail"]:
        assert entry["msg"]
    return [entry["loc"] for entry in body["detail"]]


# -- the happy path --------------------------------------------------------------------------------


def test_evaluate_valid_post(client):
    r = client.post("/evaluate", json={"post": post("17890000000000001")})
    assert r.status_code == 200, r.text
    v = r.json()
    assert_verdict_shape(v)
    assert v["post_id"] == "17890000000000001"
    assert v["decision"] in JUDGED
    assert v["error"] is None
    assert v["checks"]["public_profile"]["status"] == "pass"
    assert v["checks"]["has_text"]["status"] == "pass"
    assert v["checks"]["min_views"] == {"status": "pass", "detail": "3000 >= 2500", "score": None, "evidence": []}
    assert v["checks"]["no_platform_watermark"]["status"] == "skipped"  # no media
    assert v["versions"]["policy"] == "2024-04"
    if not any(v["versions"]["models"].values()):
        assert v["decision"] == "needs_review"  # required model checks could not run
        assert v["bonus_tier"] == "base"


def test_evaluate_with_media_in_root(client):
    r = client.post("/evaluate", json={"post": post(media=[{"type": "image", "path": "img/a.png"}])})
    assert r.status_code == 200, r.text
    assert r.json()["decision"] in JUDGED


def test_concurrent_evaluate_requests_each_get_their_own_verdict(server):
    """Concurrent /evaluate calls are coalesced into shared pipeline calls: each answer is still its own post's."""
    from concurrent.futures import ThreadPoolExecutor

    cases = [(f"c{i}", 1000 * i, "img/a.png" if i % 3 == 0 else "../outside.png" if i % 3 == 1 else None) for i in range(12)]

    def one(case):
        pid, views, path = case
        body = post(pid, views=views, media=[{"type": "image", "path": path}] if path else [])
        with httpx.Client(base_url=server, headers=AUTH, timeout=120) as c:
            return c.post("/evaluate", json={"post": body})

    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(one, cases))
    for (pid, views, path), r in zip(cases, responses):
        assert r.status_code == 200, r.text
        v = r.json()
        assert v["post_id"] == pid
        assert (v["error"] or {}).get("code") == ("invalid_media_path" if path == "../outside.png" else None)
        if v["error"] is None:
            assert v["checks"]["min_views"]["status"] == ("pass" if views >= 2500 else "fail")


def test_rule_failure_is_ineligible(client):
    r = client.post("/evaluate", json={"post": post(views=2499, author={"id": "a", "is_public": False})})
    assert r.status_code == 200, r.text
    v = r.json()
    assert (v["decision"], v["bonus_tier"]) == ("ineligible", "none")
    assert v["checks"]["min_views"]["detail"] == "2499 < 2500"
    assert v["checks"]["public_profile"]["status"] == "fail"


def test_unknown_fields_are_ignored(client):
    body = post(routing_key="eu-1", author={"id": "a", "is_public": True, "tier": "gold"})
    r = client.post("/evaluate", json={"post": body, "request_meta": {"x": 1}})
    assert r.status_code == 200, r.text
    assert r.json()["decision"] in JUDGED


def test_evaluate_batch_keeps_input_order(client):
    ids = ["c", "a", "b", "zz", "m"]
    posts = [post(pid, views=1000 * i) for i, pid in enumerate(ids)]
    posts[3]["media"] = [{"type": "image", "path": "../x"}]
    r = client.post("/evaluate_batch", json={"posts": posts})
    assert r.status_code == 200, r.text
    verdicts = r.json()
    assert [v["post_id"] for v in verdicts] == ids
    for v in verdicts:
        assert_verdict_shape(v)
    assert verdicts[3]["error"]["code"] == "invalid_media_path"
    assert [v["decision"] for v in verdicts[:3]] == ["ineligible", "ineligible", "ineligible"]  # 0, 1000, 2000 views


# -- 422: field validation, loc names the field ---------------------------------------------------


@pytest.mark.parametrize(
    ("route", "body", "loc"),
    [
        ("/evaluate", {"post": post(views=-1)}, ["post", "views"]),
        ("/evaluate", {"post": post(views="3000")}, ["post", "views"]),
        ("/evaluate", {"post": post(views=3000.0)}, ["post", "views"]),
        ("/evaluate", {"post": post(views=True)}, ["post", "views"]),
        ("/evaluate", {"post": post(post_id=17)}, ["post", "post_id"]),
        ("/evaluate", {"post": post(post_id="")}, ["post", "post_id"]),
        ("/evaluate", {"post": {k: v for k, v in post().items() if k != "author"}}, ["post", "author"]),
        ("/evaluate", {"post": post(author={"id": "a", "is_public": "yes"})}, ["post", "author", "is_public"]),
        ("/evaluate", {"post": post(text="x" * 10_001)}, ["post", "text"]),
        ("/evaluate", {"post": post(media=[{"type": "image", "path": "img/a.png"}] * 21)}, ["post", "media"]),
        ("/evaluate", {"post": post(media=[{"type": "audio", "path": "a.mp3"}])}, ["post", "media", 0, "type"]),
        ("/evaluate", {"post": post(engagement={"likes": -3})}, ["post", "engagement", "likes"]),
        ("/evaluate", {"posts": [post()]}, ["post"]),
        ("/evaluate_batch", {"posts": [post("a"), post("b", views=-1)]}, ["posts", 1, "views"]),
        ("/evaluate_batch", {"posts": []}, ["posts"]),
        ("/evaluate_batch", {"posts": [post("dup"), post("x"), post("dup")]}, ["posts"]),
    ],
    ids=[
        "negative-views", "string-views", "float-views", "bool-views", "int-post-id", "empty-post-id",
        "missing-author", "string-is-public", "text-10001", "media-21", "media-type", "negative-likes",
        "wrong-envelope", "batch-item", "batch-empty", "batch-duplicate-ids",
    ],
)
def test_invalid_fields_are_422_naming_the_field(client, route, body, loc):
    r = client.post(route, json=body)
    assert r.status_code == 422, r.text
    assert loc in locs(r)


def test_text_at_the_limit_is_accepted(client):
    r = client.post("/evaluate", json={"post": post(text="x" * 10_000)})
    assert r.status_code == 200, r.text


def test_duplicate_ids_message_names_the_duplicate(client):
    r = client.post("/evaluate_batch", json={"posts": [post("dup"), post("dup")]})
    assert r.status_code == 422
    assert "posts[1].post_id" in r.json()["detail"][0]["msg"]


# -- 400 / 413: the request guard -----------------------------------------------------------------


@pytest.mark.parametrize("route", ["/evaluate", "/evaluate_batch", "/evaluate_upload"])
def test_malformed_json_is_400(client, route):
    r = client.post(route, content=b'{"post": {"post_id": ', headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert locs(r) == [["body"]]
    assert "line 1 column" in r.json()["detail"][0]["msg"]


def test_json_body_over_1mb_is_413(client):
    body = json.dumps({"post": post(text="x" * 1_000_100)}).encode()
    r = client.post("/evaluate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    assert locs(r) == [["body"]]


def test_chunked_body_over_1mb_is_413(client):
    """No Content-Length: the guard counts bytes as they arrive."""

    def chunks():
        yield b'{"post": {"text": "'
        for _ in range(20):
            yield b"x" * 100_000
        yield b'"}}'

    r = client.post("/evaluate", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text


# -- media paths become error verdicts, not HTTP errors -------------------------------------------


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("../x", "invalid_media_path"),
        ("img/../../x.png", "invalid_media_path"),
        ("/etc/passwd", "invalid_media_path"),
        ("img\\a.png", "invalid_media_path"),
        ("img/missing.png", "media_not_found"),
        ("img", "media_not_found"),  # a folder, not a file
    ],
)
def test_bad_media_path_is_an_error_verdict(client, path, code):
    r = client.post("/evaluate", json={"post": post("m1", media=[{"type": "image", "path": path}])})
    assert r.status_code == 200, r.text
    v = r.json()
    assert_verdict_shape(v)
    assert (v["post_id"], v["decision"], v["bonus_tier"]) == ("m1", "error", "none")
    assert v["error"]["code"] == code
    assert v["error"]["message"].startswith("media[0].path: ")
    assert "/tmp" not in v["error"]["message"] and str(REPO) not in v["error"]["message"]  # no server paths


# -- auth -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "k1"}, {"Authorization": "Basic k1"},
     {"Authorization": "Bearer k1,k2"}, {"Authorization": "Bearer"}, {"Authorization": "Bearer k"}],
    ids=["none", "wrong-key", "no-scheme", "basic", "both-keys", "no-token", "prefix-of-key"],
)
@pytest.mark.parametrize(("method", "route"), [("POST", "/evaluate"), ("POST", "/evaluate_batch"), ("GET", "/"), ("GET", "/docs.json")])
def test_missing_or_invalid_key_is_401(anon, headers, method, route):
    kwargs = {"json": {"post": post()}} if method == "POST" else {}
    r = anon.request(method, route, headers=headers, **kwargs)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    assert "k1" not in r.text


@pytest.mark.parametrize("key", KEYS)
def test_every_configured_key_works(anon, key):
    r = anon.post("/evaluate", json={"post": post()}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text


def test_scheme_is_case_insensitive(anon):
    r = anon.post("/evaluate", json={"post": post()}, headers={"Authorization": "bearer k2"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("route", ["/readyz", "/livez", "/metrics"])
def test_health_and_metrics_need_no_key(anon, route):
    assert anon.get(route).status_code == 200


def test_docs_page_with_key(client):
    assert client.get("/").status_code == 200


def test_openapi_lists_the_routes(client):
    r = client.get("/docs.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert {"/evaluate", "/evaluate_batch", "/evaluate_upload"} <= set(paths)


# -- uploads --------------------------------------------------------------------------------------


def test_upload_one_file_per_media_item(client):
    body = post("u1", media=[{"type": "image", "path": "a.png"}, {"type": "image", "path": "deep/b.PNG"}])
    files = [("files", ("a.png", tiny_png(), "image/png")), ("files", ("b.png", tiny_png(4, 4), "image/png"))]
    r = client.post("/evaluate_upload", files=form(post=json.dumps(body)) + files)
    assert r.status_code == 200, r.text
    v = r.json()
    assert_verdict_shape(v)
    assert v["post_id"] == "u1"
    assert v["decision"] in JUDGED  # the uploaded files were found: not media_not_found
    assert v["checks"]["min_views"]["detail"] == "3000 >= 2500"


def test_upload_ignores_the_media_root(client):
    """img/a.png exists in the server's media root, but an upload judges only the uploaded files."""
    body = post("u2", media=[{"type": "image", "path": "img/a.png"}])
    r = client.post("/evaluate_upload", files=form(post=json.dumps(body)) + [("files", ("a.png", tiny_png(), "image/png"))])
    assert r.status_code == 200, r.text
    assert r.json()["decision"] in JUDGED


@pytest.mark.parametrize("sent", [0, 1])
def test_upload_with_too_few_files_is_422(client, sent):
    body = post("u3", media=[{"type": "image", "path": "a.png"}, {"type": "image", "path": "b.png"}])
    files = [("files", (f"{i}.png", tiny_png(), "image/png")) for i in range(sent)]
    r = client.post("/evaluate_upload", files=form(post=json.dumps(body)) + files)
    assert r.status_code == 422, r.text
    assert locs(r) == [["files"]]


def test_upload_with_too_many_files_is_422(client):
    files = [("files", ("a.png", tiny_png(), "image/png"))]
    r = client.post("/evaluate_upload", files=form(post=json.dumps(post("u4"))) + files)
    assert r.status_code == 422, r.text
    assert locs(r) == [["files"]]


def test_upload_bad_post_json_is_422(client):
    r = client.post("/evaluate_upload", files=form(post=json.dumps(post(views=-1))))
    assert r.status_code == 422, r.text
    assert ["post", "views"] in locs(r)


def test_upload_as_urlencoded_form_is_400_not_500(client):
    r = client.post("/evaluate_upload", data={"post": json.dumps(post("u7"))})
    assert r.status_code == 400, r.text


def test_upload_without_files_as_json(client):
    r = client.post("/evaluate_upload", json={"post": post("u5")})
    assert r.status_code == 200, r.text
    assert r.json()["post_id"] == "u5"


# -- never a 500 ----------------------------------------------------------------------------------

GARBAGE = [b"", b"[]", b'"str"', b"null", b"0", b"{}", b'{"post": null}', b'{"posts": []}', b'{"posts": null}',
           b'{"post": []}', b'{"post": "x"}', b'{"posts": [null]}', b'{"posts": {"a": 1}}', b"\xff\xfe",
           b'{"post": {"view_history": [[1e400, 1]]}}', b'{"post": {"views": 1e999}}', b"[" * 900 + b"]" * 900]


@pytest.mark.parametrize("route", ["/evaluate", "/evaluate_batch", "/evaluate_upload"])
@pytest.mark.parametrize("body", GARBAGE, ids=[repr(b)[:30] for b in GARBAGE])
def test_garbage_json_bodies_never_500(client, route, body):
    r = client.post(route, content=body, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text


def test_deeply_nested_json_is_400(client):
    body = b'{"post": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    try:
        r = client.post("/evaluate", content=body, headers={"content-type": "application/json"}, timeout=3)
    except httpx.ReadTimeout:
        pytest.fail("no response within 3 s")
    assert r.status_code == 400, r.text


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/octet-stream"])
def test_other_content_types_never_500(client, content_type):
    r = client.post("/evaluate", content=json.dumps({"post": post()}).encode(), headers={"content-type": content_type})
    assert r.status_code < 500, r.text


def test_multipart_form_without_files_never_500(client):
    r = client.post("/evaluate_upload", files=form(x="1") + [("other", ("a.png", b"x", "image/png"))])
    assert 400 <= r.status_code < 500, r.text


@pytest.mark.parametrize(
    ("route", "content_type", "body"),
    [("/evaluate_upload", "multipart/form-data; boundary=xx", b"garbage"),
     ("/evaluate", "multipart/form-data", b'{"post": {}}')],
    ids=["bad-body", "no-boundary"],
)
def test_malformed_multipart_never_500(client, route, content_type, body):
    r = client.post(route, content=body, headers={"content-type": content_type})
    assert 400 <= r.status_code < 500, r.text


def test_upload_files_as_text_field_never_500(client):
    body = post("u6", media=[{"type": "image", "path": "a.png"}])
    r = client.post("/evaluate_upload", files=form(post=json.dumps(body), files="not-a-file"))
    assert 400 <= r.status_code < 500, r.text


# -- `serve` refuses a public address without keys -----------------------------------------------


def test_serve_public_host_without_keys_exits_3(tmp_path):
    port = free_port()
    env = server_env(tmp_path)
    start = time.monotonic()
    done = subprocess.run(
        [BONUSCHECK, "serve", "--host", "0.0.0.0", "--port", str(port)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert "--host" in done.stderr and "0.0.0.0" in done.stderr and "BONUSCHECK_API_KEYS" in done.stderr
    assert time.monotonic() - start < 30
    with socket.socket() as s:  # nothing was left listening on the port
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_concurrent_batches_are_merged_and_split_back_in_order(server):
    """evaluate_batch is batchable: concurrent requests share one pipeline call yet get only their own verdicts."""
    from concurrent.futures import ThreadPoolExecutor

    def send(k: int) -> tuple[list[str], list[str]]:
        ids = [f"c{k}-{i}" for i in range(1 + k % 5)]
        batch = [post(pid, views=1000 * (i + 1) * (k + 1)) for i, pid in enumerate(ids)]
        with httpx.Client(base_url=server, headers=AUTH, timeout=60) as c:
            r = c.post("/evaluate_batch", json={"posts": batch})
        assert r.status_code == 200, r.text
        got = r.json()
        assert [v["checks"]["min_views"]["detail"].split()[0] for v in got] == [str(p["views"]) for p in batch]
        return ids, [v["post_id"] for v in got]

    with ThreadPoolExecutor(12) as pool:
        for sent, received in pool.map(send, range(24)):
            assert received == sent
