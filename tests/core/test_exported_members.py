"""The public surface: one curated, sorted ``__all__`` per package, every name importable."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ['remotevars', 'remotevars.config', 'remotevars.providers', 'django_remotevars', 'flask_remotevars']


@pytest.mark.parametrize('name', PACKAGES)
def test_all_is_sorted_unique_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported)
    assert len(set(exported)) == len(exported)
    for member in exported:
        assert hasattr(module, member), member


def test_public_names_from_the_seed_documentation() -> None:
    import remotevars

    for name in (
        'var',
        'configure',
        'VariablesOptions',
        'LocalVariablesOptions',
        'VariablesConfig',
        'targeting_context',
    ):
        assert name in remotevars.__all__


def test_nothing_private_is_exported() -> None:
    import remotevars

    assert [n for n in remotevars.__all__ if n.startswith('_')] == []
