"""URLs: the support page, sign in and out."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path
from helpdesk import views

urlpatterns = [
    path('', views.support, name='support'),
    path('login/', auth_views.LoginView.as_view(), name='login'),
    path('logout/', auth_views.LogoutView.as_view(), name='logout'),
]
