"""What the console's browser tests share: a real ``nudgescribe serve`` on a database of
its own, Debian's Chromium driven by Playwright, and axe-core injected into each page."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from application.database import ConnectionInfo
from tests.api_client import Api
from tests.e2e.serving import Server, serve
from tests.fakes.chat_server import API_KEY
from tests.fakes.processes import database_url

CHROMIUM = os.environ.get("NUDGESCRIBE_CHROMIUM", "/usr/bin/chromium")
# axe-core from the npm registry, installed once into a cache directory the tests own.
AXE_VERSION = "4.14.1"
AXE_DIR = Path(
    os.environ.get("NUDGESCRIBE_AXE_DIR", Path.home() / ".cache" / "nudgescribe-tests" / "axe")
)


@dataclass
class ConsoleServer(Server):
    def account(self, name: str, user_id: str) -> tuple[dict[str, str], Api, httpx.Client]:
        """A new account, and an API client of it (to set up customers and groups)."""
        created = json.loads(self.cli("accounts", "create", name, "--json"))
        http = httpx.Client(base_url=self.url, timeout=30)
        api = Api(
            http,
            (self.data_dir / "api_code").read_text().strip(),
            created["account_id"],
            (self.data_dir / "jwt_secret").read_text().strip(),
            user_id=user_id,
        )
        return created, api, http


@contextmanager
def console_server(db: ConnectionInfo, generator_url: str) -> Iterator[ConsoleServer]:
    """``nudgescribe serve`` (with its processor) on ``db``, its ``openai`` generator the
    chat server at ``generator_url``, one call at a time; its secrets in a fresh dir."""
    with (
        tempfile.TemporaryDirectory(prefix="nudgescribe-console-") as tmp,
        contextmanager(serve)(
            Path(tmp) / "data",
            DATABASE_URL=database_url(db),
            NUDGESCRIBE_GENERATOR_BASE_URL=generator_url,
            NUDGESCRIBE_GENERATOR_API_KEY=API_KEY,
            NUDGESCRIBE_GENERATOR_CONCURRENCY="1",
        ) as served,
    ):
        yield ConsoleServer(served.url, served.data_dir, served.env, served.log)


def axe_script() -> str:
    """axe.min.js, installed with npm into ``AXE_DIR`` the first time."""
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        assert npm, "npm is needed to install axe-core (apt-get install npm)"
        AXE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund",
             f"axe-core@{AXE_VERSION}"],
            check=True,
            capture_output=True,
            timeout=300,
        )  # fmt: skip
    return script.read_text(encoding="utf-8")


def serious_violations(page: Any, axe: str) -> list[str]:
    """axe-core's serious and critical violations of the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Playwright's CDP evaluation is not bound by the page's CSP (script-src 'self').
        page.evaluate(axe)
    result = page.evaluate("async () => await window.axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
