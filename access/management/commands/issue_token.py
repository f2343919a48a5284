"""Issue an API token from the shell; the token is printed alone on the last line."""

from django.core.management.base import BaseCommand, CommandError

from access.services import token_issue
from audit.actors import system_actor
from core.errors import ValidationFailed


class Command(BaseCommand):
    help = "Issue an API token. The secret is printed once, alone on the last line."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--admin", action="store_true", help="May do everything.")
        for kind in ("read", "write", "manage"):
            parser.add_argument(
                f"--{kind}",
                nargs="+",
                default=[],
                metavar="STORAGE",
                help=f"Grant {kind} on these storages.",
            )

    def handle(self, *args, name: str, admin: bool, **options) -> None:
        storages: dict[str, list[str]] = {}
        for kind in ("read", "write", "manage"):
            for storage in options[kind]:
                storages.setdefault(storage, []).append(kind)
        grants = [{"storage": s, "access": access} for s, access in storages.items()]
        try:
            issued = token_issue(
                name=name, admin=admin, grants=grants, actor=system_actor("manage.py issue_token")
            )
        except ValidationFailed as exc:
            raise CommandError("; ".join(m for msgs in exc.errors.values() for m in msgs)) from exc
        role = "admin" if admin else "client"
        self.stderr.write(f"Issued {role} token '{name}' (id {issued.token.id}). Keep it safe:")
        self.stdout.write(issued.secret)
