"""The package layout is the architecture: pure cores import no I/O, and the client never
reaches into the server side of the wire. Imports are read with ``ast`` (function-level
imports included), so a lazy import cannot slip past."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vad_dictate"

# Modules that decide things: no sockets, event loops, threads, devices or clock reads.
# Every other module is a shell (client/session.py, client/connection.py, client/clock.py ...).
PURE = (
    "deepgram/protocol.py",
    "deepgram/retry.py",
    "vad/endpointer.py",
    "vad/noise.py",
    "vad/levels.py",
    "vad/classifier.py",
    "vad/events.py",
    "vad/turn.py",
    "vad/melspec.py",
    "vad/hold.py",
    "client/controls.py",
    "client/ticks.py",
    "client/pipeline.py",
    "client/outbox.py",
    "client/assembler.py",
    "client/actions.py",
    "client/capture.py",
    "client/lines.py",
    "client/sentences.py",
    "client/core.py",
    "client/link.py",
    "client/wire.py",
    "server/session.py",
    "server/channel.py",
    "server/textform.py",
    "server/configure.py",
    "client/keyterms.py",
    "ui/composer.py",
    "server/params.py",
    "server/wav.py",
    "server/admission.py",
    "audio/block.py",
    "audio/resample.py",
    "engines/base.py",
    "ui/feed.py",
    "ui/notices.py",
)
IO_MODULES = frozenset(
    {
        "asyncio",
        "socket",
        "selectors",
        "signal",
        "subprocess",
        "threading",
        "time",
        "sounddevice",
        "websockets",
        "concurrent",
        "multiprocessing",
    }
)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in the file, as dotted names."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("relpath", PURE)
def test_pure_modules_import_no_io(relpath: str) -> None:
    imported = _imports(PACKAGE / relpath)
    bad = sorted(n for n in imported if n.split(".")[0] in IO_MODULES)
    assert bad == [], f"{relpath} is a pure core but imports {bad}"


@pytest.mark.parametrize("relpath", PURE)
def test_pure_modules_import_only_pure_project_modules(relpath: str) -> None:
    allowed = {"vad_dictate." + p[: -len(".py")].replace("/", ".") for p in PURE}
    allowed |= {"vad_dictate.errors", "vad_dictate", "vad_dictate.vad.silero"}
    imported = {n for n in _imports(PACKAGE / relpath) if n.startswith("vad_dictate")}
    # ``from vad_dictate.x import Name`` also lists ``vad_dictate.x.Name``: judge the module.
    modules = {n for n in imported if (PACKAGE.parent / (n.replace(".", "/") + ".py")).exists()}
    modules |= {n for n in imported if (PACKAGE.parent / n.replace(".", "/")).is_dir()}
    bad = sorted(m for m in modules if m not in allowed and not m.endswith("__init__"))
    bad = [m for m in bad if not (PACKAGE.parent / m.replace(".", "/")).is_dir()]
    assert bad == [], f"{relpath} is a pure core but imports shell modules {bad}"


def test_every_pure_module_exists() -> None:
    missing = [p for p in PURE if not (PACKAGE / p).is_file()]
    assert missing == []


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("client", ("vad_dictate.server", "vad_dictate.engines", "vad_dictate.cli")),
        ("deepgram", ("vad_dictate.client", "vad_dictate.server", "vad_dictate.ui")),
        ("vad", ("vad_dictate.client", "vad_dictate.server", "vad_dictate.ui")),
        ("server", ("vad_dictate.client", "vad_dictate.ui", "vad_dictate.cli")),
        ("engines", ("vad_dictate.client", "vad_dictate.ui", "vad_dictate.cli")),
        ("audio", ("vad_dictate.client", "vad_dictate.server", "vad_dictate.ui")),
    ],
)
def test_package_boundaries(package: str, forbidden: tuple[str, ...]) -> None:
    files = sorted((PACKAGE / package).rglob("*.py"))
    assert files, f"vad_dictate/{package} is empty"
    crossings = [
        f"{f.relative_to(PACKAGE)} imports {name}"
        for f in files
        for name in sorted(_imports(f))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert crossings == []


def test_flat_layout_is_gone() -> None:
    """Only the entry points and cross-cutting modules stay at the top of the package."""
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert set(top) <= {
        "__init__.py",
        "__main__.py",
        "config.py",
        "errors.py",
        "paths.py",
    }, top


def test_control_commands_do_not_load_the_audio_stack() -> None:
    """``vad-dictate toggle`` on a shortcut must start fast: no numpy, websockets or PortAudio."""
    probe = (
        "import sys, vad_dictate.cli.commands, vad_dictate.ui.remote, vad_dictate.ui.follow; "
        "print(sorted(m for m in ('numpy', 'websockets', 'sounddevice', 'soundfile') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


MAX_MODULE_LINES = 400


def test_every_module_is_under_the_size_limit() -> None:
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert len(sizes) > 50
    assert {name: n for name, n in sizes.items() if n >= MAX_MODULE_LINES} == {}


def test_tests_do_not_import_benchmarks() -> None:
    """Benchmarks may use the tests' helpers (clips, fake microphone), never the other way:
    a test must not depend on measuring code. The benchmarks' own smoke tests live beside
    them (benchmarks/test_smoke.py)."""
    tests = Path(__file__).resolve().parent
    files = sorted(tests.rglob("*.py"))
    assert len(files) > 50
    users = [
        str(f.relative_to(tests))
        for f in files
        if any(n == "benchmarks" or n.startswith("benchmarks.") for n in _imports(f))
    ]
    assert users == []


SHELL_LINES = {"client/session.py": 250}  # issue 9: the Session is a thin asyncio shell


@pytest.mark.parametrize(("relpath", "limit"), sorted(SHELL_LINES.items()))
def test_the_session_shell_stays_thin(relpath: str, limit: int) -> None:
    lines = len((PACKAGE / relpath).read_text(encoding="utf-8").splitlines())
    assert lines <= limit, f"{relpath} has {lines} lines: move its decisions into the core"


def test_no_formatter_escapes() -> None:
    """The formatter's layout holds everywhere: no ``fmt: skip`` / ``fmt: off`` markers."""
    root = PACKAGE.parent
    files = [f for d in ("vad_dictate", "tests", "benchmarks") for f in (root / d).rglob("*.py")]
    marker = "# fmt: " + "skip", "# fmt: " + "off"  # split so this file does not match itself
    found = [str(f.relative_to(root)) for f in files if any(m in f.read_text() for m in marker)]
    assert len(files) > 150 and found == []
