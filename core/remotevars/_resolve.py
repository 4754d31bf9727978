"""Pure resolution: label refs, conditions, overrides and Logfire-exact bucketing.

Everything here is a function of its inputs (no I/O, no clocks, no globals besides a memo of RNG
draws). A variable's config is first *compiled*: label refs are followed once, rollouts become
cumulative weights, regexes are compiled. Compiling takes anything with the attribute names of the
wire models, so the pydantic models of :mod:`remotevars.config` and the decoded wire structs of
:mod:`remotevars._snapshot` share one implementation.

Bucketing reproduces the Logfire SDK bit for bit: the seed is ``f'{name!r}:{targeting_key!r}'``
(canonical name, Python reprs), the draw is ``random.Random(seed).random()``, and the label is
``random.choices``' bisection over the cumulative weights, with a trailing None (code default) slot
when the weights leave a remainder computed with the built-in ``sum``.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Mapping
from functools import lru_cache
from itertools import accumulate
from typing import Any, Final, Protocol

__all__ = [
    'OPERAND_FIELDS',
    'RESERVED_REFS',
    'CompiledCondition',
    'CompiledRollout',
    'CompiledVariable',
    'choose_rollout',
    'compile_rollout',
    'compile_variable',
    'condition_matches',
    'condition_operand',
    'draw',
    'follow_target',
    'resolve_label',
    'resolve_value',
    'select_for_key',
    'select_label',
]

LATEST: Final = 'latest'
CODE_DEFAULT: Final = 'code_default'
RESERVED_REFS: Final = frozenset({LATEST, CODE_DEFAULT})


class _LatestLike(Protocol):
    @property
    def version(self) -> int: ...

    @property
    def serialized_value(self) -> str: ...


class CompiledRollout:
    """A rollout ready for bisection: population, cumulative weights and their total.

    ``is_fixed`` is set when the draw cannot change the outcome (no labels, or one label and no
    remainder); ``fixed`` is then the outcome and no RNG is seeded.
    """

    __slots__ = ('cum_weights', 'fixed', 'hi', 'is_fixed', 'labels', 'population', 'total')

    def __init__(self, weights: Mapping[str, float]) -> None:
        self.labels: dict[str, float] = dict(weights)
        population: list[str | None] = list(weights)
        values = list(weights.values())
        remainder = 1 - compensated_sum(values)
        if remainder > 0:
            population.append(None)
            values.append(remainder)
        self.population: tuple[str | None, ...] = tuple(population)
        self.cum_weights: list[float] = list(accumulate(values)) if values else []
        self.total: float = self.cum_weights[-1] + 0.0 if values else 0.0
        self.hi: int = len(population) - 1
        self.is_fixed: bool = len(population) <= 1
        self.fixed: str | None = population[0] if len(population) == 1 else None
        if not self.is_fixed and not self.total > 0.0:
            raise ValueError('Total of label proportions must be greater than zero.')


def compensated_sum(values: list[float]) -> float:
    """Return the sum of ``values`` as Python 3.12+'s ``sum()`` computes it (Neumaier's compensation).

    The reference takes the code-default remainder of a rollout as ``1 - sum(weights)``, so on Python
    3.11 ``{'x': 0.7, 'y': 0.2, 'z': 0.1}`` gets a code-default slot of weight 1.1e-16 and on 3.12+ none.
    remotevars uses one rule on every interpreter (this one), so all its processes bucket a key alike.
    """
    total = compensation = 0.0
    for weight in values:
        value = float(weight)
        step = total + value
        if abs(total) >= abs(value):
            compensation += (total - step) + value
        else:
            compensation += (value - step) + total
        total = step
    return total + compensation if compensation and math.isfinite(compensation) else total


def compile_rollout(weights: Mapping[str, float]) -> CompiledRollout:
    """Return the compiled form of a label -> weight mapping (order matters)."""
    return CompiledRollout(weights)


@lru_cache(maxsize=1 << 16)
def draw(seed: str) -> float:
    """Return ``random.Random(seed).random()``, memoised: seeding costs microseconds."""
    return random.Random(seed).random()


def select_label(rollout: CompiledRollout, seed: str | None) -> str | None:
    """Return the label ``random.Random(seed).choices(population, weights)`` would pick.

    A None seed draws from an unseeded generator, as the reference does without a targeting key.
    """
    if rollout.is_fixed:
        return rollout.fixed
    u = random.random() if seed is None else draw(seed)
    return rollout.population[bisect_right(rollout.cum_weights, u * rollout.total, 0, rollout.hi)]


# Condition kinds, compiled to small ints so evaluation is a few comparisons.
_KINDS: Final = {
    'value-equals': 0,
    'value-does-not-equal': 1,
    'value-is-in': 2,
    'value-is-not-in': 3,
    'value-matches-regex': 4,
    'value-does-not-match-regex': 5,
    'key-is-present': 6,
    'key-is-not-present': 7,
}
_MISSING: Final = object()

CompiledCondition = tuple[int, str, Any]


#: The field holding each condition kind's operand (key kinds have none).
OPERAND_FIELDS: Final = {
    'value-equals': 'value',
    'value-does-not-equal': 'value',
    'value-is-in': 'values',
    'value-is-not-in': 'values',
    'value-matches-regex': 'pattern',
    'value-does-not-match-regex': 'pattern',
}


def condition_operand(condition: Any) -> Any:
    """Return the operand a condition's kind uses: its ``value``, ``values`` or ``pattern`` (None for key kinds)."""
    field = OPERAND_FIELDS.get(condition.kind)
    return None if field is None else getattr(condition, field)


def _compile_condition(kind: str, attribute: str, operand: Any) -> CompiledCondition:
    code = _KINDS.get(kind)
    if code is None:
        raise ValueError(f'Unknown condition kind {kind!r}.')
    if code in (4, 5):
        # Only a config with regex conditions loads the regex engine (`import remotevars` stays light).
        from remotevars._regex import compile_pattern

        operand = compile_pattern(operand)
    elif code in (2, 3):
        operand = tuple(operand)
    return code, attribute, operand


def _matches(condition: CompiledCondition, attributes: Mapping[str, Any]) -> bool:
    code, attribute, operand = condition
    if code >= 6:
        return (attribute in attributes) == (code == 6)
    value = attributes.get(attribute, _MISSING)
    if code == 0:
        return value is not _MISSING and bool(value == operand)
    if code == 1:
        return value is _MISSING or bool(value != operand)
    if code == 2:
        return value is not _MISSING and value in operand
    if code == 3:
        return value is _MISSING or value not in operand
    # A search that times out raises: the read serves the code default (other_error), as for a bad pattern.
    found = isinstance(value, str) and operand.search(value)
    return found if code == 4 else not found


def condition_matches(kind: str, attribute: str, operand: Any, attributes: Mapping[str, Any]) -> bool:
    """Return whether one condition holds for ``attributes`` (Python ``==``/``in``, ``re.search``).

    Absent attributes satisfy the negative kinds; regex kinds only match strings. Raises
    :class:`~remotevars._regex.PatternError` for a pattern that does not compile and TimeoutError for a
    search that takes too long (:mod:`remotevars._regex`).
    """
    return _matches(_compile_condition(kind, attribute, operand), attributes)


class CompiledVariable:
    """One variable ready for fast resolution.

    ``targets`` maps each label to the ``(serialized_value, version)`` it finally leads to, refs
    already followed; a None value means the code default. ``source`` identifies what it was compiled
    from (a digest of the variable's JSON for snapshots), so an unchanged variable in a new config is
    recognised and reused. ``draws`` memoises the RNG draw per targeting key (bounded).
    """

    __slots__ = ('aliases', 'draws', 'latest_version', 'name', 'overrides', 'rollout', 'source', 'targets')

    def __init__(
        self,
        name: str,
        targets: dict[str, tuple[str | None, int | None]],
        rollout: CompiledRollout,
        overrides: tuple[tuple[tuple[CompiledCondition, ...], CompiledRollout], ...],
        aliases: tuple[str, ...],
        source: object,
        latest_version: int | None = None,
    ) -> None:
        self.name = name
        self.targets = targets
        self.rollout = rollout
        self.overrides = overrides
        self.aliases = aliases
        self.source = source
        #: The number of the variable's latest version (None: no version yet); for change events.
        self.latest_version = latest_version
        #: random.Random(seed).random() by targeting key (str keys only), bounded.
        self.draws: dict[str, float] = {}


def follow_target(labels: Mapping[str, Any], latest: _LatestLike | None, target: Any) -> tuple[str | None, int | None]:
    """Follow one label target to ``(serialized_value, version)``.

    A labelled value gives itself; ``code_default`` gives ``(None, None)``; ``latest`` gives the
    latest version, or ``(None, ref's version)`` when there is none; a ref to another label follows
    the chain, and a cycle or a missing target gives ``(None, version of the ref that broke)``.
    """
    visited: set[str] = set()
    while True:
        ref = getattr(target, 'ref', None)
        if ref is None:
            return target.serialized_value, target.version
        if ref == CODE_DEFAULT:
            return None, None
        if ref == LATEST:
            if latest is None:
                return None, target.version
            return latest.serialized_value, latest.version
        following = labels.get(ref)
        if ref in visited or following is None:
            return None, target.version
        visited.add(ref)
        target = following


def _shared_rollout(
    weights: Mapping[str, float], rollouts: dict[tuple[tuple[str, float], ...], CompiledRollout] | None
) -> CompiledRollout:
    if rollouts is None:
        return CompiledRollout(weights)
    key = tuple(weights.items())
    found = rollouts.get(key)
    if found is None:
        found = rollouts[key] = CompiledRollout(weights)
    return found


def compile_variable(
    config: Any, rollouts: dict[tuple[tuple[str, float], ...], CompiledRollout] | None = None
) -> CompiledVariable:
    """Compile a variable config (pydantic model or wire struct with the same attribute names).

    Raises ValueError when the config cannot be resolved: unknown condition kind, invalid regex
    (:class:`~remotevars._regex.PatternError`), rollout weights that leave nothing to draw.
    """
    labels: Mapping[str, Any] = config.labels
    latest = config.latest_version
    targets: dict[str, tuple[str | None, int | None]] = {}
    for label, target in labels.items():
        # Most labels hold a value; only refs need following.
        if getattr(target, 'ref', None) is None:
            targets[label] = (target.serialized_value, target.version)
        else:
            targets[label] = follow_target(labels, latest, target)
    overrides = tuple(
        (
            tuple(_compile_condition(c.kind, c.attribute, condition_operand(c)) for c in override.conditions),
            _shared_rollout(override.rollout.labels, rollouts),
        )
        for override in config.overrides
    )
    return CompiledVariable(
        config.name,
        targets,
        _shared_rollout(config.rollout.labels, rollouts),
        overrides,
        tuple(config.aliases or ()),
        config,
        None if latest is None else latest.version,
    )


def choose_rollout(variable: CompiledVariable, attributes: Mapping[str, Any] | None) -> CompiledRollout:
    """Return the rollout of the first override whose conditions all hold, else the base rollout."""
    if variable.overrides:
        attrs = attributes if attributes is not None else {}
        for conditions, rollout in variable.overrides:
            for condition in conditions:
                if condition[0] == 0:  # value-equals, by far the most common: inlined
                    value = attrs.get(condition[1], _MISSING)
                    if value is _MISSING or not value == condition[2]:  # noqa: SIM201 - __eq__, as the reference
                        break
                elif not _matches(condition, attrs):
                    break
            else:
                return rollout
    return variable.rollout


_DRAWS_LIMIT: Final = 4096


def select_for_key(variable: CompiledVariable, rollout: CompiledRollout, targeting_key: Any) -> str | None:
    """Return the label ``rollout`` (one of ``variable``'s) picks for a targeting key, or None.

    Same as :func:`select_label` with the seed ``f'{name!r}:{key!r}'``; draws for string keys are
    memoised on the variable, which saves building the seed on repeated reads.
    """
    if rollout.is_fixed:
        return rollout.fixed
    if targeting_key is None:
        return select_label(rollout, None)
    draws = variable.draws
    cacheable = type(targeting_key) is str
    u = draws.get(targeting_key) if cacheable else None
    if u is None:
        u = draw(f'{variable.name!r}:{targeting_key!r}')
        if cacheable:
            if len(draws) >= _DRAWS_LIMIT:
                draws.clear()
            draws[targeting_key] = u
    return rollout.population[bisect_right(rollout.cum_weights, u * rollout.total, 0, rollout.hi)]


def resolve_label(variable: CompiledVariable, targeting_key: Any, attributes: Mapping[str, Any] | None) -> str | None:
    """Return the label a targeting key and attributes land in, or None (code default)."""
    return select_for_key(variable, choose_rollout(variable, attributes), targeting_key)


def resolve_value(
    variable: CompiledVariable,
    targeting_key: Any,
    attributes: Mapping[str, Any] | None,
    *,
    label: str | None = None,
) -> tuple[str | None, str | None, int | None]:
    """Return ``(serialized_value, label, version)`` as the reference's ``resolve_value`` does.

    An explicit ``label`` that exists is followed (its value may be None: code default); one that
    does not exist is ignored. Without a label the rollout decides; no label means all None.
    """
    if label is not None and label in variable.targets:
        value, version = variable.targets[label]
        return value, label, version
    selected = resolve_label(variable, targeting_key, attributes)
    if selected is None:
        return None, None, None
    value, version = variable.targets[selected]
    return value, selected, version
