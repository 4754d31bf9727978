"""The staff-only status page: what ``manage.py vars_status`` prints, as a page."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

import remotevars
from remotevars._status import client_report, format_report

__all__ = ['status']


@staff_member_required
def status(request: HttpRequest) -> HttpResponse:
    """Render the default client's report (source, connection, last refresh, each variable's labels)."""
    report = client_report(remotevars.get_client())
    context = {'report': report, 'report_text': format_report(report), 'title': 'Remote variables'}
    return render(request, 'django_remotevars/status.html', context)
