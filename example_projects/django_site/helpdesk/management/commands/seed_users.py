"""``manage.py seed_users``: migrate the database and create the demo users (idempotent)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import BaseCommand

from helpdesk.targeting import ENTERPRISE_GROUP

#: (username, on the enterprise plan); they all share one password.
USERS = (('alice', False), ('bob', False), ('carol', True))
PASSWORD = 'demo-password'


class Command(BaseCommand):
    help = 'Migrate, then create the demo users alice, bob and carol (enterprise), password "demo-password".'

    def handle(self, *args: Any, **options: Any) -> None:
        call_command('migrate', verbosity=0, interactive=False)
        enterprise, _ = Group.objects.get_or_create(name=ENTERPRISE_GROUP)
        for username, is_enterprise in USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(PASSWORD)
                user.save()
            if is_enterprise:
                user.groups.add(enterprise)
            self.stdout.write(f'{username}: pk {user.pk}' + (' (enterprise)' if is_enterprise else ''))
