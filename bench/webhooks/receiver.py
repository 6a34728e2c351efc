"""A fast webhook receiver for the benchmark, in a process of its own: raw asyncio
streams (uvloop when installed), keep-alive, answers every POST 200 at once.

    python -m bench.webhooks.receiver PORT

Prints "ready" once listening. ``GET /stats`` answers {"count": POSTs received,
"completed": {campaign_id: arrival time.time() of its first run.completed}}.
"""

from __future__ import annotations

import asyncio
import sys
import time

import orjson

OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


class Stats:
    count = 0
    completed: dict[str, float] = {}


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            request_line = await reader.readline()
            if not request_line:
                return
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            if request_line.startswith(b"GET /stats"):
                answer = orjson.dumps({"count": Stats.count, "completed": Stats.completed})
                head = f"HTTP/1.1 200 OK\r\ncontent-length: {len(answer)}\r\n\r\n".encode()
                writer.write(head + answer)
                continue
            Stats.count += 1
            if b'"run.completed"' in body:
                campaign_id = orjson.loads(body)["data"]["campaign_id"]
                Stats.completed.setdefault(campaign_id, time.time())
            writer.write(OK)
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(int(sys.argv[1])))
