"""The batch job on Spark: Parquet in, Parquet out, the same `Pipeline.evaluate` on every executor.

Each executor's Python worker loads the pipeline (policy + models) once and
keeps it for every partition it scores. Rows reach the pipeline through the
same `row_to_post` the local Parquet reader uses, so a row gets the same
verdict here as from `bonuscheck score`.

Why mapInArrow and not mapInPandas: pandas turns an integer column with a null
into floats and list columns into numpy arrays, which the strict contract would
then reject or read differently; Arrow batches give the executor exactly the
values the local reader sees. (BentoML's own `run_in_spark` needs the legacy
Service API, so it is not used.)

Usable with spark-submit on a cluster: `spark-submit service/spark_job.py IN OUT
--media-root /shared/media`, with the media root readable by every executor.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Iterator

__all__ = ["spark_score"]

OUTPUT_SCHEMA = "post_id string, decision string, bonus_tier string, error_code string, error_message string, verdict_json string"
ROW_INDEX = "_bonuscheck_row"

_EXECUTOR_PIPELINE: dict[str, Any] = {}


def _executor_pipeline(pipeline_args: dict[str, Any]):
    """The pipeline for this Python worker, loaded on first use and kept for later partitions."""
    key = repr(sorted(pipeline_args.items()))
    if key not in _EXECUTOR_PIPELINE:
        from service.batch import load_worker_pipeline

        _EXECUTOR_PIPELINE[key] = load_worker_pipeline(pipeline_args)
    return _EXECUTOR_PIPELINE[key]


def _score_batches(pipeline_args: dict[str, Any], batches: Iterator[Any]) -> Iterator[Any]:
    import pyarrow as pa

    from service.batch import verdicts_for_rows
    from service.batch_io import VERDICT_COLUMNS, row_to_post, verdict_row

    pipeline = _executor_pipeline(pipeline_args)
    for batch in batches:
        rows = []
        for row in batch.to_pylist():
            number = row.pop(ROW_INDEX) + 1
            rows.append((number, row_to_post(row)))
        out = [verdict_row(line, data) for data, line in verdicts_for_rows(pipeline, rows, "row")]
        yield pa.RecordBatch.from_pylist(out, schema=pa.schema([(c, pa.string()) for c in VERDICT_COLUMNS]))


def spark_score(
    in_path: str,
    out_path: str,
    *,
    master: str | None = "local[2]",
    media_root: str | None = None,
    policy_path: str | None = None,
    models_dir: str | None = None,
    batch_rows: int = 1024,
) -> int:
    """Score a Parquet file (or folder) into a Parquet folder; returns the number of verdicts written."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors use this venv, with its models
    from pyspark.sql import SparkSession, functions as F

    from service.batch_io import check_columns

    builder = SparkSession.builder.appName("bonuscheck-score").config("spark.ui.enabled", "false")
    builder = builder.config("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_rows))
    if master:
        builder = builder.master(master)
    spark = builder.getOrCreate()
    try:
        df = spark.read.parquet(in_path)
        check_columns(df.columns, Path(in_path).name)
        df = df.withColumn(ROW_INDEX, F.col("_metadata.row_index"))
        pipeline_args = {
            "policy_path": str(Path(policy_path).resolve()) if policy_path else None,
            "models_dir": str(Path(models_dir).resolve()) if models_dir else None,
            "media_root": str(Path(media_root).resolve()) if media_root else None,
        }
        scored = df.mapInArrow(lambda batches: _score_batches(pipeline_args, batches), OUTPUT_SCHEMA)
        scored.write.mode("overwrite").parquet(out_path)
        return spark.read.parquet(out_path).count()
    finally:
        spark.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Score posts with bonuscheck on Spark (for spark-submit).")
    parser.add_argument("input", help="Parquet file or folder of posts")
    parser.add_argument("output", help="Parquet folder for the verdicts (overwritten)")
    parser.add_argument("--media-root", default=None, help="Folder every executor can read; media paths are relative to it")
    parser.add_argument("--policy", default=None, help="Policy YAML (default: the shipped policy.yaml)")
    args = parser.parse_args(argv)
    n = spark_score(args.input, args.output, master=None, media_root=args.media_root, policy_path=args.policy)
    print(f"{n} verdicts written to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
