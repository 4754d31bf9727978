"""Settings of the small Django project the django_remotevars tests run (in process and as subprocesses).

The server to use comes from the environment (``REMOTEVARS_BASE_URL`` / ``REMOTEVARS_API_KEY``, which the
core reads when the settings leave them unset); in-process tests override the settings instead.
"""

from __future__ import annotations

import json
import os

SECRET_KEY = 'remotevars-tests-only'
DEBUG = True
ALLOWED_HOSTS = ['127.0.0.1', 'localhost', 'testserver']
USE_TZ = True
ROOT_URLCONF = 'rv_project.urls'
WSGI_APPLICATION = 'rv_project.wsgi.application'
DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'

INSTALLED_APPS = [
    'django.contrib.admin',
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'django.contrib.messages',
    'django_remotevars',
    'rv_shop',
]

MIDDLEWARE = [
    'django.contrib.sessions.middleware.SessionMiddleware',
    'django.contrib.auth.middleware.AuthenticationMiddleware',
    'django.contrib.messages.middleware.MessageMiddleware',
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
    'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': os.environ.get('RV_TEST_DB', ':memory:')},
}

REMOTEVARS_MODULES = ['rv_extra_vars']
REMOTEVARS_ATTRIBUTES = 'rv_shop.targeting.request_attributes'
REMOTEVARS_POLLING_INTERVAL = 30.0
REMOTEVARS_FIRST_RESOLVE_TIMEOUT = 5.0

# Subprocess tests of bad or special settings add theirs as JSON (e.g. '{"REMOTEVARS_MODULES": "x"}').
globals().update(json.loads(os.environ.get('RV_EXTRA_SETTINGS', '{}')))

LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'handlers': {'stderr': {'class': 'logging.StreamHandler'}},
    'loggers': {'django_remotevars': {'handlers': ['stderr'], 'level': 'INFO'}},
}
