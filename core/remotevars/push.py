"""The push / validate / config workflows: fetch from the server, plan, print, ask, apply.

Public functions (names as in the seed documentation): :func:`variables_push`,
:func:`variables_push_types`, :func:`variables_validate`, :func:`variables_build_config`,
:func:`variables_push_config`, :func:`variables_pull_config`. Planning is pure
(:mod:`remotevars._plan`), printing is shared (:mod:`remotevars._render`); this module owns the edges:
which server to talk to, the output stream, the confirmation prompt, and applying a plan all or
nothing (one transactional bulk request when the server offers it; otherwise every body is validated
before the first write, and writes already made are undone if a later one fails).

Where the server is: an explicit ``api=`` (an :class:`~remotevars._api.ApiClient`), else
``base_url=`` / ``api_key=``, else the ``VariablesOptions`` given to ``configure()`` on the client,
else the ``REMOTEVARS_BASE_URL`` / ``REMOTEVARS_API_KEY`` environment variables.

The ``run_*`` functions return an :class:`Outcome` for every ending, so the command lines
(:mod:`remotevars._commands`) decide exit codes in one place. A :class:`Console` says how the user is
addressed: the Python functions print their errors with the plan and name keyword arguments
(``strict=False``), the commands name their flags (``--no-strict``) and leave errors to one line on stderr.

Every plan is followed by its field-level changes (:func:`remotevars._render.render_changes`). A
destructive change (one that takes traffic away from what is served, see :mod:`remotevars._diff`) is
never applied by ``yes`` alone: it also needs ``allow_destructive`` (``--allow-destructive``), and a
confirmation prompt first says in words what is destructive.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Final, TextIO

from pydantic import ValidationError

from remotevars import _render
from remotevars._api import ApiClient, config_to_api_body, resolve_base_url, variable_path
from remotevars._diff import VariableDiff, diff_variable
from remotevars._errors import ApiError, BulkWriteUnsupported, ConfigurationError, RemoteVarsError
from remotevars._options import VariablesOptions
from remotevars._outcome import Outcome, api_failure_status
from remotevars._plan import (
    ConfigCheck,
    ConfigPlan,
    PushPlan,
    SyncMode,
    TypesPlan,
    ValidationReport,
    check_config_values,
    normalize_types,
    plan_push,
    plan_push_config,
    plan_push_types,
    type_label_incompatibilities,
    validate_report,
)
from remotevars.config import VariableConfig, VariablesConfig

if TYPE_CHECKING:
    from remotevars._client import Client
    from remotevars._variable import Variable

__all__ = [
    'COMMAND_WORDING',
    'Console',
    'InputFunction',
    'Outcome',
    'PYTHON_WORDING',
    'Wording',
    'connect',
    'destructive_effects',
    'load_config',
    'make_console',
    'one_line',
    'registered_types',
    'run_push',
    'run_push_config',
    'run_push_types',
    'run_validate',
    'variables_build_config',
    'variables_pull_config',
    'variables_push',
    'variables_push_config',
    'variables_push_types',
    'variables_validate',
]

InputFunction = Callable[[str], str]
"""Asks the user: shows the prompt it is given and returns the answer (like :func:`input`)."""

#: The reference's text after an applied push that warned (incompatible values, reference errors).
DONE_WITH_WARNINGS = (
    'Done — changes applied, but with warnings above (see the Reference errors / incompatible label sections).'
)


@dataclass(frozen=True, slots=True)
class Wording:
    """How messages name the options: keyword arguments for the Python functions, flags for commands."""

    strict: str
    no_strict: str
    yes: str
    dry_run: str
    allow_destructive: str

    @property
    def proceed_anyway(self) -> str:
        """The hint under a strict refusal."""
        if self.no_strict.startswith('-'):
            return f'Pass {self.no_strict} to proceed anyway.'
        return f'Set {self.no_strict} to proceed anyway.'  # the reference's text

    @property
    def no_terminal(self) -> str:
        """Why a plan that needs confirmation was refused without a terminal."""
        return (
            'Refusing to apply changes without confirmation: there is no terminal to ask on '
            f'(pass {self.yes} to apply, or {self.dry_run} to preview).'
        )

    @property
    def no_terminal_destructive(self) -> str:
        """Why a destructive plan was refused without a terminal (both options are needed)."""
        return (
            'Refusing to apply destructive changes without confirmation: there is no terminal to ask on '
            f'(pass {self.yes} and {self.allow_destructive} to apply them, or {self.dry_run} to preview).'
        )


PYTHON_WORDING: Final = Wording(
    strict='strict=True',
    no_strict='strict=False',
    yes='yes=True',
    dry_run='dry_run=True',
    allow_destructive='allow_destructive=True',
)
COMMAND_WORDING: Final = Wording(
    strict='--strict',
    no_strict='--no-strict',
    yes='--yes',
    dry_run='--dry-run',
    allow_destructive='--allow-destructive',
)


# -- the edges: output, prompts, server ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Console:
    """Where a workflow prints (``out``, coloured or not) and how it asks (``ask``; None: it cannot).

    ``wording`` names the options in hints. ``print_errors``: errors and refusals are printed with the
    plan (the Python functions, as the reference does); a command sets it False and prints the
    outcome's reason once, on stderr.
    """

    out: TextIO
    colors: bool
    ask: InputFunction | None  # None: no way to ask (no terminal, or --no-input)
    wording: Wording = PYTHON_WORDING
    print_errors: bool = True

    def print(self, text: str = '') -> None:
        """Write ``text`` and a newline, flushed (a prompt may follow)."""
        print(text, file=self.out, flush=True)

    def color(self, text: str, color: str) -> str:
        """Return ``text`` after a blank line, in ``color`` (a :class:`~remotevars._render.Palette` field) if on."""
        return _render.message(text, color, self.colors)

    def fail(self, outcome: Outcome, text: str | None = None, *, color: str = 'red') -> Outcome:
        """Print ``text`` (default: the reason) when this console prints errors; return ``outcome``."""
        if self.print_errors:
            self.print(self.color(outcome.reason if text is None else text, color).lstrip('\n'))
        return outcome

    def confirm(self, destructive: Sequence[str] = ()) -> Outcome | None:
        """Return None when the user agreed, else the outcome to stop with.

        ``destructive``: what the plan takes away, one effect a line; said before asking.
        """
        if self.ask is None:
            refusal = self.wording.no_terminal_destructive if destructive else self.wording.no_terminal
            if self.print_errors:
                self.print(refusal)
            return Outcome('refused', refusal)
        if destructive:
            self.print(self.color(_render.destructive_warning(destructive), 'red'))
        self.print()
        try:
            answer = self.ask(_render.PROMPT)
        except (EOFError, KeyboardInterrupt):
            answer = ''
            self.print()
        if answer.strip().lower() not in ('y', 'yes'):
            if self.print_errors:
                self.print(_render.ABORTED)
            return Outcome('aborted', 'Aborted at the confirmation prompt: nothing was changed.')
        return None


def _terminal_ask(out: TextIO) -> InputFunction:
    def ask(prompt: str) -> str:
        # The prompt goes where the plan went; the answer comes from the terminal on stdin.
        out.write(prompt)
        out.flush()
        return input()

    return ask


def make_console(
    file: TextIO | None,
    colors: bool | None,
    input_fn: InputFunction | None,
    *,
    can_prompt: bool | None = None,
    wording: Wording = PYTHON_WORDING,
    print_errors: bool = True,
) -> Console:
    """Return the console the workflows print to and ask on.

    ``colors=None`` colours only a terminal. ``input_fn`` answers prompts (tests inject one); without
    it prompts read the terminal, and when stdin is not a terminal (or ``can_prompt`` is False) the
    workflows refuse instead of waiting for an answer that cannot come. ``wording`` and
    ``print_errors``: see :class:`Console`.
    """
    out = file if file is not None else sys.stdout
    use_colors = _isatty(out) if colors is None else colors
    ask: InputFunction | None
    if can_prompt is False:
        ask = None
    elif input_fn is not None:
        ask = input_fn
    elif can_prompt or _isatty(sys.stdin):
        ask = _terminal_ask(out)
    else:
        ask = None
    return Console(out, use_colors, ask, wording, print_errors)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@contextmanager
def connect(
    client: Client | None = None,
    *,
    api: ApiClient | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
) -> Iterator[ApiClient]:
    """Yield the API client to use (see the module docstring); one made here is closed on exit.

    Raises :class:`ConfigurationError` when there is no API key or the URL is unusable.
    """
    if api is not None:
        yield api
        return
    options = (client or _default_client()).options
    remote = options if isinstance(options, VariablesOptions) else None
    key = api_key or (remote.api_key if remote else None) or os.environ.get('REMOTEVARS_API_KEY')
    if not key:
        raise ConfigurationError(
            'No API key for the variables server: pass api_key=... (--api-key), configure '
            'VariablesOptions(api_key=...) or set REMOTEVARS_API_KEY.'
        )
    url = resolve_base_url(key, base_url or (remote.base_url if remote else None))
    timeout = remote.timeout if remote else (10.0, 10.0)
    made = ApiClient(url, key, timeout=timeout)
    try:
        yield made
    finally:
        made.close()


def _default_client() -> Client:
    from remotevars._default import get_client

    return get_client()


def _local_variables(variables: Sequence[Variable[Any]] | None, client: Client | None) -> list[Variable[Any]]:
    if variables is not None:
        return list(variables)
    return (client or _default_client()).variables()


def _apply_writes(api: ApiClient, upserts: Sequence[tuple[str, VariableConfig]], deletes: Sequence[str]) -> None:
    """Write everything or nothing; raises the write error (server unchanged) on failure.

    ``upserts`` are ``(name on the server, body)``; a name that differs from the body's means the
    body replaces the variable of that name.
    """
    try:
        api.bulk_write([body for _, body in upserts], deletes)
        return
    except BulkWriteUnsupported:
        pass
    # An older server: one request per variable. The bodies were validated when the plan was built;
    # if the server still rejects one, undo what was written so far (best effort) and re-raise.
    before = api.list_variables()
    undo: list[Callable[[], object]] = []
    try:
        for name, body in upserts:
            previous = before.variables.get(name)
            if previous is None:
                api.create_variable(body)
                undo.append(partial(api.delete_variable, body.name))
            else:
                api.update_variable(name, body)
                undo.append(partial(api.update_variable, name, previous))
        for name in deletes:
            previous = before.variables[name]
            api.delete_variable(name)
            undo.append(partial(api.create_variable, previous))
    except Exception:
        for step in reversed(undo):
            try:
                step()
            except Exception:  # undo is best effort; the original error matters
                continue
        raise


def _fetch(console: Console, get: Callable[[], Any], what: str) -> tuple[Any, Outcome | None]:
    try:
        return get(), None
    except Exception as exc:  # any failure to read the server ends the workflow the same way
        outcome = Outcome('error', f'Could not fetch the current {what} from the server: {one_line(exc)}')
        return None, console.fail(outcome, f'Error fetching current {what}: {exc}')


def one_line(exc: BaseException) -> str:
    """Return the text of ``exc`` on one line."""
    return ' '.join(str(exc).split())


def _apply_failed(console: Console, exc: Exception) -> Outcome:
    # A write error (VariableWriteError) carries the API error it came from.
    cause = exc if isinstance(exc, ApiError) else exc.__cause__
    # No connection, a key that may not write or a server failure is not the plan's fault.
    if isinstance(cause, ApiError) and api_failure_status(cause) == 'error':
        outcome = Outcome('error', f'Could not apply the changes: {one_line(exc)}')
    else:
        outcome = Outcome('failed', f'The server rejected the changes (nothing was changed): {one_line(exc)}')
    return console.fail(outcome, f'Error applying changes: {exc}')


# -- push ----------------------------------------------------------------------------------------


def destructive_effects(diffs: Sequence[VariableDiff]) -> list[str]:
    """Return every destructive effect of ``diffs`` as ``name: effect`` lines, in plan order."""
    return [f'{diff.name}: {reason}' for diff in diffs for reason in diff.destructive]


def _gate(
    console: Console,
    incompatible: str | None,
    *,
    strict: bool,
    has_changes: bool,
    up_to_date: str,
    dry_run: bool,
    yes: bool,
    diffs: Sequence[VariableDiff] = (),
    allow_destructive: bool = False,
) -> Outcome | None:
    """The steps every workflow takes between printing its plan and applying it.

    Refuses (strict) or warns about incompatible values, stops when there is nothing to do or on a dry
    run, refuses a destructive plan that ``yes`` would apply without ``allow_destructive``, and asks for
    confirmation unless ``yes`` (saying first what is destructive). Returns the outcome that ends the
    workflow, or None to go on and apply.
    """
    if incompatible is not None:
        if strict:
            hint = console.wording.proceed_anyway
            if console.print_errors:
                console.print(console.color(f'Error: {incompatible}\n{hint}', 'red'))
            return Outcome('refused', f'{incompatible} {hint}')
        console.print(console.color(f'Warning: {incompatible}', 'yellow'))
    if not has_changes:
        console.print(console.color(up_to_date, 'green'))
        return Outcome('no_changes')
    effects = destructive_effects(diffs)
    wording = console.wording
    if dry_run:
        if effects:
            console.print(
                console.color(
                    f'Warning: this plan has {_render.destructive_count(effects)} (see DESTRUCTIVE above); '
                    f'applying them with {wording.yes} also needs {wording.allow_destructive}.',
                    'yellow',
                )
            )
        console.print(console.color(_render.DRY_RUN, 'yellow'))
        return Outcome('dry_run')
    if effects and yes and not allow_destructive:
        more = f' (and {len(effects) - 1} more, see above)' if len(effects) > 1 else ''
        reason = (
            f'Refusing to apply destructive changes without {wording.allow_destructive}: {effects[0]}{more}. '
            'Nothing was changed.'
        )
        return console.fail(Outcome('refused', reason), f'Error: {reason}')
    return None if yes else console.confirm(effects)


def run_push(
    variables: Sequence[Variable[Any]],
    api: ApiClient,
    console: Console,
    *,
    dry_run: bool = False,
    yes: bool = False,
    strict: bool = True,
    allow_destructive: bool = False,
) -> Outcome:
    """Run ``variables_push`` against ``api`` printing to ``console``; returns the :class:`Outcome`."""
    if not variables:
        console.print('No variables to push. Create variables using remotevars.var() first.')
        return Outcome('empty', 'No variables to push: none are registered.')
    server, failed = _fetch(console, api.list_variables, 'config')
    if failed is not None:
        return failed
    plan: PushPlan = plan_push(variables, server)
    console.print(_render.render_push_plan(plan, colors=console.colors))
    _print_changes(console, plan.diffs)
    if plan.serialization_errors:
        text = 'Error: some code defaults cannot be serialised to JSON (see above); nothing was sent.'
        reason = f'Some code defaults cannot be serialised to JSON; nothing was sent. {plan.serialization_errors[0]}'
        return console.fail(Outcome('refused', reason), text)
    references = _render.reference_gate(
        plan,
        strict=strict,
        colors=console.colors,
        strict_flag=console.wording.strict,
        no_strict_flag=console.wording.no_strict,
    )
    if references.notes:
        console.print(references.notes)
    if references.reason is not None:
        return console.fail(Outcome('refused', references.reason), references.error)
    incompatible = plan.incompatibility_message
    stopped = _gate(
        console,
        incompatible,
        strict=strict,
        has_changes=plan.has_changes,
        up_to_date='No changes needed. Provider is up to date.',
        dry_run=dry_run,
        yes=yes,
        diffs=plan.diffs,
        allow_destructive=allow_destructive,
    )
    if stopped is not None:
        return stopped
    console.print(_render.APPLYING)
    writes = [(e.server_name or e.name, e.body) for e in plan.entries if e.body is not None]
    try:
        _apply_writes(api, writes, [])
    except Exception as exc:  # every write failure is reported, and nothing was changed
        return _apply_failed(console, exc)
    p = _render.palette(console.colors)
    for entry in plan.entries:
        if entry.action == 'create':
            console.print(f'  {p.green}Created: {entry.name}{p.reset}')
        elif entry.action == 'update':
            what = 'schema' if entry.value_schema_changed or entry.inputs_schema_changed else 'description'
            console.print(f'  {p.yellow}Updated {what}: {entry.name}{p.reset}')
    if incompatible is not None or plan.has_reference_warnings:
        console.print(console.color(DONE_WITH_WARNINGS, 'yellow'))
    else:
        console.print(console.color('Done! Variables synced successfully.', 'green'))
    return Outcome('applied')


def variables_push(
    variables: Sequence[Variable[Any]] | None = None,
    *,
    dry_run: bool = False,
    yes: bool = False,
    strict: bool = True,
    allow_destructive: bool = False,
    client: Client | None = None,
    api: ApiClient | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    file: TextIO | None = None,
    colors: bool | None = None,
    input_fn: InputFunction | None = None,
) -> bool:
    """Push the schemas and descriptions of local variables to the server.

    ``variables=None`` pushes every variable registered on ``client`` (default: the default client).
    Prints the plan to ``file`` (stdout), asks ``Apply these changes? [y/N]`` unless ``yes``, applies
    all or nothing. Strict by default, as the reference is since 5.x: when a server value would not
    validate against the local type the push is refused and nothing changes; ``strict=False`` warns
    and applies. ``allow_destructive`` lets ``yes`` apply a destructive change (a push changes metadata
    only, so it has none today; the option is the same as push-config's). Returns True when changes were
    applied (or would be, with ``dry_run``), False otherwise (nothing to do, refused, aborted, or an error
    that was printed).
    """
    console = make_console(file, colors, input_fn)
    local = _local_variables(variables, client)
    return _with_api(
        console,
        client,
        api,
        base_url,
        api_key,
        lambda a: run_push(
            local, a, console, dry_run=dry_run, yes=yes, strict=strict, allow_destructive=allow_destructive
        ),
    ).ok


def _print_changes(console: Console, diffs: Sequence[VariableDiff]) -> None:
    text = _render.render_changes(diffs, colors=console.colors)
    if text:
        console.print(text)


def _with_api(
    console: Console,
    client: Client | None,
    api: ApiClient | None,
    base_url: str | None,
    api_key: str | None,
    run: Callable[[ApiClient], Outcome],
) -> Outcome:
    try:
        with connect(client, api=api, base_url=base_url, api_key=api_key) as connected:
            return run(connected)
    except ConfigurationError as exc:
        return console.fail(Outcome('error', one_line(exc)), f'Error: {exc}')


# -- push types ----------------------------------------------------------------------------------


def registered_types(variables: Sequence[Variable[Any]]) -> list[Any]:
    """Return the distinct types of ``variables`` worth pushing as reusable types, in declaration order.

    Classes defined outside the standard library's builtins (pydantic models, dataclasses, enums...);
    ``int``, ``str``, unions and other annotations are not reusable types.
    """
    found: list[Any] = []
    for variable in variables:
        value_type = variable.value_type
        if isinstance(value_type, type) and value_type.__module__ != 'builtins' and value_type not in found:
            found.append(value_type)
    return found


def _type_links(
    variables: Sequence[Variable[Any]], pairs: Sequence[tuple[Any, str]], server: VariablesConfig
) -> list[tuple[VariableConfig, str]]:
    """Return ``(server variable, type name)`` for each variable whose pushed type is not yet its ``type_name``."""
    names = {id(type_): name for type_, name in pairs}
    links = []
    for variable in variables:
        name = names.get(id(variable.value_type))
        existing = server.get_variable_config(variable.name) if name is not None else None
        if name is not None and existing is not None and existing.type_name != name:
            links.append((existing, name))
    return links


def _link_type(api: ApiClient, config: VariableConfig, type_name: str) -> None:
    body = config_to_api_body(config)
    body['type_name'] = type_name  # not in the Logfire write format; a remotevars server keeps it
    api.request('PUT', variable_path(config.name), json_body=body)


def run_push_types(
    types: Sequence[Any],
    api: ApiClient,
    console: Console,
    *,
    dry_run: bool = False,
    yes: bool = False,
    strict: bool = True,
    variables: Sequence[Variable[Any]] = (),
    allow_destructive: bool = False,
) -> Outcome:
    """Run ``variables_push_types`` against ``api``; returns the :class:`Outcome`.

    Its field-level changes are the ``type_name`` links of server variables: the server keeps each
    variable's own schema, so no variable's schema changes through its type.
    """
    if not types:
        console.print('No types to push.')
        return Outcome('empty', 'No types to push.')
    pairs = normalize_types(types)
    server_types, failed = _fetch(console, api.list_variable_types, 'types')
    if failed is not None:
        return failed
    plan: TypesPlan = plan_push_types(pairs, server_types)
    links: list[tuple[VariableConfig, str]] = []
    if plan.of('update') or variables:
        try:
            server = api.list_variables()
        except Exception as exc:  # the check is advisory; the push can go on
            console.print(console.color(f'Warning: Could not check label compatibility: {exc}', 'yellow'))
        else:
            if plan.of('update'):
                plan = TypesPlan(plan.entries, type_label_incompatibilities(pairs, plan, server))
            links = _type_links(variables, pairs, server)
    console.print(_render.render_types_plan(plan, colors=console.colors))
    if links:
        console.print('\n=== Variables to link to their type (type_name) ===')
        for config, name in links:
            console.print(f'  ~ {config.name} -> {name}')
    diffs = [diff_variable(config, config.model_copy(update={'type_name': name})) for config, name in links]
    _print_changes(console, diffs)
    incompatible = 'Some existing label values are incompatible with the new type schema.'
    stopped = _gate(
        console,
        incompatible if plan.incompatibilities else None,
        strict=strict,
        has_changes=plan.has_changes or bool(links),
        up_to_date='No changes needed. Types are up to date.',
        dry_run=dry_run,
        yes=yes,
        diffs=diffs,
        allow_destructive=allow_destructive,
    )
    if stopped is not None:
        return stopped
    console.print(_render.APPLYING)
    try:
        for entry in plan.entries:
            if entry.action != 'unchanged':
                api.upsert_variable_type(entry.body)
        for config, name in links:
            _link_type(api, config, name)
    except Exception as exc:  # reported like the reference does
        return _apply_failed(console, exc)
    p = _render.palette(console.colors)
    for config, name in links:
        console.print(f'  {p.yellow}Linked {config.name} to type {name}{p.reset}')
    console.print(console.color('Done! Variable types synced successfully.', 'green'))
    return Outcome('applied')


def variables_push_types(
    types: Sequence[Any] | None = None,
    *,
    variables: Sequence[Variable[Any]] | None = None,
    dry_run: bool = False,
    yes: bool = False,
    strict: bool = True,
    allow_destructive: bool = False,
    client: Client | None = None,
    api: ApiClient | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    file: TextIO | None = None,
    colors: bool | None = None,
    input_fn: InputFunction | None = None,
) -> bool:
    """Push reusable type schemas; items are a type or a ``(type, name)`` tuple.

    A type is named by its ``__name__`` (``str(type)`` for non-classes). Updated types are checked
    against the values of server variables whose ``type_name`` is theirs; strict by default, so the
    push is refused when one would not validate (``strict=False`` warns and applies).

    ``types=None`` pushes the types of the variables registered on ``client`` (see
    :func:`registered_types`) and links those variables: each one on the server gets its type's name
    as ``type_name``. ``variables`` links those variables to the given types instead.
    ``allow_destructive`` as for :func:`variables_push` (linking types is never destructive). Returns
    True when applied (or would be, with ``dry_run``).
    """
    console = make_console(file, colors, input_fn)
    if types is None:
        variables = _local_variables(variables, client)
        types = registered_types(variables)
    linked = list(variables or ())
    return _with_api(
        console,
        client,
        api,
        base_url,
        api_key,
        lambda a: run_push_types(
            types,
            a,
            console,
            dry_run=dry_run,
            yes=yes,
            strict=strict,
            variables=linked,
            allow_destructive=allow_destructive,
        ),
    ).ok


# -- validate, build, pull -----------------------------------------------------------------------


def variables_validate(
    variables: Sequence[Variable[Any]] | None = None,
    *,
    client: Client | None = None,
    api: ApiClient | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
) -> ValidationReport:
    """Return a :class:`ValidationReport` of local variables against the server's values.

    With no variables the report is empty and the server is not contacted. Errors reaching the server
    propagate (:class:`~remotevars.ApiError`, :class:`~remotevars.ConfigurationError`): this is meant
    for CI, where an unreachable server must not pass.
    """
    local = _local_variables(variables, client)
    if not local:
        return ValidationReport([], 0, [])
    with connect(client, api=api, base_url=base_url, api_key=api_key) as connected:
        server = connected.list_variables()
    return validate_report(local, server)


def run_validate(variables: Sequence[Variable[Any]], api: ApiClient, console: Console) -> Outcome:
    """Print the :class:`ValidationReport` of ``variables`` against ``api``'s server; returns the :class:`Outcome`.

    ``invalid`` when a value does not fit or a variable is missing on the server, ``error`` when the
    server cannot be read.
    """
    try:
        report = variables_validate(variables, api=api)
    except RemoteVarsError as exc:
        return console.fail(Outcome('error', f'Could not fetch the current config from the server: {one_line(exc)}'))
    console.print(report.format(colors=console.colors))
    if report.has_errors:
        problems = len({e.variable_name for e in report.errors}) + len(report.variables_not_on_server)
        return Outcome('invalid', f'Validation failed: {problems} issue(s) found (see above).')
    return Outcome('done')


def variables_build_config(
    variables: Sequence[Variable[Any]] | None = None, *, client: Client | None = None
) -> VariablesConfig:
    """Return a minimal config (name, description, schema, example) of local variables.

    Raises :class:`~remotevars.VariableSerializationError` naming the variable whose code default
    cannot be serialised.
    """
    return VariablesConfig.from_variables(_local_variables(variables, client))


def variables_pull_config(
    *,
    client: Client | None = None,
    api: ApiClient | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
) -> VariablesConfig:
    """Return a fresh copy of the server's whole config (never shared state: edit it freely).

    Raises :class:`~remotevars.ApiError` / :class:`~remotevars.ConfigurationError`.
    """
    with connect(client, api=api, base_url=base_url, api_key=api_key) as connected:
        return connected.list_variables()


def load_config(text: str | bytes, source: str) -> VariablesConfig:
    """Return the :class:`VariablesConfig` in a config file's ``text`` (``source`` names the file).

    Raises :class:`ConfigurationError` with a one-line message: the number of problems and the first one.
    """
    try:
        return VariablesConfig.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = '.'.join(str(p) for p in first['loc'])
        location = f'{where}: ' if where else ''
        raise ConfigurationError(
            f'{source} is not a valid variables config ({exc.error_count()} error(s)); {location}{first["msg"]}'
        ) from None


# -- push config ---------------------------------------------------------------------------------


def run_push_config(
    config: VariablesConfig,
    api: ApiClient,
    console: Console,
    *,
    mode: SyncMode = 'merge',
    dry_run: bool = False,
    yes: bool = False,
    strict: bool = False,
    variables: Sequence[Variable[Any]] = (),
    allow_destructive: bool = False,
) -> Outcome:
    """Run ``variables_push_config`` against ``api``; returns the :class:`Outcome`.

    ``strict``: check the config's values against the types of ``variables`` (the code's) and refuse
    when one does not fit, before anything is written (a dry run too).
    """
    if mode not in ('merge', 'replace'):
        raise ConfigurationError(f"mode must be 'merge' or 'replace', got {mode!r}")
    if not config.variables:
        console.print('No variables in config to push.')
        return Outcome('empty', 'No variables in config to push.')
    if strict and not variables:
        reason = (
            f'{console.wording.strict} checks the values against the types of the variables declared in code, '
            'and none are registered.'
        )
        return console.fail(Outcome('usage', reason), f'Error: {reason}')
    server, failed = _fetch(console, api.list_variables, 'config')
    if failed is not None:
        return failed
    plan: ConfigPlan = plan_push_config(config, server, mode)
    console.print(_render.render_config_plan(plan, colors=console.colors))
    _print_changes(console, plan.diffs)
    if strict:
        check = check_config_values(config, variables)
        text = _render.render_config_check(check, colors=console.colors)
        if text:
            console.print(text)
        if check.errors:
            return console.fail(
                Outcome('refused', _strict_config_reason(check)), f'Error: {_strict_config_reason(check)}'
            )
    stopped = _gate(
        console,
        None,
        strict=False,
        has_changes=plan.has_changes,
        up_to_date='No changes needed. Provider is up to date.',
        dry_run=dry_run,
        yes=yes,
        diffs=plan.diffs,
        allow_destructive=allow_destructive,
    )
    if stopped is not None:
        return stopped
    console.print(_render.APPLYING)
    writes = [(c.name, c) for c in (*plan.creates, *plan.updates)]
    try:
        _apply_writes(api, writes, plan.deletes)
    except Exception as exc:  # every write failure is reported, and nothing was changed
        return _apply_failed(console, exc)
    console.print(console.color('Done! Variables pushed successfully.', 'green'))
    return Outcome('applied')


def _strict_config_reason(check: ConfigCheck) -> str:
    first = check.errors[0]
    more = f' (and {len(check.errors) - 1} more, see above)' if len(check.errors) > 1 else ''
    return (
        f'{first.variable_name!r}, label {first.label!r}, does not fit the type in code: '
        f'{_render.error_summary(first.error)}{more}'
    )


def variables_push_config(
    config: VariablesConfig,
    *,
    mode: SyncMode = 'merge',
    dry_run: bool = False,
    yes: bool = False,
    strict: bool = False,
    variables: Sequence[Variable[Any]] | None = None,
    allow_destructive: bool = False,
    client: Client | None = None,
    api: ApiClient | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    file: TextIO | None = None,
    colors: bool | None = None,
    input_fn: InputFunction | None = None,
) -> bool:
    """Push whole variable configs (labels, rollouts, overrides) to the server.

    ``mode='merge'`` creates and updates the config's variables; ``'replace'`` also deletes server
    variables missing from the config, listing each one in the plan and never without a confirmation
    or ``yes=True``. All or nothing. The plan is followed by each variable's field-level changes; a
    destructive one (a served label removed, more traffic to the code default, a served variable
    deleted) is applied by ``yes`` only with ``allow_destructive=True``. ``strict=True`` first checks
    every labelled value and latest version against the types of ``variables`` (default: those
    registered on ``client``) and refuses when one does not fit. Returns True when applied (or would
    be, with ``dry_run``). Raises :class:`~remotevars.ConfigurationError` for an unknown ``mode``.
    """
    console = make_console(file, colors, input_fn)
    if mode not in ('merge', 'replace'):
        raise ConfigurationError(f"mode must be 'merge' or 'replace', got {mode!r}")
    local = _local_variables(variables, client) if strict else []
    return _with_api(
        console,
        client,
        api,
        base_url,
        api_key,
        lambda a: run_push_config(
            config,
            a,
            console,
            mode=mode,
            dry_run=dry_run,
            yes=yes,
            strict=strict,
            variables=local,
            allow_destructive=allow_destructive,
        ),
    ).ok
