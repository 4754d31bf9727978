"""The core never imports a web framework: checked on its source, and in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import remotevars

CORE = Path(remotevars.__file__).parent
FRAMEWORKS = {'django', 'flask', 'werkzeug', 'django_remotevars', 'flask_remotevars', 'jinja2', 'blinker'}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split('.')[0])
    return roots


def _allowed(path: Path) -> set[str]:
    # The server's console (the server extra) renders its pages with Jinja2; nothing else in the core may.
    return {'jinja2'} if path.is_relative_to(CORE / 'server' / 'console') else set()


def test_core_source_imports_no_framework() -> None:
    offenders = {
        str(path.relative_to(CORE)): sorted(_imported_roots(path) & FRAMEWORKS - _allowed(path))
        for path in CORE.rglob('*.py')
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert 'jinja2' in _imported_roots(CORE / 'server' / 'console' / '_base.py')  # the exception is used


def test_importing_core_loads_no_framework() -> None:
    code = (
        'import sys, remotevars, remotevars.config, remotevars.providers.local\n'
        f'print(sorted(m for m in sys.modules if m.split(".")[0] in {sorted(FRAMEWORKS)!r}))'
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == '[]'


def test_import_remotevars_loads_only_the_read_path() -> None:
    """``import remotevars`` stays light (issue 11: under 100 ms with ``-X importtime``, measured by hand):
    no asyncio, no HTTP client, no pydantic models (configs, TypeAdapter), no workflows, no regex engine
    (a config with regex conditions loads it); reading a lazily exported name loads its module then."""
    heavy = ['asyncio', 'httpx', 'pydantic.main', 'remotevars.config', 'remotevars.push', 'remotevars._plan', 'regex']
    code = (
        'import sys, remotevars\n'
        f'print(sorted(m for m in {heavy!r} if m in sys.modules))\n'
        'remotevars.VariablesConfig\n'
        "print('remotevars.config' in sys.modules)"
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ['[]', 'True']
