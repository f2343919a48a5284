"""First start only: issue an admin token and print it, so a new user can follow the README."""

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from access.models import ApiToken
from access.services import token_issue
from audit.actors import system_actor


class Command(BaseCommand):
    help = "Issue a first admin token if none exists; print it and save it to var/admin.token."

    def handle(self, *args, **options) -> None:
        if ApiToken.objects.filter(admin=True).exists():
            self.stdout.write(
                "An admin token exists already (its secret is shown only once). "
                "Issue another with: python manage.py issue_token NAME --admin"
            )
            return
        issued = token_issue(
            name="bootstrap-admin", admin=True, actor=system_actor("manage.py bootstrap_token")
        )
        path = Path(settings.VAR_DIR) / "admin.token"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(issued.secret + "\n")
        self.stdout.write(f"Admin token (also saved to {path}, readable by you only):")
        self.stdout.write(issued.secret)
