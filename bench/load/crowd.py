"""A crowd of large group creates: peak memory of a real ``nudgescribe serve``.

``python -m bench.load.crowd [--requests 16] [--ids 1350000]``

Sends ``--requests`` concurrent ``POST /v1/customer-groups/create`` bodies, each a
membership list of ``--ids`` external ids (about 27 MiB, under the 32 MiB limit), and
prints the server's peak RSS beside its RSS before the crowd. One body is read and parsed
at a time (the upload turn), so the peak should not grow with ``--requests``.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

from application.content.accounts import Accounts
from application.database import open_pool
from bench.load.__main__ import serve
from bench.load.hostile import RssSampler, rss_mb
from tests.api_client import Api
from tests.dbserver import server_url, throwaway_database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--ids", type=int, default=1_350_000)
    args = parser.parse_args()
    body = orjson.dumps(
        {"name": "Crowd", "external_ids": [f"customer-{i:09d}" for i in range(args.ids)]}
    )
    with (
        tempfile.TemporaryDirectory(prefix="nudgescribe-crowd-") as tmp,
        server_url() as url,
        throwaway_database(url, prefix="nudgescribe_crowd") as db,
    ):
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        with serve(db, data_dir) as (base_url, process):
            pool = open_pool(db, max_size=1, name="crowd")
            account = Accounts(pool).create("Crowd")
            pool.close()
            api_code = (data_dir / "api_code").read_text().strip()
            secret = (data_dir / "jwt_secret").read_text().strip()
            with httpx.Client(base_url=base_url) as http:
                headers = Api(http, api_code, account.account_id, secret).headers()  # type: ignore[arg-type]
            headers["content-type"] = "application/json"
            before = rss_mb(process.pid)
            statuses: list[int] = []
            sampler = RssSampler(process.pid)

            def send() -> None:
                with httpx.Client(base_url=base_url, timeout=900) as client:
                    path = "/v1/customer-groups/create"
                    statuses.append(client.post(path, content=body, headers=headers).status_code)

            sampler.start()
            began = time.monotonic()
            senders = [threading.Thread(target=send) for _ in range(args.requests)]
            for sender in senders:
                sender.start()
            for sender in senders:
                sender.join()
            sampler.done.set()
    print(
        f"{args.requests} group creates of {len(body) / 2**20:.1f} MiB in"
        f" {time.monotonic() - began:.1f} s, answers {sorted(statuses)}:"
        f" server RSS {before:.0f} MB before, peak {sampler.peak:.0f} MB"
    )


if __name__ == "__main__":
    main()
