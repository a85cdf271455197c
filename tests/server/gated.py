"""A tone engine held at a gate, for tests of a server whose engine is slow or behind."""

from __future__ import annotations

import threading
from typing import Literal

from vad_dictate.audio.block import Int16Array
from vad_dictate.engines.base import NO_OPTIONS, Engine, RecognizerOptions
from vad_dictate.engines.tone import ToneRecognizer

Where = Literal["load", "first", "every"]


class GatedEngine(Engine):
    """Tone engine that waits for ``gate`` (at most ``wait_s``) at one place:

    - ``"load"``: creating the first recognizer (a model loading);
    - ``"first"``: every accept() of the first recognizer (one decoder stuck);
    - ``"every"``: every accept() of every recognizer (the engine behind).

    ``opened_in_time`` says whether the latest wait ended with the gate open.
    """

    name = "tone"
    uses_keyterms = True
    sample_rate = 16000

    def __init__(self, where: Where, wait_s: float = 20) -> None:
        self.gate = threading.Event()
        self.opened_in_time = False
        self._where, self._wait_s, self._made = where, wait_s, 0

    def wait_at_gate(self) -> None:
        self.opened_in_time = self.gate.wait(self._wait_s)

    def new_recognizer(self, options: RecognizerOptions = NO_OPTIONS) -> ToneRecognizer:
        self._made += 1
        if self._where == "load" and self._made == 1:
            self.wait_at_gate()
        if self._where == "every" or (self._where == "first" and self._made == 1):
            return _GatedRecognizer(self)
        return ToneRecognizer()


class _GatedRecognizer(ToneRecognizer):
    def __init__(self, engine: GatedEngine) -> None:
        super().__init__()
        self._engine = engine

    def accept(self, samples: Int16Array) -> None:
        self._engine.wait_at_gate()
        super().accept(samples)
