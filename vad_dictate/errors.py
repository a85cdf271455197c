"""One exception tree for every failure a user can see.

Each error carries the process exit code it maps to and a message that is a
single sentence naming the problem and the fix. Shells translate foreign
exceptions into these with ``raise ... from exc``; the CLI prints ``str(exc)``
and exits with ``exc.exit_code``, never a traceback.

Exit codes: 0 success; 2 usage, configuration or input-file error; 3 the
server rejected the credentials or permissions; 4 no usable audio device;
5 the server could not be reached; 6 another vad-dictate already listens to the
microphone.
"""

from __future__ import annotations

from typing import Any, ClassVar


class VadDictateError(Exception):
    """Base class: an expected failure with a one-sentence message.

    A subclass states its exit code in its header (``exit_code=2``) or inherits its parent's.
    """

    exit_code: ClassVar[int] = 1
    retryable = False

    def __init_subclass__(cls, *, exit_code: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if exit_code is not None:
            cls.exit_code = exit_code


class ConfigError(VadDictateError, exit_code=2):
    """A configuration value, CLI flag or environment variable is invalid."""


class InputFileError(VadDictateError, exit_code=2):
    """An input audio file is missing, unreadable or in a format we cannot use."""


class AudioDeviceError(VadDictateError, exit_code=4):
    """No usable audio input device (missing PortAudio, no device, device busy)."""


class AuthError(VadDictateError, exit_code=3):
    """The server rejected the credentials or the permissions (HTTP 401/403)."""


class RequestRejected(VadDictateError, exit_code=2):
    """The server rejected the request itself (HTTP 400 and other non-retryable 4xx)."""


class TransportError(VadDictateError, exit_code=5):
    """The server could not be reached or the connection failed."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class AlreadyRunning(VadDictateError, exit_code=6):
    """Another vad-dictate session already listens to the microphone."""
