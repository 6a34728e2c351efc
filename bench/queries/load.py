"""A small HTTP/1.1 load generator: N keep-alive connections, each sending one request after
another for a fixed time. Raw asyncio streams (uvloop when installed), so the client costs
far less CPU per request than the server it measures.

    python -m bench.queries.load URL PATH BODY_FILE HEADERS_JSON CONNECTIONS SECONDS

Prints one JSON line: requests, seconds, rps, p50_ms, p99_ms, errors, all_requests,
cpu_seconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit


async def connection(
    host: str, port: int, request: bytes, until: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            began = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - began)
            if not status_line.startswith(b"HTTP/1.1 200"):
                errors.append(1)
    finally:
        writer.close()


async def run(
    url: str, path: str, body: bytes, headers: dict[str, str], n: int, seconds: float
) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{head}\r\n"
    ).encode() + body
    latencies: list[float] = []
    errors: list[int] = []
    cpu_began = time.process_time()
    warm_until = time.perf_counter() + min(1.0, seconds / 4)
    warm: list[float] = []
    await asyncio.gather(
        *(connection(host, port, request, warm_until, warm, errors) for _ in range(n))
    )
    began = time.perf_counter()
    await asyncio.gather(
        *(connection(host, port, request, began + seconds, latencies, errors) for _ in range(n))
    )
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu_began
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count,
        "seconds": elapsed,
        "rps": count / elapsed,
        "p50_ms": latencies[count // 2] * 1000 if count else 0.0,
        "p99_ms": latencies[min(count - 1, int(count * 0.99))] * 1000 if count else 0.0,
        "errors": len(errors),
        "all_requests": count + len(warm),  # warm-up included: what the CPU split divides by
        "cpu_seconds": cpu,  # this process's, warm-up included, start-up not
    }


def main(argv: list[str]) -> None:
    url, path, body_file, headers_json, n, seconds = argv
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    body, headers = Path(body_file).read_bytes(), json.loads(headers_json)
    result = asyncio.run(run(url, path, body, headers, int(n), float(seconds)))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
