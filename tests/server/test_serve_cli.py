"""``remotevars serve`` argument handling (running it for real is covered by the subprocess tests)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from remotevars.cli import main


def test_serve_without_keys_refuses_to_start(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ['serve', '--db', str(tmp_path / 'db.sqlite3')],
        env={'REMOTEVARS_SERVER_READ_KEYS': None, 'REMOTEVARS_SERVER_WRITE_KEYS': None},
    )
    assert result.exit_code == 2
    assert result.stderr == (
        'Error: no API keys configured: pass --keys-file (or --read-key/--write-key, REMOTEVARS_SERVER_*_KEYS)\n'
    )
    assert not (tmp_path / 'db.sqlite3').exists()


def test_serve_help_lists_the_options() -> None:
    result = CliRunner().invoke(main, ['serve', '--help'])
    assert result.exit_code == 0
    for option in (
        '--host',
        '--port',
        '--db',
        '--read-key',
        '--write-key',
        '--keepalive',
        '--allow-anonymous-read',
        '--no-ui',
        '--session-secret',
    ):
        assert option in result.stdout
    assert '127.0.0.1' in result.stdout


def test_serve_refuses_a_short_console_session_secret(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ['serve', '--db', str(tmp_path / 'db.sqlite3'), '--read-key', 'r', '--session-secret', 'short'],
        env={'REMOTEVARS_SERVER_SESSION_SECRET': None},
    )
    assert result.exit_code == 2
    assert result.stderr == 'Error: the console session secret must be at least 16 characters (it signs the cookies)\n'
