"""The copy of a workspace's files a restore under another schema makes: one copy at a time
against a pool of threads.

    uv run python bench/s3_copy.py --objects 2000 --workers 16

Starts moto's S3 server on 127.0.0.1 (no database is used), puts --objects small objects
under ``workspaces/<source>/``, then times ``s3.workspace_objects_copy`` to a new prefix with
one worker (the copies made one after the other) and with --workers threads, each run to its
own target prefix, and a rerun over the copied prefix (everything present: the resumed
restore's cost). Prints the seconds and objects per second of each run.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import server_url, setup_django  # noqa: E402
from bench.dataio_workspace import local_s3  # noqa: E402

BUCKET = "rapport-bench-copy"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--size", type=int, default=4096, help="bytes per object")
    parser.add_argument("--workers", type=int, default=16)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with local_s3() as endpoint:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        setup_django(
            server_url(),
            AWS_STORAGE_BUCKET_NAME=BUCKET,
            AWS_S3_ENDPOINT_URL=endpoint,
            AWS_S3_REGION_NAME="us-east-1",
        )
        from crm_platform import s3

        client = s3.s3_client(connections=args.workers)
        client.create_bucket(Bucket=BUCKET)
        source = f"ws_{uuid.uuid4().hex[:12]}"
        keys = [
            s3.document_key(schema_name=source, document_uuid=str(uuid.uuid4()), version=1)
            for _ in range(args.objects)
        ]
        body = os.urandom(args.size)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            list(
                pool.map(
                    lambda key: client.put_object(
                        Bucket=BUCKET, Key=key, Body=body, ContentType="application/pdf"
                    ),
                    keys,
                )
            )
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
        print(f"objects: {args.objects} of {args.size} bytes on moto_server")
        print(f"put (setup):                      {time.perf_counter() - started:8.1f} s")
        target = ""
        for label, workers in (("one at a time (1 worker)", 1), (f"{args.workers} workers", 0)):
            workers = workers or args.workers
            target = f"ws_{uuid.uuid4().hex[:12]}"
            started = time.perf_counter()
            result = s3.workspace_objects_copy(
                source_schema=source, target_schema=target, keys=keys, workers=workers
            )
            seconds = time.perf_counter() - started
            if len(result.copied) != args.objects:
                sys.exit(f"{label}: copied {len(result.copied)} of {args.objects}")
            print(f"copy, {label:<25} {seconds:8.1f} s  {args.objects / seconds:8.0f} objects/s")
        started = time.perf_counter()
        result = s3.workspace_objects_copy(
            source_schema=source, target_schema=target, keys=keys, workers=args.workers
        )
        seconds = time.perf_counter() - started
        if len(result.present) != args.objects:
            sys.exit(f"rerun: {len(result.present)} of {args.objects} present")
        label = f"rerun, all present, {args.workers} workers"
        print(f"{label:<31} {seconds:8.1f} s  {args.objects / seconds:8.0f} objects/s")


if __name__ == "__main__":
    main()
