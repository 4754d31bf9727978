"""Who gets what: the label, version and value a targeting key gets, and how a rollout splits many keys.

Pure, and the same resolver as the clients (:mod:`remotevars._resolve`): the first override whose
conditions hold picks the rollout, and the Logfire-exact bucketing picks the label, so what the console
says is what every remotevars and Logfire SDK process serves.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from remotevars._resolve import choose_rollout, compile_variable, select_label
from remotevars.config import VariableConfig
from remotevars.server._json import StrictJsonError, loads_strict
from remotevars.server._wire import DEFAULT_LIMITS

__all__ = ['SYNTHETIC_KEYS', 'Answer', 'RolloutShares', 'Share', 'parse_attributes', 'rollout_shares', 'who_gets']

#: How many synthetic targeting keys (``user-0`` ... ``user-9999``) the shares are measured on.
SYNTHETIC_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class Answer:
    """What one targeting key gets: label (None: code default), version, value, and which rollout decided."""

    label: str | None
    version: int | None
    serialized_value: str | None
    override: int | None  # the index of the override whose conditions held; None: the base rollout


@dataclass(frozen=True, slots=True)
class Share:
    """One outcome of a rollout over the synthetic keys: a label (None: the code default) and its count."""

    label: str | None
    weight: float
    count: int

    @property
    def fraction(self) -> float:
        """The share of the synthetic keys that land here, from 0 to 1."""
        return self.count / SYNTHETIC_KEYS


@dataclass(frozen=True, slots=True)
class RolloutShares:
    """How one rollout (``override`` None: the base rollout) splits the synthetic keys, label by label."""

    override: int | None
    shares: tuple[Share, ...]


def parse_attributes(text: str) -> dict[str, Any]:
    """Return the attributes of a JSON object text ('' is none); raises ValueError saying what is wrong."""
    if not text.strip():
        return {}
    try:
        value = loads_strict(text, max_depth=DEFAULT_LIMITS.max_json_depth)
    except StrictJsonError as exc:
        raise ValueError(f'attributes: not valid JSON ({exc})') from None
    if not isinstance(value, dict):
        raise ValueError('attributes: expected a JSON object, e.g. {"plan": "enterprise"}')
    return value


def who_gets(variable: VariableConfig, targeting_key: str | None, attributes: dict[str, Any]) -> Answer:
    """Return what ``targeting_key`` with ``attributes`` gets from ``variable``, as a client resolves it."""
    compiled = compile_variable(variable)
    rollout = choose_rollout(compiled, attributes)
    override = next((i for i, (_, r) in enumerate(compiled.overrides) if r is rollout), None)
    seed = None if targeting_key is None else f'{variable.name!r}:{targeting_key!r}'
    label = select_label(rollout, seed)
    if label is None:
        return Answer(None, None, None, override)
    value, version = compiled.targets[label]
    return Answer(label, version, value, override)


def rollout_shares(variable: VariableConfig) -> list[RolloutShares]:
    """Return how the base rollout and each override's rollout split :data:`SYNTHETIC_KEYS` keys.

    Every label of a rollout is listed (in its order, with its weight), then the code default when the
    weights leave a remainder.
    """
    compiled = compile_variable(variable)
    rollouts = [(None, compiled.rollout), *((i, r) for i, (_, r) in enumerate(compiled.overrides))]
    seeds = [f'{variable.name!r}:{f"user-{i}"!r}' for i in range(SYNTHETIC_KEYS)]
    result = []
    for override, rollout in rollouts:
        counts = Counter(select_label(rollout, seed) for seed in seeds)
        shares = [Share(label, weight, counts[label]) for label, weight in rollout.labels.items()]
        remainder = 1.0 - math.fsum(rollout.labels.values())
        if remainder > 1e-9 or counts[None]:
            shares.append(Share(None, max(remainder, 0.0), counts[None]))
        result.append(RolloutShares(override, tuple(shares)))
    return result
