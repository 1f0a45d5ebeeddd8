"""Posts in, verdicts out: JSONL and Parquet files, streamed.

Readers yield `(row_number, value, cursor)`: the row's 1-based number, the
parsed post (a dict) or a `BadRow`, and a cursor that a later run can pass back
to continue right after that row (a byte offset for JSONL, a row count for
Parquet). A bad row never stops a reader; an unreadable file or a Parquet file
without the columns a post needs fails at open, before any work.

Verdicts are always written first as JSONL (one line each, appendable and
truncatable for resume); `finish_output` turns that into the final file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

__all__ = [
    "BadRow",
    "InputError",
    "MAX_LINE_BYTES",
    "VERDICT_COLUMNS",
    "detect_format",
    "finish_output",
    "open_reader",
    "row_to_post",
    "verdict_row",
]

MAX_LINE_BYTES = 16 * 1024 * 1024  # a post is at most ~1 MB of JSON; anything far larger is refused
FORMATS = ("jsonl", "parquet")
REQUIRED_COLUMNS = ("post_id", "author", "views")
VERDICT_COLUMNS = ("post_id", "decision", "bonus_tier", "error_code", "error_message", "verdict_json")


class InputError(Exception):
    """The input as a whole cannot be read (missing file, wrong format or schema)."""


@dataclass(frozen=True)
class BadRow:
    """A row that never became a JSON value; it becomes an error verdict."""

    code: str
    message: str
    post_id: str | None = None  # echoed in the error verdict when the row still has a readable id


def detect_format(path: Path, given: str | None) -> str:
    fmt = given or {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}.get(
        path.suffix.lower()
    )
    if fmt not in FORMATS:
        raise InputError(f"{path.name}: cannot tell the format from the extension; pass --format jsonl or parquet")
    return fmt


class JsonlReader:
    label = "line"  # how an error verdict points at its row

    def __init__(self, path: Path) -> None:
        self.path = path
        self.total = path.stat().st_size  # progress is counted in bytes

    def rows(self, cursor: int = 0, row_number: int = 0) -> Iterator[tuple[int, Any, int]]:
        with open(self.path, "rb") as stream:
            stream.seek(cursor)
            while line := stream.readline(MAX_LINE_BYTES + 1):
                row_number += 1
                if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                    while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                        pass  # drain the oversized line without holding it in memory
                    yield row_number, BadRow("invalid_json", f"line is longer than {MAX_LINE_BYTES} bytes"), stream.tell()
                    continue
                yield row_number, self._parse(line), stream.tell()

    @staticmethod
    def _parse(line: bytes) -> Any:
        if not line.strip():
            return BadRow("invalid_json", "empty line, expected one JSON post")
        try:
            return json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return BadRow("invalid_json", f"not valid JSON ({exc})")
        except RecursionError:
            return BadRow("invalid_json", "JSON nested too deep to parse")


def _whole_numbers_as_int(history: Any) -> Any:
    """Arrow stores [seconds, views] pairs in one numeric type; views read back as 820.0 are 820."""
    if not isinstance(history, list):
        return history
    return [
        [pair[0], int(pair[1]) if isinstance(pair[1], float) and pair[1].is_integer() else pair[1]]
        if isinstance(pair, list) and len(pair) == 2
        else pair
        for pair in history
    ]


def row_to_post(row: dict[str, Any]) -> Any:
    """A Parquet/Spark row as a Post-shaped value: from a `post_json` column, or from its columns."""
    if "post_json" in row:
        text, pid = row["post_json"], row.get("post_id")
        pid = pid if isinstance(pid, str) else None
        if not isinstance(text, str):
            return BadRow("invalid_json", "post_json: expected a JSON string, got null", pid)
        try:
            return json.loads(text)
        except RecursionError:
            return BadRow("invalid_json", "post_json: JSON nested too deep to parse", pid)
        except json.JSONDecodeError as exc:
            return BadRow("invalid_json", f"post_json: not valid JSON ({exc})", pid)
    post = {k: v for k, v in row.items() if v is not None}  # Arrow null = field absent
    if "view_history" in post:
        post["view_history"] = _whole_numbers_as_int(post["view_history"])
    return post


def check_columns(names: list[str], where: str) -> None:
    if "post_json" in names:
        return
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise InputError(
            f"{where}: expected a 'post_json' column or the Post columns {list(REQUIRED_COLUMNS)}, "
            f"missing {missing} (found {names[:12]})"
        )


class ParquetReader:
    label = "row"

    def __init__(self, path: Path, batch_rows: int = 2048) -> None:
        import pyarrow.parquet as pq

        try:
            self.file = pq.ParquetFile(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
            raise InputError(f"{path.name}: not a readable Parquet file ({type(exc).__name__})") from None
        check_columns(self.file.schema_arrow.names, path.name)
        self.total = self.file.metadata.num_rows  # progress is counted in rows
        self.batch_rows = batch_rows

    def rows(self, cursor: int = 0, row_number: int = 0) -> Iterator[tuple[int, Any, int]]:
        seen = 0
        for batch in self.file.iter_batches(batch_size=self.batch_rows):
            if seen + batch.num_rows <= cursor:
                seen += batch.num_rows
                continue
            for row in batch.slice(max(0, cursor - seen)).to_pylist():
                row_number += 1
                yield row_number, row_to_post(row), row_number
            seen += batch.num_rows


def open_reader(path: Path, fmt: str) -> JsonlReader | ParquetReader:
    if not path.is_file():
        raise InputError(f"{path}: file does not exist or is not a file")
    return JsonlReader(path) if fmt == "jsonl" else ParquetReader(path)


def verdict_row(verdict_json: str, verdict: dict[str, Any] | None = None) -> dict[str, Any]:
    """One output row: the fields people filter on, plus the whole verdict as JSON (parsed only if not given)."""
    v = verdict if verdict is not None else json.loads(verdict_json)
    error = v.get("error") or {}
    return {
        "post_id": v["post_id"],
        "decision": v["decision"],
        "bonus_tier": v["bonus_tier"],
        "error_code": error.get("code"),
        "error_message": error.get("message"),
        "verdict_json": verdict_json,
    }


def verdict_schema():
    import pyarrow as pa

    return pa.schema([(name, pa.string()) for name in VERDICT_COLUMNS])


def finish_output(partial: Path, out_path: Path, fmt: str) -> None:
    """Move the complete JSONL partial into place, converting to Parquet on the way if asked."""
    if fmt == "jsonl":
        os.replace(partial, out_path)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = out_path.with_name(f".{out_path.name}.converting")
    schema = verdict_schema()
    with open(partial, encoding="utf-8") as src, pq.ParquetWriter(tmp, schema) as writer:
        rows: list[dict[str, Any]] = []
        for line in src:
            rows.append(verdict_row(line.rstrip("\n")))
            if len(rows) == 50_000:  # bounded memory whatever the run's size
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                rows = []
        if rows:
            writer.write_table(pa.Table.from_pylist(rows, schema=schema))
    os.replace(tmp, out_path)
    partial.unlink()
