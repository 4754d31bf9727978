"""Run the Logfire SDK 5.4.0's variables tests against remotevars (``make logfire-suite``).

Fetches the ``logfire-sdk==5.4.0`` source release with ``pip download`` into ``build/logfire-suite``
(never into the repository), copies its five variables test files next to our conftest, and runs them
with ``tests/logfire_suite/shim`` first on the path, so ``import logfire`` is our thin shim over
remotevars. ``not_applicable.txt`` lists the tests left out (with the reason), ``known_differences.txt``
the applicable ones that fail because of a documented deliberate difference (strict xfail). Exits with
pytest's status; extra arguments go to pytest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BUILD = ROOT / 'build' / 'logfire-suite'
SDIST = 'logfire-sdk==5.4.0'
FILES = (
    'test_variables.py',
    'test_push_variables.py',
    'test_variable_composition.py',
    'test_variable_templates.py',
    'test_template_validation.py',
)


def fetch() -> Path:
    """Return the folder holding the SDK's test files, downloading and extracting them when needed."""
    tests = BUILD / 'tests'
    if all((tests / name).exists() for name in FILES):
        return tests
    BUILD.mkdir(parents=True, exist_ok=True)
    archives = list(BUILD.glob('logfire_sdk-5.4.0.tar.gz'))
    if not archives:
        subprocess.run(
            [
                sys.executable,
                '-m',
                'pip',
                'download',
                '--quiet',
                '--no-deps',
                '--no-binary',
                ':all:',
                SDIST,
                '-d',
                BUILD,
            ],
            check=True,
        )
        archives = list(BUILD.glob('logfire_sdk-5.4.0.tar.gz'))
    tests.mkdir(exist_ok=True)
    with tarfile.open(archives[0]) as archive:
        for name in FILES:
            member = archive.extractfile(f'logfire_sdk-5.4.0/tests/{name}')
            assert member is not None
            (tests / name).write_bytes(member.read())
    return tests


def main(argv: list[str]) -> int:
    tests = fetch()
    shutil.copyfile(HERE / 'suite_conftest.py', tests / 'conftest.py')
    (tests / 'pytest.ini').write_text(
        '[pytest]\nfilterwarnings =\n    error\naddopts = -p no:pytest_logfire -p no:cacheprovider\n'
    )
    env = {
        **os.environ,
        'PYTHONPATH': os.pathsep.join([str(HERE / 'shim'), str(ROOT / 'core')]),
        'REMOTEVARS_SUITE_LISTS': str(HERE),
        'PYDANTIC_DISABLE_PLUGINS': '__all__',
    }
    if not argv:
        env['REMOTEVARS_SUITE_WHOLE'] = '1'
    command = [sys.executable, '-m', 'pytest', '--rootdir', str(tests), '-c', str(tests / 'pytest.ini'), *FILES, *argv]
    return subprocess.run(command, cwd=tests, env=env, check=False).returncode


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
