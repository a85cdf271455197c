"""The smart-turn model as the client loads it: found in the pipecat-ai wheel, checked, scored.

Runs where .ci/setup installed onnxruntime and pipecat-ai (skipped otherwise). The scores are
the model's own on real speech: a LibriVox sentence ending in 0.25 s of room tone against the
same sentence cut mid-phrase after "had" (clip 0870) with the same room tone after it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.clips import RATE, lab, load
from vad_dictate.errors import ConfigError
from vad_dictate.vad.smart_turn import (
    SHA256,
    SmartTurn,
    Stop,
    Stopped,
    bundled_model,
    check_digest,
)

pytest.importorskip("onnxruntime")
if bundled_model() is None:
    pytest.skip("pipecat-ai is not installed (.ci/setup installs it)", allow_module_level=True)

STEM = "sense_and_sensibility_01_austen_64kb-0870"


@pytest.fixture(scope="module")
def model() -> SmartTurn:
    return SmartTurn()


def test_the_bundled_model_is_the_one_pipecat_ships() -> None:
    path = bundled_model()
    assert path is not None and path.name == "smart-turn-v3.2-cpu.onnx"
    check_digest(path)  # raises if the bytes are not SHA256
    assert len(SHA256) == 64


def test_finished_sentence_scores_above_a_cut_one(model: SmartTurn) -> None:
    audio = load(STEM)
    start, end = lab(STEM)
    room = np.tile(audio[: round(start * RATE) - 800], 10)[: RATE // 4]
    finished = np.concatenate([audio[: round(end * RATE)], room])
    cut = np.concatenate([audio[: round(1.84 * RATE)], room])  # "... dashwood had" | "then"
    p_end, p_cut = model.score(finished), model.score(cut)
    assert 0.0 <= p_cut < 0.5 <= p_end <= 1.0
    assert model.score(finished) == p_end  # deterministic


def test_a_tampered_model_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match=r"is not the smart-turn v3\.2 model"):
        check_digest(fake)
    with pytest.raises(ConfigError, match="is not a loadable ONNX model"):
        SmartTurn(fake)
    with pytest.raises(ConfigError, match="is not a file"):
        SmartTurn(tmp_path / "missing.onnx")


def test_a_call_stopped_before_it_began_gives_no_answer(model: SmartTurn) -> None:
    stop = Stop()
    stop()
    with pytest.raises(Stopped):
        model.score(load(STEM), stop)


class StopOnceRunning(Stop):
    """Stops the call the moment it has hooked onto its run: onnxruntime's terminate flag."""

    def on_stop(self, hook: Callable[[], None]) -> bool:
        hooked = super().on_stop(hook)
        self()
        return hooked


def test_a_running_call_is_stopped_by_onnxruntime(model: SmartTurn) -> None:
    with pytest.raises(Stopped):
        model.score(load(STEM), StopOnceRunning())
    assert 0.0 <= model.score(load(STEM), Stop()) <= 1.0  # an unstopped call still answers
