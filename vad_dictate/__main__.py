"""Allow ``python -m vad_dictate``."""

from vad_dictate.cli import main

raise SystemExit(main())
