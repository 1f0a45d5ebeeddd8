"""`bonuscheck`: score posts offline, print the contract's JSON Schema, or start the service.

Each command is a thin wrapper: it checks its options, then calls plain
functions in service/ that the tests also call. Errors name the option, the
value and the reason, and exit with a code from ExitStatus.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from enum import IntEnum
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="bonuscheck: one eligibility verdict per creator post, with the reason.",
)


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1  # the run itself could not proceed (unreadable input, bad policy)
    USAGE = 2  # a wrong option (typer's own code for usage errors)
    UNSAFE = 3  # refused: a public address without API keys


def _fail(option: str, value: object, reason: str, status: ExitStatus = ExitStatus.ERROR) -> None:
    typer.echo(f"Error: Invalid value for '{option}': {value!s}: {reason}", err=True)
    raise typer.Exit(int(status))


@app.command()
def score(
    input: Path = typer.Argument(..., help="Posts to judge, one JSON object per line (JSONL)."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the verdicts (JSONL, one per input line)."),
    media_root: Optional[Path] = typer.Option(
        None, "--media-root", help="Folder that media paths are relative to. [default: the input file's folder]"
    ),
    policy: Optional[Path] = typer.Option(
        None, "--policy", help="Policy YAML with the thresholds. [default: $BONUSCHECK_POLICY, else the shipped policy.yaml]"
    ),
    batch_size: int = typer.Option(256, "--batch-size", min=1, max=100_000, help="Posts per model batch."),
    report: Optional[Path] = typer.Option(None, "--report", help="Also write the summary as JSON to this file."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar on stderr."),
) -> None:
    """Judge every post in INPUT and write one verdict per line to OUTPUT, in order.

    A malformed line becomes an `error` verdict naming its line number; the run
    goes on. The output file appears only when the run is complete. Example:

        bonuscheck score posts.jsonl -o verdicts.jsonl --media-root ./media
    """
    from tqdm import tqdm

    from .batch import score_jsonl
    from .pipeline import Pipeline
    from .policy import PolicyError

    if not input.is_file():
        _fail("INPUT", input, "file does not exist or is not a file")
    if not output.parent.is_dir():
        _fail("--output", output, "its folder does not exist")
    root = media_root if media_root is not None else input.resolve().parent
    if not root.is_dir():
        _fail("--media-root", root, "folder does not exist")
    try:
        pipeline = Pipeline.load(policy_path=policy, media_root=root)
    except PolicyError as exc:
        _fail("--policy", policy or "policy.yaml", str(exc))
    bar = tqdm(total=input.stat().st_size, unit="B", unit_scale=True, desc="scoring", file=sys.stderr, disable=not progress)
    try:
        summary = score_jsonl(input, output, pipeline, batch_size=batch_size, progress=bar)
    except OSError as exc:
        _fail("INPUT", input, f"cannot be read or written ({exc.strerror})")
    finally:
        bar.close()
    for line in summary.lines():
        typer.echo(line, err=True)
    if report is not None:
        report.write_text(json.dumps(summary.as_dict(), indent=2) + "\n", encoding="utf-8")


@app.command()
def schema(
    which: str = typer.Argument("all", help="post, verdict, or all."),
) -> None:
    """Print the JSON Schema of the Post (input) and Verdict (output) documents."""
    from .schemas import Post, Verdict

    schemas = {"post": Post.model_json_schema(), "verdict": Verdict.model_json_schema()}
    if which not in (*schemas, "all"):
        _fail("WHICH", which, "expected post, verdict or all", ExitStatus.USAGE)
    typer.echo(json.dumps(schemas if which == "all" else schemas[which], indent=2))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", envvar="HOST", help="Address to bind."),
    port: int = typer.Option(3000, "--port", envvar="PORT", min=1, max=65535, help="Port to listen on."),
) -> None:
    """Start the HTTP service (BentoML) with the shipped models.

    Without API keys in $BONUSCHECK_API_KEYS it binds only a loopback address.
    """
    from .http_guard import api_keys_from_env

    if not is_loopback(host) and not api_keys_from_env():
        _fail("--host", host, "a non-loopback address needs BONUSCHECK_API_KEYS set", ExitStatus.UNSAFE)
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    root = Path(__file__).resolve().parent.parent
    bentoml = Path(sys.executable).with_name("bentoml")
    args = [str(bentoml), "serve", "service.app:BonusCheck", "--host", host, "--port", str(port), "--working-dir", str(root)]
    os.execv(args[0], args)


def main() -> None:
    """Entry point: an unexpected failure is one stderr line; BONUSCHECK_TRACEBACK=1 shows the traceback."""
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - the last line of defence, see the docstring
        if os.environ.get("BONUSCHECK_TRACEBACK"):
            raise
        typer.echo(f"bonuscheck: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(int(ExitStatus.ERROR))


if __name__ == "__main__":
    main()
