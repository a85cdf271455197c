"""The whisper engine (faster-whisper, tiny.en) on real LibriVox recordings, in process."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("faster_whisper", reason="the whisper extra is not installed")

from tests.engines.test_sphinx import CLIPS, OTHER, RATE, SHORT, alignment, load, reference
from tests.words import corpus_wer, matches, normalize, word_error_rate
from vad_dictate.audio.block import Int16Array
from vad_dictate.engines.base import NO_OPTIONS, RecognizedWord
from vad_dictate.engines.whisper import MAX_BUFFER, WhisperEngine, WhisperRecognizer, trim_window
from vad_dictate.engines.whisper_words import (
    drop_squeezed_tail,
    looped,
    plain_word,
    words_from_segments,
)
from vad_dictate.errors import ConfigError
from vad_dictate.server.textform import spoken_punctuation


def feed(recognizer: WhisperRecognizer, audio: Int16Array, chunk_ms: int) -> None:
    step = RATE * chunk_ms // 1000
    for i in range(0, len(audio), step):
        recognizer.accept(audio[i : i + step])


def texts(words: list[RecognizedWord]) -> list[str]:
    return normalize(" ".join(w.text for w in words))


@pytest.fixture(scope="module")
def engine() -> Iterator[WhisperEngine]:
    yield WhisperEngine("tiny.en", 2)


@pytest.fixture(scope="module")
def decoded(engine: WhisperEngine) -> dict[str, list[RecognizedWord]]:
    """Every clip through one recognizer, 100 ms pieces, one finalize per clip."""
    recognizer = engine.new_recognizer()
    out, offset = {}, 0.0
    for stem in CLIPS:
        feed(recognizer, load(stem), 100)
        words = recognizer.finalize()
        out[stem] = [
            RecognizedWord(
                w.text,
                round(w.start - offset, 3),
                round(w.end - offset, 3),
                w.confidence,
                w.punctuated,
            )
            for w in words
        ]
        offset += len(load(stem)) / RATE
    recognizer.close()
    return out


def test_corpus_wer_within_bound(decoded: dict[str, list[RecognizedWord]]) -> None:
    pairs = [(reference(stem), texts(decoded[stem])) for stem in CLIPS]
    for stem, (ref, hyp) in zip(CLIPS, pairs, strict=True):
        print(f"{stem}: WER {word_error_rate(ref, hyp):.3f}  {' '.join(hyp)}")
    wer = corpus_wer(pairs)
    print(f"corpus WER {wer:.3f}")
    assert wer <= 0.08


def test_words_are_plain_and_punctuated_forms_are_whispers(
    decoded: dict[str, list[RecognizedWord]],
) -> None:
    words = [w for stem in CLIPS for w in decoded[stem]]
    for w in words:
        assert w.text == w.text.lower() and w.text == plain_word(w.text) and " " not in w.text
        assert w.punctuated is not None and plain_word(w.punctuated) == w.text
        assert 0.0 < w.confidence <= 1.0
    # Whisper's own casing and sentence punctuation survive in the punctuated form.
    first = decoded[SHORT]
    assert first[0].punctuated == "He" and first[-1].punctuated is not None
    assert first[-1].punctuated.endswith(".")


def test_word_times_on_the_stream_clock_near_alignment(
    decoded: dict[str, list[RecognizedWord]],
) -> None:
    near = total = 0
    for stem in CLIPS:
        words = decoded[stem]
        duration = len(load(stem)) / RATE
        for word in words:
            assert -0.01 <= word.start <= word.end <= duration + 0.01
        for before, after in itertools.pairwise(words):
            assert before.start <= after.start
        starts = alignment(stem)
        owner = [i for i, w in enumerate(words) for _ in normalize(w.text)]  # "cold-hearted"
        for ref_i, hyp_i in matches(reference(stem), texts(words)):
            total += 1
            near += abs(words[owner[hyp_i]].start - starts[ref_i]) <= 0.5
    assert total >= 60  # of 71 reference words
    assert near >= 0.85 * total


def test_message_size_does_not_change_words(
    engine: WhisperEngine, decoded: dict[str, list[RecognizedWord]]
) -> None:
    recognizer = engine.new_recognizer()
    feed(recognizer, load(SHORT), 20)
    assert recognizer.finalize() == decoded[SHORT]
    recognizer.close()


def test_finalize_without_audio_or_with_silence_gives_nothing(engine: WhisperEngine) -> None:
    recognizer = engine.new_recognizer()
    assert recognizer.finalize() == []
    recognizer.accept(np.zeros(0, dtype=np.int16))
    assert recognizer.finalize() == []
    feed(recognizer, np.zeros(RATE, dtype=np.int16), 100)
    assert recognizer.finalize() == []  # no invented "Thank you." on silence
    feed(recognizer, load(OTHER), 100)
    words = recognizer.finalize()
    assert texts(words)[:3] == ["he", "might", "even"]
    assert 1.0 <= words[0].start <= 1.6  # after the second of silence already finalized
    recognizer.close()


def test_interim_hypothesis_arrives_before_the_final(engine: WhisperEngine) -> None:
    recognizer = engine.new_recognizer()
    audio = load(OTHER)
    assert recognizer.partial() == []
    feed(recognizer, audio[: 2 * RATE], 100)
    interim: list[RecognizedWord] = []
    deadline = time.monotonic() + 60
    while not interim and time.monotonic() < deadline:
        interim = recognizer.partial()  # the first call starts a decode; later ones collect it
        time.sleep(0.05)
    assert texts(interim)[:2] == ["he", "might"]
    assert all(w.end <= 2.01 for w in interim)
    feed(recognizer, audio[2 * RATE :], 100)
    final = recognizer.finalize()
    assert texts(final)[:2] == ["he", "might"] and final[-1].end > 2.5  # all of it
    assert recognizer.partial() == []  # the utterance is closed
    recognizer.close()


def test_interims_are_skipped_not_queued_while_decoding(engine: WhisperEngine) -> None:
    audio = load(SHORT).astype(np.float32) / 32768.0
    first = engine.request_interim(audio, 0.0, NO_OPTIONS)
    assert first is not None
    assert engine.request_interim(audio, 0.0, NO_OPTIONS) is None  # busy: skipped
    first.result(timeout=60)
    time.sleep(0.05)  # the done callback frees the interim thread
    again = engine.request_interim(audio, 0.0, NO_OPTIONS)
    assert again is not None
    again.result(timeout=60)


def test_a_pause_starts_the_final_early_and_speech_after_it_voids_that(
    engine: WhisperEngine,
) -> None:
    recognizer = engine.new_recognizer()
    feed(recognizer, load(SHORT), 100)
    recognizer.pause()
    early = recognizer._early
    assert early is not None
    feed(recognizer, np.zeros(RATE // 2, dtype=np.int16), 100)  # silence after the pause
    final = recognizer.finalize()
    # The early decode's own words (the same objects): the final did not decode again.
    assert final and all(a is b for a, b in zip(final, early[1].result(), strict=True))
    audio = (load(SHORT) / 32768.0).astype(np.float32)
    assert texts(final) == texts(engine.decode(audio, 0.0, NO_OPTIONS))
    # Speech after a pause: the audio after it counts, the early decode does not.
    feed(recognizer, load(SHORT)[: RATE // 2], 100)
    recognizer.pause()
    recognizer.resume()
    assert recognizer._early is None
    feed(recognizer, load(OTHER), 100)
    words = recognizer.finalize()
    assert texts(words)[-3:] == ["made", "amiable", "himself"]
    recognizer.close()


def test_long_utterance_is_decoded_in_pieces_with_bounded_buffer(engine: WhisperEngine) -> None:
    recognizer = engine.new_recognizer()
    clips = [load(stem) for stem in CLIPS]
    audio = np.concatenate(clips * 2)  # about 49 s without a finalize
    feed(recognizer, audio, 100)
    assert recognizer._buffered < MAX_BUFFER
    words = recognizer.finalize()
    refs = [w for stem in CLIPS for w in reference(stem)] * 2
    assert word_error_rate(refs, texts(words)) <= 0.15
    assert words[-1].end <= len(audio) / RATE + 0.01 and words[-1].start > len(audio) / RATE - 3
    recognizer.close()


def test_closed_recognizer_refuses_use(engine: WhisperEngine) -> None:
    recognizer = engine.new_recognizer()
    recognizer.close()
    recognizer.close()
    with pytest.raises(ValueError, match="closed"):
        recognizer.accept(np.zeros(160, dtype=np.int16))
    with pytest.raises(ValueError, match="closed"):
        recognizer.finalize()


@pytest.mark.parametrize("threads", [-1, 65])
def test_threads_out_of_range_is_one_sentence(threads: int) -> None:
    with pytest.raises(ConfigError, match=r"engine\.threads is -?\d+, but it must be between"):
        WhisperEngine("tiny.en", threads)


def test_piece_without_space_continues_the_word() -> None:
    class W:
        def __init__(self, word: str, start: float, end: float) -> None:
            self.word, self.start, self.end, self.probability = word, start, end, 0.9

    class S:
        def __init__(self) -> None:
            self.words = [W(" He", 0, 0.2), W(" old", 0.3, 0.5), W("-sposed,", 0.5, 0.9)]
            self.words.append(W(" ...", 1, 1))

    words = words_from_segments([S()], 10.0)
    assert [(w.text, w.punctuated, w.start, w.end) for w in words] == [
        ("he", "He", 10.0, 10.2),
        ("old-sposed", "old-sposed,", 10.3, 10.9),
    ]


def test_language_reaches_multilingual_models_only(engine: WhisperEngine) -> None:
    assert engine.multilingual is False
    assert engine._language("de-DE") == "en"  # tiny.en knows only English
    multilingual = copy.copy(engine)
    multilingual.multilingual = True
    assert multilingual._language("de-DE") == "de"
    assert multilingual._language("fr") == "fr"
    assert multilingual._language("xx-YY") is None  # unknown: Whisper detects the language
    assert multilingual._language(None) is None


def test_spoken_mark_replaces_the_mark_whisper_put_there() -> None:
    words = [
        RecognizedWord("hotel", 0.0, 0.4, 0.9, "Hotel,"),
        RecognizedWord("comma", 0.5, 0.9, 0.9, "comma,"),
        RecognizedWord("india", 1.0, 1.4, 0.9, "India."),
    ]
    said = spoken_punctuation(words)
    assert [(w.text, w.punctuated) for w in said] == [("hotel,", "Hotel,"), ("india", "India.")]
    said = spoken_punctuation([words[0], RecognizedWord("period", 0.5, 0.9, 0.9, "period.")])
    assert [(w.text, w.punctuated) for w in said] == [("hotel.", "Hotel.")]


@pytest.mark.parametrize(
    ("said", "loop"),
    [
        ("", False),
        ("five five", False),
        ("five five five", True),
        ("no no no", True),  # said so, it is decoded again over the whole window: same words
        ("seven of clubs seven of clubs seven of clubs", True),
        ("seven of clubs seven of clubs", False),
        ("a b c d a b c d a b c d", True),
        ("a b c d e a b c d e a b c d e", False),  # longer phrases are not looked for
        ("he said that that was so", False),
        ("go forward ten meters go forward ten meters go forward", False),
        ("an ill-disposed young man f-d-d-d-d-d-d-d", True),  # a loop inside one word
        ("an ill-disposed young man", False),
        ("a well-to-do man", False),
    ],
)
def test_a_loop_is_a_phrase_three_times_in_a_row(said: str, loop: bool) -> None:
    assert looped(said.split()) is loop


@pytest.mark.parametrize(
    ("shape", "content", "pad", "kept"),
    [
        ((80, 3000), 700, 1000, 1700),
        ((80, 3000), 700, None, 3000),  # the whole window
        ((80, 3000), 2500, 1000, 3000),  # never more than Whisper's window
        ((1, 80, 3000), 700, 1000, 1700),  # batched
        ((80, 3000), 0, 1000, 1000),  # no audio at all
    ],
)
def test_window_is_cut_to_the_speech_plus_pad(
    shape: tuple[int, ...], content: int, pad: int | None, kept: int
) -> None:
    features = np.zeros(shape, dtype=np.float32)
    features[..., :content] = -0.7  # log-mel silence is negative, never all zeros
    features[..., 3, : content // 2] = 0.0  # a zero bin inside the speech is still speech
    cut = trim_window(features, pad)
    assert cut.shape == (*shape[:-1], kept)
    assert np.array_equal(cut[..., :content], features[..., :content])


@pytest.mark.parametrize(
    ("starts", "kept"),
    [
        ([0.0, 0.44, 0.68, 1.2], 4),
        ([0.0, 0.44, 6.25, 6.25, 6.31, 6.31, 6.31], 2),  # "...man" + an invented ending
        ([0.0, 0.44, 0.5], 3),  # two quick words are speech
        ([0.0, 0.05, 0.1, 0.12], 0),  # nothing but a squeezed run
        ([], 0),
        ([1.0], 1),
    ],
)
def test_a_squeezed_invented_ending_is_dropped(starts: list[float], kept: int) -> None:
    words = [RecognizedWord(f"w{i}", s, s + 0.01, 0.5) for i, s in enumerate(starts)]
    assert drop_squeezed_tail(words) == words[:kept]
