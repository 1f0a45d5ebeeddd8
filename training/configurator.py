"""What every training script shares: nanoGPT-style `--key=value` overrides and the commit stamp.

A training script keeps its config as a block of module-level defaults; `apply_overrides(globals(), argv)`
replaces those named on the command line, parsed to the default's type, and rejects unknown keys by name.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Callable

__all__ = ["apply_overrides", "config_keys", "git_commit", "start_run"]

_CONFIG_TYPES = (bool, int, float, str)


def config_keys(scope: dict) -> list[str]:
    """The config block: public module-level values of a plain type."""
    return [k for k, v in scope.items() if not k.startswith("_") and isinstance(v, _CONFIG_TYPES)]


def _parse(key: str, default: object, raw: str) -> object:
    if isinstance(default, bool):
        if raw.lower() not in ("true", "false", "1", "0"):
            raise SystemExit(f"--{key}: expected True or False, got {raw!r}")
        return raw.lower() in ("true", "1")
    try:
        return type(default)(raw)
    except ValueError:
        raise SystemExit(f"--{key}: expected {type(default).__name__}, got {raw!r}") from None


def apply_overrides(scope: dict, argv: list[str]) -> dict:
    """Apply `--key=value` overrides to `scope` (a script's globals()); returns the resolved config."""
    keys = config_keys(scope)
    for arg in argv:
        if not arg.startswith("--") or "=" not in arg:
            raise SystemExit(f"argument {arg!r}: expected --key=value")
        key, raw = arg[2:].split("=", 1)
        if key not in keys:
            raise SystemExit(f"--{key}: unknown config key; expected one of {', '.join(keys)}")
        scope[key] = _parse(key, scope[key], raw)
    return {k: scope[k] for k in keys}


def git_commit() -> str:
    """Short HEAD commit, with "-dirty" when models/ or training/ have uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()

    try:
        sha = git("rev-parse", "--short", "HEAD") or "nogit"
        return sha + ("-dirty" if git("status", "--porcelain", "models", "training") else "")
    except OSError:
        return "nogit"


def start_run(scope: dict, argv: list[str]) -> tuple[dict, float, Callable[[str], None]]:
    """A training run's first step: apply `argv` overrides to `scope`, print the resolved config, and
    return (config, start time from time.perf_counter(), a log function stamping seconds since the start)."""
    run_config = apply_overrides(scope, argv)
    print("config: " + json.dumps(run_config), flush=True)
    t_start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t_start:7.1f}s] {msg}", flush=True)

    return run_config, t_start, log
