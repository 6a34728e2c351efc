"""docker-compose.yml and the Dockerfile, checked without a container engine.

No container engine runs where the tests run. The compose client's own validation
(``docker-compose config``, which needs no engine) runs when the client is installed
(.ci/run installs it); the rest parses the file and checks what the deployment relies on:
a healthy database before anything starts, the API without the processor, the processor
on its own, and configuration only by environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from application.settings import Settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="no compose client installed")
def test_compose_client_validates_the_file() -> None:
    env = {**os.environ, "NUDGESCRIBE_API_CODE": "code", "NUDGESCRIBE_JWT_SECRET": "secret"}
    checked = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )

    assert checked.returncode == 0, checked.stderr


def test_compose_has_the_database_the_api_and_the_processor(compose: dict[str, Any]) -> None:
    assert {"db", "api", "processor"} <= set(compose["services"])
    assert set(compose.get("volumes", {})) >= {"pgdata"}


def test_the_database_has_a_healthcheck(compose: dict[str, Any]) -> None:
    db = compose["services"]["db"]

    assert db["image"].startswith("postgres:")
    check = db["healthcheck"]
    assert "pg_isready" in " ".join(check["test"])
    assert {"interval", "timeout", "retries"} <= set(check)


@pytest.mark.parametrize("service", ["api", "processor"])
def test_app_services_wait_for_a_healthy_database(compose: dict[str, Any], service: str) -> None:
    depends = compose["services"][service]["depends_on"]

    assert depends["db"] == {"condition": "service_healthy"}
    if "migrate" in depends:
        assert depends["migrate"] == {"condition": "service_completed_successfully"}


def test_the_api_serves_without_the_processor_and_the_processor_runs_alone(
    compose: dict[str, Any],
) -> None:
    api = compose["services"]["api"]["command"]
    processor = compose["services"]["processor"]["command"]

    assert api[:2] == ["nudgescribe", "serve"]
    assert "--no-processor" in api
    assert api[api.index("--host") + 1] == "0.0.0.0"
    assert processor[:2] == ["nudgescribe", "processor"]
    assert "--partition" not in processor  # processors claim jobs by lease: no slots


def test_configuration_is_by_environment_only(compose: dict[str, Any]) -> None:
    aliases = {field.alias for field in Settings.model_fields.values()}
    for name in ("api", "processor"):
        service = compose["services"][name]
        environment = service["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql://")
        assert "@db:5432/" in environment["DATABASE_URL"]
        assert set(environment) <= aliases, set(environment) - aliases
        assert "NUDGESCRIBE_API_CODE" in environment
        assert "NUDGESCRIBE_JWT_SECRET" in environment
        assert "volumes" not in service  # no configuration files mounted


def test_the_dockerfile_installs_the_package_and_runs_the_cli() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert "pip install ." in dockerfile
    assert '"nudgescribe", "serve"' in dockerfile
    assert "USER " in dockerfile  # not root
