"""The workflow commands, once for every command line: their options as data and one body each.

``remotevars push|push-types|validate|pull|push-config|build-config``, ``flask vars ...`` and
``manage.py vars_*`` are all built from :data:`COMMANDS`: the click factory
(:func:`remotevars.cli.workflows.build_commands`) and the Django management commands only turn each
:class:`Option` into a flag of their parser and call :func:`run_command`. The rules live here: which
modules to import, where the server is (flag, then the adapter's settings, then the client's options and
the environment), when a prompt is possible (never with ``--no-input`` or a config read from stdin), how
config files are read and written, and which :class:`~remotevars._outcome.Outcome` ends each path
(its ``exit_code`` is the exit-code policy). What differs between frameworks is an :class:`Adapter`.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, TextIO

from remotevars._errors import ConfigurationError, RemoteVarsError
from remotevars._outcome import Outcome

if TYPE_CHECKING:
    from remotevars import push
    from remotevars._api import ApiClient
    from remotevars._client import Client
    from remotevars._variable import Variable
    from remotevars.config import VariablesConfig

__all__ = ['COMMANDS', 'Adapter', 'Invocation', 'Option', 'WorkflowCommand', 'run_command', 'workflow_command']


def _no_settings() -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class Adapter:
    """Where a command line finds things; everything else is shared.

    ``client``: the client whose variables are the command's (after ``--module`` imports) and whose
    options may name the server. ``settings``: the ``REMOTEVARS_*`` settings (server defaults, the
    status timeout). ``declare_hint``: how to tell the user where variables are declared.
    ``start``: starts the app's client and returns it (``status``); None where there is no app.
    """

    client: Callable[[], Client]
    settings: Callable[[], Mapping[str, Any]] = _no_settings
    declare_hint: str = 'name the modules that declare them with --module'
    start: Callable[[], Client] | None = None


@dataclass(frozen=True)
class Option:
    """One command-line option: its flags, where its value goes (``dest``) and what it does.

    ``kind``: ``flag`` (on when given), ``switch`` (``--x/--no-x``, ``default`` True or False),
    ``value`` (one string), ``many`` (repeatable), ``choice`` (one of ``choices``), ``seconds`` (a number).
    """

    flags: tuple[str, ...]
    dest: str
    kind: Literal['flag', 'switch', 'value', 'many', 'choice', 'seconds']
    help: str
    default: Any = None
    metavar: str | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Invocation:
    """One run of a command: the parsed options (by ``dest``), the adapter, where output goes."""

    options: Mapping[str, Any]
    adapter: Adapter
    out: TextIO
    colors: bool | None = None

    def console(self, *, interactive: bool = True) -> push.Console:
        """Return the console of the run: command wording, errors left to the caller's one stderr line."""
        from remotevars import push

        can_prompt = None if interactive and not self.options.get('no_input') else False
        return push.make_console(
            self.out, self.colors, None, can_prompt=can_prompt, wording=push.COMMAND_WORDING, print_errors=False
        )

    def variables(self, *, required: bool = True) -> list[Variable[Any]]:
        """Import ``--module``s and return the adapter client's variables (none and ``required``: a usage error)."""
        import_modules(self.options.get('modules') or ())
        found = self.adapter.client().variables()
        if not found and required:
            _stop('usage', f'No variables are registered: {self.adapter.declare_hint}.')
        return found

    @contextmanager
    def api(self) -> Iterator[ApiClient]:
        """Yield the API client: ``--base-url``/``--api-key``, else the settings, else the client's options or env."""
        from remotevars import push

        settings = self.adapter.settings()
        base_url = self.options.get('base_url') or settings.get('REMOTEVARS_BASE_URL') or None
        api_key = self.options.get('api_key') or settings.get('REMOTEVARS_API_KEY') or None
        with ExitStack() as stack:
            try:
                api = stack.enter_context(push.connect(self.adapter.client(), base_url=base_url, api_key=api_key))
            except ConfigurationError as exc:
                _stop('usage', push.one_line(exc))
            yield api


class _Stopped(Exception):
    """Ends a command body early with its outcome."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


def _stop(status: Literal['usage', 'error', 'refused'], reason: str) -> NoReturn:
    raise _Stopped(Outcome(status, ' '.join(reason.split())))


def import_modules(modules: Sequence[str]) -> None:
    """Import each module (the working directory is importable, as with ``python -m``); a failure is a usage error."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            _stop('usage', f'Cannot import module {name!r}: {type(exc).__name__}: {exc}')


def load_type(spec: str) -> Any:
    """Import ``module:Name[=explicit]``: the type, or ``(type, explicit)``; a bad spec is a usage error."""
    target, _, explicit = spec.partition('=')
    module_name, sep, attribute = target.partition(':')
    if not sep or not module_name or not attribute:
        _stop('usage', f'--type {spec!r}: expected module:Name or module:Name=explicit_name')
    import_modules([module_name])
    found: Any = sys.modules[module_name]
    for part in attribute.split('.'):
        try:
            found = getattr(found, part)
        except AttributeError:
            _stop('usage', f'--type {spec!r}: module {module_name!r} has no attribute {attribute!r}')
    return (found, explicit) if explicit else found


def write_config(config: VariablesConfig, output: str | None, out: TextIO) -> Outcome:
    """Write ``config`` as indented JSON to the file ``output`` (``out`` for None or ``-``)."""
    text = config.model_dump_json(indent=2) + '\n'
    if output is None or output == '-':
        out.write(text)
        out.flush()
        return Outcome('done')
    try:
        Path(output).write_text(text, encoding='utf-8')
    except OSError as exc:
        _stop('usage', f'Cannot write {output}: {exc}')
    return Outcome('done')


def read_config(path: str | None) -> VariablesConfig:
    """Read a config file (stdin for None or ``-``); an unreadable or invalid file is a usage error."""
    from remotevars import push

    source = 'stdin' if path is None or path == '-' else path
    try:
        text = sys.stdin.read() if source == 'stdin' else Path(source).read_text(encoding='utf-8')
        return push.load_config(text, source)
    except OSError as exc:
        _stop('usage', f'Cannot read {source}: {exc}')
    except ConfigurationError as exc:
        _stop('usage', str(exc))


# -- the bodies ----------------------------------------------------------------------------------


def _push(run: Invocation) -> Outcome:
    from remotevars import push

    variables = run.variables()
    options = run.options
    with run.api() as api:
        return push.run_push(
            variables,
            api,
            run.console(),
            dry_run=options['dry_run'],
            yes=options['yes'],
            strict=options['strict'],
            allow_destructive=options['allow_destructive'],
        )


def _push_types(run: Invocation) -> Outcome:
    from remotevars import push

    options = run.options
    specs = options.get('type_specs') or ()
    variables = run.variables(required=not specs)
    types = [load_type(spec) for spec in specs] if specs else push.registered_types(variables)
    if not types:
        _stop(
            'usage',
            'No types to push: no registered variable has a class as its type (a pydantic model, a dataclass...); '
            'name types with --type module:Name.',
        )
    with run.api() as api:
        return push.run_push_types(
            types,
            api,
            run.console(),
            dry_run=options['dry_run'],
            yes=options['yes'],
            strict=options['strict'],
            variables=variables,
            allow_destructive=options['allow_destructive'],
        )


def _validate(run: Invocation) -> Outcome:
    from remotevars import push

    variables = run.variables()
    with run.api() as api:
        return push.run_validate(variables, api, run.console())


def _pull(run: Invocation) -> Outcome:
    from remotevars import push

    with run.api() as api:
        try:
            config = api.list_variables()
        except RemoteVarsError as exc:
            _stop('error', f'Could not fetch the current config from the server: {push.one_line(exc)}')
    return write_config(config, run.options.get('output'), run.out)


def _build_config(run: Invocation) -> Outcome:
    from remotevars import push

    variables = run.variables()
    try:
        config = push.variables_build_config(variables)
    except RemoteVarsError as exc:  # a code default that cannot be serialised
        _stop('refused', str(exc))
    return write_config(config, run.options.get('output'), run.out)


def _push_config(run: Invocation) -> Outcome:
    from remotevars import push

    options = run.options
    path = options.get('input_path')
    config = read_config(path)
    strict = bool(options.get('strict'))
    # --strict checks the file against the code's types, so it needs the variables (as push does);
    # --module alone is still imported, so a module that does not import is the same usage error everywhere.
    variables = run.variables(required=strict) if strict or options.get('modules') else []
    # A config read from stdin leaves no terminal to answer a prompt on.
    interactive = path not in (None, '-')
    with run.api() as api:
        return push.run_push_config(
            config,
            api,
            run.console(interactive=interactive),
            mode='replace' if options.get('mode') == 'replace' else 'merge',
            dry_run=options['dry_run'],
            yes=options['yes'],
            strict=strict,
            variables=variables,
            allow_destructive=options['allow_destructive'],
        )


def _status(run: Invocation) -> Outcome:
    from remotevars._status import run_status

    start = run.adapter.start
    if start is None:
        _stop('usage', 'status needs an app: run it as `flask vars status` or `manage.py vars_status`.')
    try:
        client = start()
    except ConfigurationError as exc:
        _stop('usage', f'The REMOTEVARS_* settings cannot work: {exc}')
    timeout = run.options.get('timeout')
    if timeout is None:
        timeout = float(run.adapter.settings().get('REMOTEVARS_FIRST_RESOLVE_TIMEOUT', 5.0))
    return run_status(client, timeout, run.out)


# -- the options and commands ----------------------------------------------------------------------

_MODULE: Final = Option(
    ('--module', '-m'),
    'modules',
    'many',
    'Also import this module to register its variables (repeatable).',
    (),
    'MODULE',
)
_SERVER: Final = (
    Option(
        ('--base-url',),
        'base_url',
        'value',
        'Base URL of the variables server (default: the REMOTEVARS_BASE_URL setting or environment variable).',
        metavar='URL',
    ),
    Option(
        ('--api-key',),
        'api_key',
        'value',
        'API key of the variables server (default: the REMOTEVARS_API_KEY setting or environment variable).',
        metavar='KEY',
    ),
)
_PLAN: Final = (
    Option(('--dry-run',), 'dry_run', 'flag', 'Show the plan, change nothing.', False),
    Option(('--yes', '-y'), 'yes', 'flag', 'Apply without asking for confirmation.', False),
    Option(
        ('--allow-destructive',),
        'allow_destructive',
        'flag',
        'With --yes, also apply destructive changes (a served label removed, more traffic to the code default, '
        'a served variable deleted).',
        False,
    ),
    Option(('--no-input',), 'no_input', 'flag', 'Never prompt; refuse a plan that needs confirmation.', False),
)
_OUTPUT: Final = Option(
    ('--output', '-o'), 'output', 'value', 'Write the config to this file (default: stdout).', metavar='FILE'
)


def _strict(what: str) -> Option:
    return Option(
        ('--strict',), 'strict', 'switch', f'Refuse when {what} would not fit the new type (default: strict).', True
    )


@dataclass(frozen=True)
class WorkflowCommand:
    """A command every command line offers: ``name`` (``flask vars NAME``, ``remotevars NAME``),
    ``django_name`` (``manage.py DJANGO_NAME``), its help, options and body."""

    name: str
    django_name: str
    help: str
    options: tuple[Option, ...]
    body: Callable[[Invocation], Outcome] = field(repr=False)
    needs_app: bool = False


COMMANDS: Final[tuple[WorkflowCommand, ...]] = (
    WorkflowCommand(
        'push',
        'vars_push',
        'Push the schemas and descriptions of the variables declared in code to the server.',
        (_MODULE, *_PLAN, _strict('a server value'), *_SERVER),
        _push,
    ),
    WorkflowCommand(
        'push-types',
        'vars_push_types',
        'Push reusable type schemas (default: the types of the registered variables) and link the variables to them.',
        (
            Option(
                ('--type',),
                'type_specs',
                'many',
                'A type to push, optionally under an explicit name (repeatable; default: the types of the '
                'registered variables).',
                (),
                'MODULE:NAME[=EXPLICIT]',
            ),
            _MODULE,
            *_PLAN,
            _strict('a variable value'),
            *_SERVER,
        ),
        _push_types,
    ),
    WorkflowCommand(
        'validate',
        'vars_validate',
        'Check that every server value of the variables still fits their types in code (exit 1 if not).',
        (_MODULE, *_SERVER),
        _validate,
    ),
    WorkflowCommand(
        'pull',
        'vars_pull',
        "Write the server's whole config (labels, versions, rollouts) as JSON.",
        (_OUTPUT, *_SERVER),
        _pull,
    ),
    WorkflowCommand(
        'push-config',
        'vars_push_config',
        'Push whole variable configs (labels, rollouts, overrides) from a JSON file.',
        (
            Option(
                ('--input', '-i'), 'input_path', 'value', 'The config file to push (default: stdin).', metavar='FILE'
            ),
            Option(
                ('--mode',),
                'mode',
                'choice',
                'replace also deletes server variables missing from the file.',
                'merge',
                choices=('merge', 'replace'),
            ),
            *_PLAN,
            Option(
                ('--strict',),
                'strict',
                'switch',
                "Check every label's value and the latest version against the types of the variables declared in "
                'code, and refuse when one does not fit (default: off).',
                False,
            ),
            _MODULE,
            *_SERVER,
        ),
        _push_config,
    ),
    WorkflowCommand(
        'build-config',
        'vars_build_config',
        'Write a config template (name, description, schema, example) of the variables declared in code.',
        (_MODULE, _OUTPUT),
        _build_config,
    ),
    WorkflowCommand(
        'status',
        'vars_status',
        "Show where the app's variables come from and what each serves; exit 0 only when connected and loaded.",
        (
            Option(
                ('--timeout',),
                'timeout',
                'seconds',
                'Seconds to wait for the first config (default: REMOTEVARS_FIRST_RESOLVE_TIMEOUT).',
                metavar='SECONDS',
            ),
        ),
        _status,
        needs_app=True,
    ),
)


def workflow_command(name: str) -> WorkflowCommand:
    """Return the command called ``name`` (``push``) or ``django_name`` (``vars_push``); KeyError if none."""
    for command in COMMANDS:
        if name in (command.name, command.django_name):
            return command
    raise KeyError(name)


def run_command(
    command: WorkflowCommand,
    options: Mapping[str, Any],
    adapter: Adapter,
    *,
    out: TextIO | None = None,
    colors: bool | None = None,
) -> Outcome:
    """Run ``command`` with parsed ``options`` (by dest), printing to ``out`` (stdout); returns its outcome.

    Never raises for what a user can get wrong (options, modules, settings, the server): every such
    ending is an :class:`Outcome` whose ``exit_code`` and one-line ``reason`` the caller reports.
    """
    defaults = {option.dest: option.default for option in command.options}
    run = Invocation({**defaults, **options}, adapter, out if out is not None else sys.stdout, colors)
    try:
        return command.body(run)
    except _Stopped as stopped:
        return stopped.outcome
    except ConfigurationError as exc:
        return Outcome('usage', ' '.join(str(exc).split()))
