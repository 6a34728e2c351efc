"""``python -m application.processor``: the processor alone."""

from __future__ import annotations

import argparse
import logging

from application.processor.service import run_processor
from application.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m application.processor")
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run_processor(Settings())


if __name__ == "__main__":
    main()
