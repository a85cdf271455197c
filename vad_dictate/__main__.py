"""Allow ``python -m vad_dictate``."""

from vad_dictate.cli.commands import main

raise SystemExit(main())
