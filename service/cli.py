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


def _check_policy(policy: Optional[Path]) -> None:
    """Fail fast on a bad policy, before any worker or Spark executor starts."""
    from .policy import PolicyError, load_policy

    try:
        load_policy(policy)
    except PolicyError as exc:
        _fail("--policy", policy or "policy.yaml", str(exc))


@app.command()
def score(
    input: Path = typer.Argument(..., help="Posts to judge: JSONL (one JSON object per line) or Parquet."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the verdicts: .jsonl or .parquet, one per input row."),
    media_root: Optional[Path] = typer.Option(
        None, "--media-root", help="Folder that media paths are relative to. [default: the input file's folder]"
    ),
    policy: Optional[Path] = typer.Option(
        None, "--policy", help="Policy YAML with the thresholds. [default: $BONUSCHECK_POLICY, else the shipped policy.yaml]"
    ),
    in_format: Optional[str] = typer.Option(None, "--format", help="Input format, jsonl or parquet. [default: from the extension]"),
    out_format: Optional[str] = typer.Option(None, "--output-format", help="Output format, jsonl or parquet. [default: from the extension]"),
    workers: int = typer.Option(0, "--workers", min=0, max=256, help="Worker processes; 0 = one per core, 1 = in this process."),
    batch_size: int = typer.Option(256, "--batch-size", min=1, max=100_000, help="Posts per chunk sent to the models."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run with the same arguments instead of starting over."),
    report: Optional[Path] = typer.Option(None, "--report", help="Also write the summary as JSON to this file."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar (rate, ETA) on stderr."),
) -> None:
    """Judge every post in INPUT and write one verdict per row to OUTPUT, in input order.

    A malformed row becomes an `error` verdict whose message starts with its
    line (JSONL) or row (Parquet) number; the run goes on. The output file
    appears only when the run is complete; after a crash or kill, rerun the
    same command with --resume to finish without rescoring. Example:

        bonuscheck score posts.jsonl -o verdicts.parquet --media-root ./media --report summary.json
    """
    from tqdm import tqdm

    from .batch import InputError, score_file

    if not output.parent.is_dir():
        _fail("--output", output, "its folder does not exist")
    root = media_root if media_root is not None else input.resolve().parent
    if not root.is_dir():
        _fail("--media-root", root, "folder does not exist")
    _check_policy(policy)
    args = {"policy_path": str(policy) if policy else None, "media_root": str(root.resolve())}
    bar = tqdm(total=0, unit_scale=True, desc="scoring", file=sys.stderr, disable=not progress)

    def on_progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        summary = score_file(
            input, output, pipeline_args=args, in_format=in_format, out_format=out_format,
            workers=workers or (os.cpu_count() or 1), batch_size=batch_size, resume=resume, on_progress=on_progress,
        )
    except InputError as exc:
        _fail("INPUT", input, str(exc))
    except OSError as exc:
        _fail("INPUT", input, f"cannot be read or written ({exc.strerror})")
    finally:
        bar.close()
    for line in [*summary.lines(), f"{summary.as_dict()['posts_per_second']} posts/s"]:
        typer.echo(line, err=True)
    if report is not None:
        report.write_text(json.dumps(summary.as_dict(), indent=2) + "\n", encoding="utf-8")


@app.command("spark-score")
def spark_score_command(
    input: str = typer.Argument(..., help="Parquet file or folder of posts (any path Spark can read)."),
    output: str = typer.Argument(..., help="Parquet folder for the verdicts; overwritten."),
    master: str = typer.Option("local[2]", "--master", help="Spark master URL, e.g. local[2] or spark://host:7077."),
    media_root: Optional[str] = typer.Option(None, "--media-root", help="Media folder every executor can read."),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Policy YAML. [default: the shipped policy.yaml]"),
) -> None:
    """Judge a Parquet file of posts on Spark with the same pipeline as `score`.

    Each executor loads the models once. The output has one row per post:
    post_id, decision, bonus_tier, error_code, error_message, verdict_json.
    """
    from .batch_io import InputError
    from .spark_job import spark_score

    _check_policy(policy)
    try:
        n = spark_score(input, output, master=master, media_root=media_root, policy_path=str(policy) if policy else None)
    except InputError as exc:
        _fail("INPUT", input, str(exc))
    typer.echo(f"{n} verdicts written to {output}", err=True)


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
