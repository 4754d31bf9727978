"""Settings of the example support site.

The variables server comes from the environment (``REMOTEVARS_BASE_URL`` and ``REMOTEVARS_API_KEY``, a
read key is enough to serve); without them every variable serves its code default. ``SUPPORT_SITE_DB``
moves the SQLite database (users and sessions) elsewhere, e.g. under the demo's folder.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get('SUPPORT_SITE_SECRET_KEY', 'example-only-not-secret')
DEBUG = os.environ.get('SUPPORT_SITE_DEBUG', '1') == '1'
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']
USE_TZ = True
TIME_ZONE = 'UTC'
ROOT_URLCONF = 'support_site.urls'
WSGI_APPLICATION = 'support_site.wsgi.application'
DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'

INSTALLED_APPS = [
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'django.contrib.messages',
    'django_remotevars',
    'helpdesk',
]

MIDDLEWARE = [
    'django.middleware.security.SecurityMiddleware',
    'django.contrib.sessions.middleware.SessionMiddleware',
    'django.middleware.common.CommonMiddleware',
    'django.middleware.csrf.CsrfViewMiddleware',
    'django.contrib.auth.middleware.AuthenticationMiddleware',
    'django.contrib.messages.middleware.MessageMiddleware',
    # After AuthenticationMiddleware: the targeting key is the signed-in user's pk.
    'django_remotevars.middleware.RemoteVarsMiddleware',
]

TEMPLATES = [
    {
        'BACKEND': 'django.template.backends.django.DjangoTemplates',
        'APP_DIRS': True,
        'OPTIONS': {
            'context_processors': [
                'django.template.context_processors.request',
                'django.contrib.auth.context_processors.auth',
                'django.contrib.messages.context_processors.messages',
                'django_remotevars.context_processors.remotevars',
            ],
        },
    }
]

DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.sqlite3',
        'NAME': os.environ.get('SUPPORT_SITE_DB', str(BASE_DIR / 'db.sqlite3')),
    }
}

LOGIN_URL = 'login'
LOGIN_REDIRECT_URL = 'support'
LOGOUT_REDIRECT_URL = 'support'

# Rollout overrides match on these attributes (the customer's plan).
REMOTEVARS_ATTRIBUTES = 'helpdesk.targeting.request_attributes'
# Keep the last good config on disk: a restart while the server is down still serves it.
REMOTEVARS_CACHE_FILE = os.environ.get('SUPPORT_SITE_VARS_CACHE') or None

LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'handlers': {'stderr': {'class': 'logging.StreamHandler'}},
    'loggers': {'django_remotevars': {'handlers': ['stderr'], 'level': 'INFO'}},
}
