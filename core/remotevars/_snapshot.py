"""Config snapshots: the immutable, compiled view of a configuration that reads resolve against.

A snapshot is built from a wire payload (JSON text of ``VariablesConfig``) or from a
``VariablesConfig`` object and is never mutated afterwards; providers hand new payloads to the client,
which swaps in a new snapshot whole. Decoding uses msgspec structs that keep only what resolution
needs (schemas, descriptions and examples are skipped unparsed), which is what makes large configs
cheap to parse and hold.

Building is forgiving per variable and strict per payload: a payload that is not a JSON object with a
``variables`` object is rejected whole (:class:`ConfigPayloadError`, the caller keeps its last good
snapshot), while one malformed variable keeps its previous good version (or is left out) and is
reported, so the others still update.
"""

from __future__ import annotations

import gc
import hashlib
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec

from remotevars._errors import ConfigPayloadError
from remotevars._resolve import OPERAND_FIELDS, RESERVED_REFS, CompiledVariable, compile_variable

__all__ = ['Snapshot', 'SnapshotState', 'VariableIssue', 'build_snapshot', 'patch_snapshot']

_NAME: Final = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*')
_INF: Final = float('inf')

#: ``no_provider``: nothing configured; ``missing_config``: a provider is configured but has not
#: delivered a config yet; ``loaded``: a config is in force; ``cached``: a last-good copy (from a
#: cache file) is in force because the source could not be reached.
SnapshotState = Literal['no_provider', 'missing_config', 'loaded', 'cached']


class _Label(msgspec.Struct, gc=False):
    version: int | None = None
    serialized_value: str | None = None
    ref: str | None = None


class _Latest(msgspec.Struct, gc=False):
    version: int
    serialized_value: str


class _Rollout(msgspec.Struct, gc=False):
    labels: dict[str, float] = {}


class _Condition(msgspec.Struct, gc=False):
    kind: str
    attribute: str
    value: Any = msgspec.UNSET
    values: list[Any] | msgspec.UnsetType = msgspec.UNSET
    pattern: str | msgspec.UnsetType = msgspec.UNSET


class _Override(msgspec.Struct, gc=False):
    conditions: list[_Condition]
    rollout: _Rollout


class _Variable(msgspec.Struct, gc=False):
    name: str
    rollout: _Rollout
    overrides: list[_Override]
    labels: dict[str, _Label] = {}
    latest_version: _Latest | None = None
    aliases: list[str] | None = None


class _Payload(msgspec.Struct):
    variables: dict[str, msgspec.Raw]


_PAYLOAD_DECODER: Final = msgspec.json.Decoder(_Payload)
_VARIABLE_DECODER: Final = msgspec.json.Decoder(_Variable)


@dataclass(frozen=True, slots=True)
class VariableIssue:
    """A variable of a payload that could not be used, and whether an older good version was kept."""

    name: str
    error: str
    kept_previous: bool


class Snapshot:
    """An immutable set of compiled variables, looked up by name and then by alias."""

    __slots__ = ('aliases', 'created_at', 'serial', 'source', 'state', 'variables')

    def __init__(
        self,
        variables: dict[str, CompiledVariable],
        *,
        state: SnapshotState,
        source: str = '',
        created_at: float | None = None,
    ) -> None:
        self.variables = variables
        #: A token unique to this snapshot, for caches keyed by snapshot that must not keep it alive.
        self.serial = object()
        self.state: SnapshotState = state
        self.source = source
        self.created_at = time.time() if created_at is None else created_at
        aliases: dict[str, str] = {}
        for name, variable in variables.items():
            for alias in variable.aliases:
                aliases[alias] = name  # the last variable claiming an alias wins, as in the reference
        self.aliases = aliases

    @classmethod
    def empty(cls, state: SnapshotState, source: str = '') -> Snapshot:
        """Return a snapshot with no variables in the given state."""
        return cls({}, state=state, source=source)

    def lookup(self, name: str) -> CompiledVariable | None:
        """Return the variable called ``name`` (direct names beat aliases), or None."""
        found = self.variables.get(name)
        if found is None:
            canonical = self.aliases.get(name)
            if canonical is not None:
                found = self.variables[canonical]
        return found


def _check_rollout(labels: Mapping[str, _Label], weights: Mapping[str, float], where: Callable[[], str]) -> None:
    for label, weight in weights.items():
        if not 0.0 <= weight < _INF:  # also false for NaN
            raise ValueError('Label proportions must be finite and not negative.')
        if label not in labels:
            raise ValueError(f'Label {label!r} present in {where()} is not present in `labels`.')
    if sum(weights.values()) > 1.0 + 1e-9:
        raise ValueError('Label proportions must not sum to more than 1.')


def _check(key: str, variable: _Variable) -> None:
    # The checks pydantic's VariableConfig/VariablesConfig validators make, with the same messages.
    # Run once per changed variable of every payload, so kept lean (messages built only on failure).
    name = variable.name
    if key != name:
        raise ValueError(f'`variables` has invalid lookup key {key!r} for value with name {name!r}.')
    if not _NAME.fullmatch(name):
        raise ValueError(f'Invalid variable name {name!r}.')
    if variable.aliases:
        for alias in variable.aliases:
            if not _NAME.fullmatch(alias):
                raise ValueError(f'Invalid alias {alias!r}.')
    labels = variable.labels
    for label, target in labels.items():
        ref = target.ref
        if ref is None:
            if target.version is None or target.serialized_value is None:
                raise ValueError(f'Label {label!r} needs `version` and `serialized_value`, or `ref`.')
        elif ref not in RESERVED_REFS and ref not in labels:
            raise ValueError(f'Label {label!r} has ref {ref!r} which is not present in `labels`.')
    _check_rollout(labels, variable.rollout.labels, lambda: '`rollout.labels`')
    for i, override in enumerate(variable.overrides):
        _check_rollout(labels, override.rollout.labels, lambda i=i: f'`overrides[{i}].rollout`')  # type: ignore[misc]
        for condition in override.conditions:
            needs = OPERAND_FIELDS.get(condition.kind)
            if needs is not None and getattr(condition, needs) is msgspec.UNSET:
                raise ValueError(f'Condition {condition.kind!r} needs `{needs}`.')


def build_snapshot(
    payload: bytes | str | Mapping[str, Any] | Any,
    previous: Snapshot | None = None,
    *,
    source: str = '',
    from_cache: bool = False,
) -> tuple[Snapshot, list[VariableIssue]]:
    """Build a snapshot from JSON text, a mapping, or a ``VariablesConfig``.

    Variables equal to their version in ``previous`` reuse its compiled object, so per-variable
    caches survive unrelated updates. Returns the snapshot and the variables that could not be used.
    Raises :class:`ConfigPayloadError` when the payload as a whole is unusable.
    """
    if hasattr(payload, 'model_dump_json'):
        payload = payload.model_dump_json()
    elif isinstance(payload, Mapping):
        try:
            payload = msgspec.json.encode(payload)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ConfigPayloadError(f'config is not JSON-serialisable: {exc}') from exc
    try:
        decoded = _PAYLOAD_DECODER.decode(payload)
    except msgspec.DecodeError as exc:
        raise ConfigPayloadError(f'not a valid variables config: {exc}') from exc

    old = previous.variables if previous is not None else {}
    variables: dict[str, CompiledVariable] = {}
    issues: list[VariableIssue] = []
    rollouts: dict[Any, Any] = {}  # equal rollouts compile once per build and are shared
    with _gc_paused():
        for key, raw in decoded.variables.items():
            _compile_into(variables, issues, key, raw, old.get(key), rollouts)
    return Snapshot(variables, state='cached' if from_cache else 'loaded', source=source), issues


@contextmanager
def _gc_paused() -> Iterator[None]:
    # A build allocates many small objects and no cycles: on large configs the cyclic GC's passes
    # during it cost more than the build itself, so they wait until it is done.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _compile_into(
    variables: dict[str, CompiledVariable],
    issues: list[VariableIssue],
    key: str,
    raw: bytes | str | msgspec.Raw,
    before: CompiledVariable | None,
    rollouts: dict[Any, Any] | None = None,
) -> None:
    # One variable of a payload. Unchanged variables are recognised by a digest of their JSON (no
    # decoding, and nothing keeps the wire form alive); a malformed new version keeps the previous
    # compiled variable (and is reported); anything else is compiled.
    digest = hashlib.blake2b(raw.encode() if isinstance(raw, str) else raw, digest_size=16).digest()
    if before is not None and before.source == digest:
        variables[key] = before
        return
    try:
        wire = _VARIABLE_DECODER.decode(raw)
        _check(key, wire)
        compiled = compile_variable(wire, rollouts)
    except (msgspec.DecodeError, ValueError) as exc:
        if before is not None:
            variables[key] = before
        issues.append(VariableIssue(key, str(exc), kept_previous=before is not None))
        return
    compiled.source = digest
    variables[key] = compiled


def patch_snapshot(
    previous: Snapshot, changes: Mapping[str, bytes | str | None], *, source: str = ''
) -> tuple[Snapshot, list[VariableIssue]]:
    """Return ``previous`` with some variables replaced (JSON of one variable) or removed (None).

    For updates that carry the changed variables themselves (the server's update stream), so a
    client need not fetch the whole config. The other variables keep their compiled objects.
    """
    variables = dict(previous.variables)
    issues: list[VariableIssue] = []
    for key, raw in changes.items():
        if raw is None:
            variables.pop(key, None)
        else:
            _compile_into(variables, issues, key, raw, variables.get(key))
    return Snapshot(variables, state=previous.state, source=source or previous.source), issues
