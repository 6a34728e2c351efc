"""The background rerun processor: the event log is its job queue."""

from application.processor.generation import GenerationOptions
from application.processor.queue import PROCESSOR_DDL
from application.processor.service import run_processor
from application.processor.worker import Processor

__all__ = ["PROCESSOR_DDL", "GenerationOptions", "Processor", "run_processor"]
