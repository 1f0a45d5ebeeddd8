"""`bentoml build` packs service, policy and shipped models into a Bento that `bentoml serve` runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.server_process import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BENTOML = str(Path(sys.executable).parent / "bentoml")


def test_build_then_serve_the_bento(tmp_path):
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "home"), "BENTOML_DO_NOT_TRACK": "true"}
    env.pop("BONUSCHECK_API_KEYS", None)
    build = subprocess.run([BENTOML, "build", "-o", "tag"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    tag = build.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    src = next((tmp_path / "home" / "bentos" / "bonuscheck").glob("*/src"))
    assert (src / "policy.yaml").is_file() and (src / "service" / "app.py").is_file()
    assert not (src / "tests").exists() and not (src / "training").exists()
    shipped = sorted(p.relative_to(ROOT) for p in ROOT.glob("models/*/artifact/*") if p.is_file())
    assert all((src / p).is_file() for p in shipped), "every shipped artifact is in the Bento"

    port = free_port()
    server = subprocess.Popen(
        [BENTOML, "serve", tag, "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stdout.read().decode()[-3000:]
            time.sleep(0.5)
        post = {"post_id": "b1", "author": {"id": "a", "is_public": True}, "text": "hello world", "views": 100}
        answer = httpx.post(f"{base}/evaluate", json={"post": post}, timeout=60)
        assert answer.status_code == 200
        assert answer.json()["decision"] == "ineligible"
        assert answer.json()["checks"]["min_views"]["detail"] == "100 < 2500"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
