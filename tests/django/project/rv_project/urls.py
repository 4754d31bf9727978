"""URLs of the test project: the shop's views, the admin (for its login page) and the status page."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from rv_shop import views

urlpatterns = [
    path('admin/', admin.site.urls),
    path('remotevars/', include('django_remotevars.urls')),
    path('page/', views.page, name='page'),
    path('flow/', views.flow, name='flow'),
    path('async-flow/', views.async_flow, name='async-flow'),
    path('async-ping/', views.async_ping, name='async-ping'),
    path('pinning/', views.pinning, name='pinning'),
    path('worker/', views.worker, name='worker'),
]
