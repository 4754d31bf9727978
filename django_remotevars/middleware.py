"""``RemoteVarsMiddleware``: per-request targeting (key and attributes) and one pinned config snapshot.

Put it after ``AuthenticationMiddleware``. The targeting key is, by default, the authenticated user's
primary key (as a string, as Logfire targeting keys are) and otherwise a stable anonymous id kept in the
``remotevars_aid`` cookie; ``REMOTEVARS_TARGETING_KEY`` / ``REMOTEVARS_ATTRIBUTES`` name callables of the
request that replace the key or supply attributes. The snapshot in force when the request starts is
pinned until the response is built, so a view and its template read the same versions.

The key is only worked out when a read needs one (a rollout between labels, a resolve function): a
request that reads no such variable neither loads the user (sync views) nor gets the anonymous cookie,
so pages stay cacheable.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, Final

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase

import remotevars
from django_remotevars import conf

__all__ = ['ANONYMOUS_COOKIE', 'RemoteVarsMiddleware', 'request_attributes', 'request_targeting_key']

#: The cookie holding an anonymous visitor's targeting id.
ANONYMOUS_COOKIE: Final = 'remotevars_aid'
_ANONYMOUS_MAX_AGE: Final = 365 * 24 * 3600
_NEW_ID: Final = '_remotevars_new_anonymous_id'
_ID_SHAPE: Final = re.compile('[0-9a-f]{32}')


#: Our id in a raw Cookie header: a name match at a cookie boundary, and only ids of the shape we issue.
_COOKIE_ID: Final = re.compile(rf'(?:^|;)\s*{ANONYMOUS_COOKIE}=([0-9a-f]{{32}})\s*(?:;|$)')


def _cookie_id(request: HttpRequest) -> str | None:
    # Parsing every cookie (request.COOKIES) costs more than the rest of the middleware; when nothing
    # else parsed them yet, only our cookie is looked for.
    cookies = request.__dict__.get('COOKIES')
    if cookies is not None:
        found = cookies.get(ANONYMOUS_COOKIE)
        return found if isinstance(found, str) and _ID_SHAPE.fullmatch(found) else None
    match = _COOKIE_ID.search(request.META.get('HTTP_COOKIE', ''))
    return None if match is None else match.group(1)


def _anonymous_key(request: HttpRequest) -> str:
    key = _cookie_id(request)
    if key is None:
        key = uuid.uuid4().hex
        setattr(request, _NEW_ID, key)
    return key


def _user_key(user: Any) -> str | None:
    if user is not None and getattr(user, 'is_authenticated', False):
        return str(user.pk)
    return None


def request_targeting_key(request: HttpRequest) -> Any:
    """Return the targeting key of a request: the setting's callable, else the user's pk, else an anonymous id."""
    function = conf.targeting_key_function()
    if function is not None:
        return function(request)
    return _user_key(getattr(request, 'user', None)) or _anonymous_key(request)


def request_attributes(request: HttpRequest) -> Mapping[str, Any] | None:
    """Return the targeting attributes of a request (from ``REMOTEVARS_ATTRIBUTES``), or None."""
    function = conf.attributes_function()
    return None if function is None else function(request)


async def _arequest_targeting(request: HttpRequest) -> tuple[Any, Mapping[str, Any] | None]:
    """The key (None: only an anonymous id, drawn when needed) and attributes, worked out off the loop."""
    key_function, attributes_function = conf.targeting_key_function(), conf.attributes_function()
    if key_function is not None:
        key = await sync_to_async(key_function)(request)
    else:
        # request.user may hit the database, which async code must not do directly; a read on the
        # event loop could not load it later, so it is loaded now.
        auser = getattr(request, 'auser', None)
        if auser is not None:
            key = _user_key(await auser())
        else:  # Django 4.2: evaluate the lazy user in a thread
            key = await sync_to_async(lambda: _user_key(getattr(request, 'user', None)))()
    attributes = None if attributes_function is None else await sync_to_async(attributes_function)(request)
    return key, attributes


def _remember_anonymous(request: HttpRequest, response: HttpResponseBase) -> None:
    key = getattr(request, _NEW_ID, None)
    if key is not None:
        response.set_cookie(
            ANONYMOUS_COOKIE,
            key,
            max_age=_ANONYMOUS_MAX_AGE,
            httponly=True,
            samesite='Lax',
            secure=request.is_secure(),
        )


class RemoteVarsMiddleware:
    """Sets the request's targeting and pins one config snapshot for it (sync and async)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.client = remotevars.get_client()
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        scope = self.client.request_scope(
            None, request_attributes(request), activate=False, key_loader=partial(request_targeting_key, request)
        )
        with scope:
            response: HttpResponseBase = self.get_response(request)
        _remember_anonymous(request, response)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        key, attributes = await _arequest_targeting(request)
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        loader = None if key is not None else partial(_anonymous_key, request)
        with self.client.request_scope(key, attributes, activate=False, key_loader=loader):
            response = await get_response(request)
        _remember_anonymous(request, response)
        return response
