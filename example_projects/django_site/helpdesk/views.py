"""The support page: reads variables in the view (with label and version) and in the template."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from django_remotevars.middleware import request_attributes
from helpdesk.variables import assistant, help_layout

ARTICLES = (
    ('Reset your password', 'Use the "Forgot password" link on the sign-in page.'),
    ('Change your plan', 'Plans can be changed at any time from the billing page.'),
    ('Export your data', 'Settings, then Export: you get a zip file by email.'),
)


def support(request: HttpRequest) -> HttpResponse:
    """Render the support page for the signed-in user (or an anonymous visitor)."""
    layout = help_layout.get()  # the middleware already set this request's targeting key and attributes
    settings = assistant.get()
    context = {
        'layout': layout,
        'assistant_result': settings,
        'articles': ARTICLES,
        'attributes': request_attributes(request) or {},
    }
    return render(request, 'helpdesk/support.html', context)
