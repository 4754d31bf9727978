"""URLs of the status page: ``path('remotevars/', include('django_remotevars.urls'))``."""

from __future__ import annotations

from django.urls import path

from django_remotevars import views

__all__ = ['app_name', 'urlpatterns']

app_name = 'remotevars'

urlpatterns = [
    path('', views.status, name='status'),
]
