"""vad-dictate: dictation over Deepgram's live protocol with client-side endpointing."""

__version__ = "0.1.0"
