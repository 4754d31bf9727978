"""remotevars: typed runtime variables that change in production without a redeploy.

Declare variables with :func:`var`, choose where their configs come from with :func:`configure`, and
read them with ``variable.get()``: a read never raises and costs about a dictionary lookup.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from remotevars._client import Client, RefreshListener, RequestScope
from remotevars._default import configure, get_client, shutdown, template_var, var, variables_get
from remotevars._errors import (
    ApiConnectionError,
    ApiError,
    BulkWriteUnsupported,
    ConfigPayloadError,
    ConfigurationError,
    RemoteVarsError,
    TemplateInputsMismatchError,
    VariableAlreadyExistsError,
    VariableCompositionCycleError,
    VariableCompositionError,
    VariableNotFoundError,
    VariableRegistrationError,
    VariableSerializationError,
    VariableWriteError,
)
from remotevars._events import OverrideState, RefreshEvent, VariableChange, VariableState
from remotevars._options import LocalVariablesOptions, VariablesOptions
from remotevars._result import ResolutionReason, ResolvedVariable, active_variables
from remotevars._targeting import targeting_context
from remotevars._template_variable import TemplateVariable
from remotevars._variable import ResolveFunction, Variable, is_resolve_function
from remotevars.providers import LocalProvider, ProviderStatus, VariableProvider

if TYPE_CHECKING:
    from remotevars._compose import ComposedReference
    from remotevars._plan import DescriptionDifference, LabelValidationError, SyncMode, ValidationReport
    from remotevars._template import TemplateFieldIssue, TemplateMismatchPolicy
    from remotevars.config import (
        Condition,
        KeyIsNotPresent,
        KeyIsPresent,
        LabeledValue,
        LabelRef,
        LatestVersion,
        Rollout,
        RolloutOverride,
        ValueDoesNotEqual,
        ValueDoesNotMatchRegex,
        ValueEquals,
        ValueIsIn,
        ValueIsNotIn,
        ValueMatchesRegex,
        VariableConfig,
        VariablesConfig,
        VariableTypeConfig,
    )
    from remotevars.push import (
        variables_build_config,
        variables_pull_config,
        variables_push,
        variables_push_config,
        variables_push_types,
        variables_validate,
    )

__version__ = '0.1.0'

# The workflows need the HTTP client and the planning code, and the pydantic models of configs are only
# needed to build, push or pull one: an app that only reads never loads them.
_LAZY = {
    **dict.fromkeys(
        (
            'Condition',
            'KeyIsNotPresent',
            'KeyIsPresent',
            'LabeledValue',
            'LabelRef',
            'LatestVersion',
            'Rollout',
            'RolloutOverride',
            'ValueDoesNotEqual',
            'ValueDoesNotMatchRegex',
            'ValueEquals',
            'ValueIsIn',
            'ValueIsNotIn',
            'ValueMatchesRegex',
            'VariableConfig',
            'VariablesConfig',
            'VariableTypeConfig',
        ),
        'remotevars.config',
    ),
    **dict.fromkeys(
        (
            'variables_build_config',
            'variables_pull_config',
            'variables_push',
            'variables_push_config',
            'variables_push_types',
            'variables_validate',
        ),
        'remotevars.push',
    ),
    **dict.fromkeys(
        ('DescriptionDifference', 'LabelValidationError', 'SyncMode', 'ValidationReport'), 'remotevars._plan'
    ),
    'ComposedReference': 'remotevars._compose',
    **dict.fromkeys(('TemplateFieldIssue', 'TemplateMismatchPolicy'), 'remotevars._template'),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    'ApiConnectionError',
    'ApiError',
    'BulkWriteUnsupported',
    'Client',
    'ComposedReference',
    'Condition',
    'ConfigPayloadError',
    'ConfigurationError',
    'DescriptionDifference',
    'KeyIsNotPresent',
    'KeyIsPresent',
    'LabelRef',
    'LabelValidationError',
    'LabeledValue',
    'LatestVersion',
    'LocalProvider',
    'LocalVariablesOptions',
    'OverrideState',
    'ProviderStatus',
    'RefreshEvent',
    'RefreshListener',
    'RemoteVarsError',
    'RequestScope',
    'ResolutionReason',
    'ResolveFunction',
    'ResolvedVariable',
    'Rollout',
    'RolloutOverride',
    'SyncMode',
    'TemplateFieldIssue',
    'TemplateInputsMismatchError',
    'TemplateMismatchPolicy',
    'TemplateVariable',
    'ValidationReport',
    'ValueDoesNotEqual',
    'ValueDoesNotMatchRegex',
    'ValueEquals',
    'ValueIsIn',
    'ValueIsNotIn',
    'ValueMatchesRegex',
    'Variable',
    'VariableAlreadyExistsError',
    'VariableChange',
    'VariableCompositionCycleError',
    'VariableCompositionError',
    'VariableConfig',
    'VariableNotFoundError',
    'VariableProvider',
    'VariableRegistrationError',
    'VariableSerializationError',
    'VariableState',
    'VariableTypeConfig',
    'VariableWriteError',
    'VariablesConfig',
    'VariablesOptions',
    'active_variables',
    'configure',
    'get_client',
    'is_resolve_function',
    'shutdown',
    'targeting_context',
    'template_var',
    'var',
    'variables_build_config',
    'variables_get',
    'variables_pull_config',
    'variables_push',
    'variables_push_config',
    'variables_push_types',
    'variables_validate',
]
