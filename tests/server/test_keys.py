"""Named API keys: the keys file, ``remotevars keys new``, ``serve --keys-file`` (no secret in ``ps``)."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from remotevars import ConfigurationError
from remotevars.cli import main
from remotevars.server._auth import Keys, digest, unnamed_keys
from remotevars.server._keys_file import load_keys_file
from tests.serverutil import api_client, server_process, variable_body

SECRET = 'ci-secret-abcdefghijklmnop'
READER = 'reader-secret-abcdefghijk'


def _keys_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / 'keys.toml'
    path.write_text(text)
    return path


def test_a_keys_file_holds_secrets_or_their_hashes(tmp_path: Path) -> None:
    hashed = hashlib.sha256(READER.encode()).hexdigest()
    path = _keys_file(
        tmp_path,
        f"""
[[keys]]
name = "ci"
scope = "write"
secret = "{SECRET}"

[[keys]]
name = "dashboard"
scope = "read"
sha256 = "{hashed}"
""",
    )
    keys = Keys(load_keys_file(path), allow_anonymous_read=False)
    ci, dashboard = keys.identify(f'bearer {SECRET}'), keys.identify(f'Bearer {READER}')
    assert ci is not None and (ci.name, ci.scope) == ('ci', 'write')
    assert dashboard is not None and (dashboard.name, dashboard.scope) == ('dashboard', 'read')
    assert keys.identify('bearer nope') is None and keys.identify(None) is None
    assert SECRET not in repr(ci)


@pytest.mark.parametrize(
    ('entry', 'message'),
    [
        ('name = "ci"\nscope = "write"', 'keys[0] (ci): give exactly one of secret and sha256'),
        (f'name = "ci"\nscope = "admin"\nsecret = "{SECRET}"', 'keys[0] (ci).scope: expected "read" or "write"'),
        (f'name = "c i"\nscope = "read"\nsecret = "{SECRET}"', 'keys[0].name: expected 1-64 letters'),
        ('name = "ci"\nscope = "read"\nsha256 = "abc"', 'keys[0] (ci).sha256: expected 64 hexadecimal digits'),
        (f'name = "ci"\nscope = "read"\nsecret = "{SECRET}"\nowner = "me"', 'unknown field(s) owner'),
        ('name = "ci"\nscope = "read"\nsecret = "short"', 'at least 16 characters'),
    ],
)
def test_invalid_entries_are_refused_without_showing_secrets(tmp_path: Path, entry: str, message: str) -> None:
    path = _keys_file(tmp_path, f'[[keys]]\n{entry}\n')
    with pytest.raises(ConfigurationError) as raised:
        load_keys_file(path)
    assert str(raised.value).startswith(f'keys file {path}: keys[0]')
    assert message in str(raised.value)
    assert SECRET not in str(raised.value)


def test_unreadable_files_and_clashing_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match='cannot read it'):
        load_keys_file(tmp_path / 'missing.toml')
    with pytest.raises(ConfigurationError, match='not valid TOML'):
        load_keys_file(_keys_file(tmp_path, '[[keys]\n'))
    flags = unnamed_keys(['r1'], ['w1', 'w2'])
    assert [(k.name, k.scope) for k in flags] == [
        ('read-key-1', 'read'),
        ('write-key-1', 'write'),
        ('write-key-2', 'write'),
    ]
    with pytest.raises(ConfigurationError, match="'write-key-1', 'write-key-2' have the same secret"):
        Keys(unnamed_keys([], ['same', 'same']), allow_anonymous_read=False)
    with pytest.raises(ConfigurationError, match="names must be unique: 'read-key-1'"):
        Keys([*flags, flags[0]], allow_anonymous_read=False)


def test_keys_new_prints_an_entry_with_the_hash_and_the_secret_once(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ['keys', 'new', '--name', 'ci', '--scope', 'write'])
    assert result.exit_code == 0
    secret = result.stderr.rsplit(': ', 1)[1].strip()
    assert secret.startswith('rv_') and len(secret) > 40
    assert secret not in result.stdout
    entry = tomllib.loads(result.stdout)
    assert entry == {'keys': [{'name': 'ci', 'scope': 'write', 'sha256': digest(secret).hex()}]}
    # Appended to a keys file, it is what serve loads.
    path = _keys_file(tmp_path, result.stdout)
    (key,) = load_keys_file(path)
    assert (key.name, key.scope, key.sha256) == ('ci', 'write', digest(secret))
    bad = CliRunner().invoke(main, ['keys', 'new', '--name', '-x', '--scope', 'read'])
    assert (bad.exit_code, bad.stdout) == (2, '')
    assert bad.stderr.startswith('Error: --name: expected')


def test_serve_with_a_keys_file_keeps_secrets_out_of_ps(tmp_path: Path) -> None:
    path = _keys_file(
        tmp_path,
        f'[[keys]]\nname = "ci"\nscope = "write"\nsecret = "{SECRET}"\n\n'
        f'[[keys]]\nname = "dashboard"\nscope = "read"\nsha256 = "{digest(READER).hex()}"\n',
    )
    with server_process(
        tmp_path / 'db.sqlite3',
        read_keys=(),
        write_keys=(),
        extra_args=('--keys-file', str(path)),
        read_key_for_checks=READER,
    ) as server:
        assert server.process is not None
        command_line = Path(f'/proc/{server.process.pid}/cmdline').read_bytes()
        assert str(path).encode() in command_line
        assert SECRET.encode() not in command_line and READER.encode() not in command_line
        with api_client(server.url, SECRET) as writer, api_client(server.url, READER) as reader:
            assert writer.post('/v1/variables/', json=variable_body('flag', 'on')).status_code == 201
            assert reader.post('/v1/variables/', json=variable_body('x', 1)).status_code == 403
            assert [e['actor'] for e in reader.get('/v1/variables/flag/history/').json()] == ['ci']


def test_serve_refuses_a_bad_keys_file(tmp_path: Path) -> None:
    path = _keys_file(tmp_path, '[[keys]]\nname = "ci"\nscope = "write"\n')
    result = CliRunner().invoke(
        main,
        ['serve', '--db', str(tmp_path / 'db.sqlite3'), '--keys-file', str(path)],
        env={'REMOTEVARS_SERVER_READ_KEYS': None, 'REMOTEVARS_SERVER_WRITE_KEYS': None},
    )
    assert result.exit_code == 2
    assert result.stderr == f'Error: keys file {path}: keys[0] (ci): give exactly one of secret and sha256\n'
    assert not (tmp_path / 'db.sqlite3').exists()
