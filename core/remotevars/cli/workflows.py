"""The workflow subcommands: ``push``, ``push-types``, ``validate``, ``pull``, ``push-config``, ``build-config``.

A thin click layer over :mod:`remotevars.push`: it imports the ``--module`` modules (their variables
register on the default client), picks the server from ``--base-url`` / ``--api-key`` (or
``REMOTEVARS_BASE_URL`` / ``REMOTEVARS_API_KEY``), and turns outcomes into exit codes a CI can use:
0 clean, 1 validation errors or a refused plan, 2 usage or connection errors, each non-zero one with a
one-line reason on stderr. Colours only on a terminal; ``--no-input`` never prompts, and without a
terminal a plan that needs confirmation is refused unless ``--yes``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from pydantic import ValidationError

from remotevars import push
from remotevars._api import ApiClient
from remotevars._default import get_client
from remotevars._errors import ConfigurationError, RemoteVarsError
from remotevars.config import VariablesConfig

__all__ = [
    'commands',
    'console_for',
    'import_modules',
    'load_type',
    'module_option',
    'output_option',
    'plan_options',
    'push_config_options',
    'read_config',
    'strict_option',
    'strict_types_option',
    'types_option',
    'write_config',
]

F = TypeVar('F', bound=Callable[..., Any])


def _fail(reason: str, code: int) -> NoReturn:
    click.echo(f'Error: {" ".join(reason.split())}', err=True)
    raise SystemExit(code)


def import_modules(modules: Sequence[str]) -> None:
    """Import each module (from the working directory too); ends the command with exit code 2 on failure."""
    # The console script does not put the working directory on sys.path; `--module myapp.vars` run
    # from a project's root should work like `python -c 'import myapp.vars'` does.
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            _fail(f'cannot import module {name!r}: {type(exc).__name__}: {exc}', 2)


def _server_options(command: F) -> F:
    command = click.option(
        '--api-key', envvar='REMOTEVARS_API_KEY', show_envvar=True, help='API key of the variables server.'
    )(command)
    return click.option(
        '--base-url', envvar='REMOTEVARS_BASE_URL', show_envvar=True, help='Base URL of the variables server.'
    )(command)


def module_option(command: F) -> F:
    """The repeatable ``--module`` option naming modules to import (they register variables)."""
    return click.option(
        '--module',
        '-m',
        'modules',
        multiple=True,
        metavar='MODULE',
        help='Import this module to register its variables (repeatable).',
    )(command)


def types_option(command: F) -> F:
    """The repeatable, required ``--type MODULE:NAME[=EXPLICIT]`` option of push-types."""
    return click.option(
        '--type',
        'type_specs',
        multiple=True,
        required=True,
        metavar='MODULE:NAME[=EXPLICIT]',
        help='A type to push, optionally under an explicit name (repeatable).',
    )(command)


def strict_option(command: F) -> F:
    """push's ``--strict``: refuse when a server value would not fit the new type."""
    return click.option('--strict', is_flag=True, help='Refuse when a server value would not fit the new type.')(
        command
    )


def strict_types_option(command: F) -> F:
    """push-types' ``--strict``: refuse when a variable value would not fit the new type."""
    return click.option('--strict', is_flag=True, help='Refuse when a variable value would not fit the new type.')(
        command
    )


def push_config_options(command: F) -> F:
    """push-config's ``--input FILE`` (stdin when omitted) and ``--mode merge|replace``."""
    command = click.option(
        '--mode',
        type=click.Choice(['merge', 'replace']),
        default='merge',
        show_default=True,
        help='replace also deletes server variables missing from the file.',
    )(command)
    return click.option(
        '--input', '-i', 'input_path', metavar='FILE', help='The config file to push (default: stdin).'
    )(command)


def output_option(command: F) -> F:
    """The ``--output FILE`` option (stdout when omitted)."""
    return click.option('--output', '-o', metavar='FILE', help='Write the config here (default: stdout).')(command)


def plan_options(command: F) -> F:
    """The ``--dry-run``, ``--yes`` and ``--no-input`` options of commands that apply a plan."""
    for decorator in (
        click.option('--no-input', is_flag=True, help='Never prompt; refuse a plan that needs confirmation.'),
        click.option('--yes', '-y', is_flag=True, help='Apply without asking for confirmation.'),
        click.option('--dry-run', is_flag=True, help='Show the plan, change nothing.'),
    ):
        command = decorator(command)
    return command


@contextmanager
def _api(base_url: str | None, api_key: str | None) -> Iterator[ApiClient]:
    try:
        with push.connect(get_client(), base_url=base_url, api_key=api_key) as api:
            yield api
    except ConfigurationError as exc:
        _fail(str(exc), 2)


def console_for(no_input: bool) -> push.Console:
    """Return the console the commands print and prompt through (``--no-input``: never prompt)."""
    return push.make_console(None, None, None, can_prompt=False if no_input else None)


def _finish(outcome: push.Outcome) -> None:
    if outcome.exit_code:
        _fail(outcome.reason or outcome.status, outcome.exit_code)


def _variables(modules: Sequence[str]) -> list[Any]:
    import_modules(modules)
    variables = get_client().variables()
    if not variables:
        _fail('no variables are registered: name the modules that declare them with --module', 2)
    return variables


@click.command('push')
@module_option
@plan_options
@strict_option
@_server_options
def push_command(
    modules: tuple[str, ...],
    dry_run: bool,
    yes: bool,
    no_input: bool,
    strict: bool,
    base_url: str | None,
    api_key: str | None,
) -> None:
    """Push the schemas and descriptions of variables declared in code to the server."""
    variables = _variables(modules)
    with _api(base_url, api_key) as api:
        outcome = push.run_push(variables, api, console_for(no_input), dry_run=dry_run, yes=yes, strict=strict)
    _finish(outcome)


def load_type(spec: str) -> tuple[Any, str] | Any:
    """Import ``module:Name[=explicit_name]``: the type, or ``(type, name)``; ends the command (exit 2) on failure."""
    target, _, explicit = spec.partition('=')
    module_name, sep, attribute = target.partition(':')
    if not sep or not module_name or not attribute:
        _fail(f'--type {spec!r}: expected module:Name or module:Name=explicit_name', 2)
    import_modules([module_name])
    found: Any = importlib.import_module(module_name)
    for part in attribute.split('.'):
        try:
            found = getattr(found, part)
        except AttributeError:
            _fail(f'--type {spec!r}: module {module_name!r} has no attribute {attribute!r}', 2)
    return (found, explicit) if explicit else found


@click.command('push-types')
@types_option
@plan_options
@strict_types_option
@_server_options
def push_types_command(
    type_specs: tuple[str, ...],
    dry_run: bool,
    yes: bool,
    no_input: bool,
    strict: bool,
    base_url: str | None,
    api_key: str | None,
) -> None:
    """Push reusable type schemas (pydantic models and other types) to the server."""
    types = [load_type(spec) for spec in type_specs]
    with _api(base_url, api_key) as api:
        outcome = push.run_push_types(types, api, console_for(no_input), dry_run=dry_run, yes=yes, strict=strict)
    _finish(outcome)


@click.command('validate')
@module_option
@_server_options
def validate_command(modules: tuple[str, ...], base_url: str | None, api_key: str | None) -> None:
    """Check that every server value of the variables still fits their types in code (exit 1 if not)."""
    variables = _variables(modules)
    with _api(base_url, api_key) as api:
        try:
            report = push.variables_validate(variables, api=api)
        except RemoteVarsError as exc:
            _fail(f'cannot fetch the server config: {exc}', 2)
    click.echo(report.format(colors=sys.stdout.isatty()))
    if report.has_errors:
        problems = len({e.variable_name for e in report.errors}) + len(report.variables_not_on_server)
        _fail(f'validation failed: {problems} issue(s) found', 1)


def write_config(config: VariablesConfig, output: str | None) -> None:
    """Write ``config`` as indented JSON to ``output`` (stdout for None or ``-``)."""
    text = config.model_dump_json(indent=2)
    if output is None or output == '-':
        click.echo(text)
        return
    try:
        Path(output).write_text(text + '\n', encoding='utf-8')
    except OSError as exc:
        _fail(f'cannot write {output}: {exc}', 2)


@click.command('pull')
@output_option
@_server_options
def pull_command(output: str | None, base_url: str | None, api_key: str | None) -> None:
    """Write the server's whole config (labels, versions, rollouts) as JSON."""
    with _api(base_url, api_key) as api:
        try:
            config = push.variables_pull_config(api=api)
        except RemoteVarsError as exc:
            _fail(f'cannot fetch the server config: {exc}', 2)
    write_config(config, output)


@click.command('build-config')
@module_option
@output_option
def build_config_command(modules: tuple[str, ...], output: str | None) -> None:
    """Write a config template (name, description, schema, example) of the variables declared in code."""
    variables = _variables(modules)
    try:
        config = push.variables_build_config(variables)
    except RemoteVarsError as exc:
        _fail(str(exc), 1)
    write_config(config, output)


def read_config(path: str | None) -> VariablesConfig:
    """Read a config file (stdin for None or ``-``); ends the command (exit 2) when it is unusable."""
    try:
        raw = sys.stdin.read() if path is None or path == '-' else Path(path).read_text(encoding='utf-8')
    except OSError as exc:
        _fail(f'cannot read {path}: {exc}', 2)
    try:
        return VariablesConfig.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = '.'.join(str(p) for p in first['loc'])
        source = path or 'stdin'
        _fail(f'{source} is not a valid variables config ({exc.error_count()} error(s)); {where}: {first["msg"]}', 2)


@click.command('push-config')
@push_config_options
@plan_options
@_server_options
def push_config_command(
    input_path: str | None,
    mode: str,
    dry_run: bool,
    yes: bool,
    no_input: bool,
    base_url: str | None,
    api_key: str | None,
) -> None:
    """Push whole variable configs (labels, rollouts, overrides) from a JSON file."""
    config = read_config(input_path)
    # A config read from stdin leaves no terminal to answer a prompt on.
    can_prompt = not no_input and input_path not in (None, '-')
    console = push.make_console(None, None, None, can_prompt=None if can_prompt else False)
    with _api(base_url, api_key) as api:
        outcome = push.run_push_config(
            config, api, console, mode='replace' if mode == 'replace' else 'merge', dry_run=dry_run, yes=yes
        )
    _finish(outcome)


commands = [
    push_command,
    push_types_command,
    validate_command,
    pull_command,
    push_config_command,
    build_config_command,
]
