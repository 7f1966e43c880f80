"""A pipeline component that injects faults, for the Ray engine's tests.

Workers import this file (annotate_ray's `code`) before loading a pipeline
that contains it. A text starting with KILL kills the worker process and one
starting with FAIL raises, each once (while a marker file exists); a text
starting with POISON always raises.
"""
import os
import signal
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc


class FaultInjector:
    def __init__(self, marker_dir: str) -> None:
        self.marker_dir = Path(marker_dir)

    def _consume(self, name: str) -> bool:
        try:
            (self.marker_dir / name).unlink()
        except FileNotFoundError:
            return False
        return True

    def __call__(self, doc: Doc) -> Doc:
        if doc.text.startswith("KILL") and self._consume("kill"):
            os.kill(os.getpid(), signal.SIGKILL)
        if doc.text.startswith("FAIL") and self._consume("fail"):
            raise RuntimeError("injected failure")
        if doc.text.startswith("POISON"):
            raise RuntimeError("this text always fails")
        return doc


@Language.factory("test_fault_injector", default_config={"marker_dir": ""})
def make_fault_injector(nlp: Language, name: str, marker_dir: str) -> FaultInjector:
    return FaultInjector(marker_dir)
