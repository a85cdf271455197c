"""The exit codes are a public contract: each error class maps to its code, subclasses inherit."""

from __future__ import annotations

import pytest

from vad_dictate.engines.whisper_models import ModelUnavailable
from vad_dictate.errors import (
    AlreadyRunning,
    AudioDeviceError,
    AuthError,
    ConfigError,
    InputFileError,
    RequestRejected,
    TransportError,
    VadDictateError,
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (VadDictateError, 1),
        (ConfigError, 2),
        (InputFileError, 2),
        (RequestRejected, 2),
        (AuthError, 3),
        (AudioDeviceError, 4),
        (TransportError, 5),
        (AlreadyRunning, 6),
        (ModelUnavailable, 2),  # a ConfigError
    ],
)
def test_each_error_maps_to_its_exit_code(error: type[VadDictateError], code: int) -> None:
    assert error.exit_code == code
    assert error("message").exit_code == code


def test_only_transport_errors_are_retryable_and_may_say_otherwise() -> None:
    assert not ConfigError("bad").retryable and not AuthError("no").retryable
    assert TransportError("lost").retryable
    assert not TransportError("refused", retryable=False).retryable
