#!/usr/bin/env python
"""The support site's manage.py: ``runserver``, ``migrate``, ``seed_users`` and the ``vars_*`` commands."""

from __future__ import annotations

import os
import sys

if __name__ == '__main__':
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'support_site.settings')
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
