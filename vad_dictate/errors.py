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


class VadDictateError(Exception):
    """Base class: an expected failure with a one-sentence message."""

    exit_code = 1
    retryable = False


class ConfigError(VadDictateError):
    """A configuration value, CLI flag or environment variable is invalid."""

    exit_code = 2


class InputFileError(VadDictateError):
    """An input audio file is missing, unreadable or in a format we cannot use."""

    exit_code = 2


class AudioDeviceError(VadDictateError):
    """No usable audio input device (missing PortAudio, no device, device busy)."""

    exit_code = 4


class AuthError(VadDictateError):
    """The server rejected the credentials or the permissions (HTTP 401/403)."""

    exit_code = 3


class RequestRejected(VadDictateError):
    """The server rejected the request itself (HTTP 400 and other non-retryable 4xx)."""

    exit_code = 2


class TransportError(VadDictateError):
    """The server could not be reached or the connection failed."""

    exit_code = 5

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class AlreadyRunning(VadDictateError):
    """Another vad-dictate session already listens to the microphone."""

    exit_code = 6
