"""Helpers for the Flask extension's tests: writing variables configs to files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import remotevars

if TYPE_CHECKING:
    from werkzeug.test import TestResponse

__all__ = ['body', 'variable_config', 'write_config']


def variable_config(
    name: str,
    values: Mapping[str, Any],
    rollout: Mapping[str, float] | None = None,
    overrides: list[remotevars.RolloutOverride] | None = None,
) -> remotevars.VariableConfig:
    """A config for ``name``: one label per value (versions 1, 2...), rolled out as given (default: the first)."""
    labels: dict[str, remotevars.LabeledValue | remotevars.LabelRef] = {
        label: remotevars.LabeledValue(version=i, serialized_value=json.dumps(value))
        for i, (label, value) in enumerate(values.items(), start=1)
    }
    return remotevars.VariableConfig(
        name=name,
        labels=labels,
        rollout=remotevars.Rollout(labels=dict(rollout) if rollout is not None else {next(iter(values)): 1.0}),
        overrides=overrides or [],
    )


def write_config(path: Path, *configs: remotevars.VariableConfig) -> Path:
    """Write a ``VariablesConfig`` of ``configs`` to ``path`` (atomically: write then rename); return it."""
    text = remotevars.VariablesConfig(variables={c.name: c for c in configs}).model_dump_json()
    scratch = path.with_suffix('.tmp')
    scratch.write_text(text)
    scratch.replace(path)
    return path


def body(response: TestResponse) -> dict[str, Any]:
    """Return a JSON object response's body (failing on anything else)."""
    found = response.get_json()
    assert isinstance(found, dict), response.text
    return found
