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


def test_serve_help_lists_the_scale_out_options() -> None:
    result = CliRunner().invoke(main, ['serve', '--help'])
    for option in ('--workers', '--no-migrate', 'REMOTEVARS_SERVER_DB', 'postgresql://'):
        assert option in result.stdout


def test_database_urls_are_shown_without_their_password() -> None:
    from remotevars.server._open import describe_db, is_postgres_url

    assert describe_db('postgresql://app:s3cret@db:5432/vars') == 'postgresql://app:***@db:5432/vars'
    assert (
        describe_db('postgres://db/vars?sslmode=require&password=s3cret')
        == 'postgres://db/vars?sslmode=require&password=***'
    )
    assert describe_db('postgresql://app@db/vars') == 'postgresql://app@db/vars'
    assert describe_db('/srv/a:b@c.sqlite3') == '/srv/a:b@c.sqlite3'
    assert is_postgres_url('postgresql://db/vars') and is_postgres_url('postgres://db/vars')
    assert not is_postgres_url('vars.sqlite3')


def test_serve_on_an_unreachable_database_fails_at_start() -> None:
    result = CliRunner().invoke(main, ['serve', '--db', 'postgresql://app:s3cret@127.0.0.1:1/vars', '--write-key', 'w'])
    assert result.exit_code == 2
    assert result.stderr.startswith('Error: database postgresql://app:***@127.0.0.1:1/vars: PostgreSQL: ')
    assert 's3cret' not in result.stderr
