"""The console's templates and static files ship with the package (``pip install .``
installs only the files pyproject's package-data names), and its pages hold no inline
script or style, which its Content-Security-Policy would block."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from api.console.summaries import SUMMARIES, summary

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "api" / "console"


def test_every_template_and_static_file_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["api.console"]
    files = [
        p.relative_to(CONSOLE).as_posix()
        for folder in ("templates", "static")
        for p in (CONSOLE / folder).iterdir()
    ]
    assert files
    assert [f for f in files if not any(fnmatch(f, pattern) for pattern in patterns)] == []


def test_no_template_holds_an_inline_script_style_or_handler() -> None:
    for template in (CONSOLE / "templates").glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert "<style" not in text, template.name
        assert not re.search(r"\sstyle=", text), template.name
        assert not re.search(r"\son[a-z]+=", text), template.name


def test_every_event_type_reads_as_a_sentence_and_an_unknown_one_as_its_fields() -> None:
    from domain.versions import event_classes

    known = {name.rsplit(".", 1)[-1] for name in event_classes()}
    assert set(SUMMARIES) == known
    assert summary("MessageReviewed", {"segment_key": "gold|EU", "decision": "reject",
                                       "comment": "Too plain"}) == (
        "segment gold|EU: rejected — Too plain"
    )  # fmt: skip
    assert summary("SomethingNew", {"a": 1, "b": "x" * 500}).startswith("a=1, b=xxx")
    assert len(summary("SomethingNew", {"b": "x" * 500})) <= 120
    assert summary("RunStarted", {"matched": 3}) == "matched=3"  # a shape it does not know
