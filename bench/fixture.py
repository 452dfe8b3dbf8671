"""The benchmarks' own view of the database: data made through the application's services.

Shared by the realtime, storage and storm benchmarks: a declaration with its moderator,
invited mayors with their tokens, and the stored head.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path


class Fixture:
    """The benchmark's own view of the database, through the application's services."""

    def __init__(
        self, database_url: str, instance: Path, base_url: str = "http://127.0.0.1"
    ) -> None:
        from declaration import create_app

        self.base_url = base_url
        self.app = create_app(
            {
                "DATABASE_URL": database_url,
                "INSTANCE_PATH": str(instance),
                "SECRET_KEY": "benchmark-secret",
                "PUBLIC_BASE_URL": base_url,
                "MAIL_SERVER": None,
                "SOCKETIO_ASYNC_MODE": "threading",
            }
        )

    @property
    def max_chars(self) -> int:
        return int(self.app.config["MAX_TEXT_CHARS"])

    def create_declaration(self, title: str, text: str) -> str:
        """Store a declaration with its moderator and first draft; return its key."""
        from declaration import clock
        from declaration.db import get_database
        from declaration.models import Person
        from declaration.services import declarations

        with self.app.app_context(), get_database().transaction(write=True) as s:
            moderator = Person(
                name="Moderation",
                email=f"moderation-{time.time_ns()}@mitz.example",
                may_create_declarations=True,
                created_at=clock.now(),
            )
            s.add(moderator)
            s.flush()
            declaration = declarations.create(
                s,
                moderator,
                declarations.NewDeclaration(title=title, text=text),
                at=clock.now(),
                max_text_chars=self.max_chars,
            )
            return declaration.key

    def invite(
        self, key: str, count: int, *, prefix: str = "bm", role: str = "mayor"
    ) -> list[tuple[int, str]]:
        """Invite ``count`` people (mayors, or another ``role``) by the command line; return
        (membership id, token) each."""
        from declaration import clock
        from declaration.db import get_database
        from declaration.domain.roles import Role
        from declaration.services import declarations, participants

        invited_all: list[tuple[int, str]] = []
        with self.app.app_context(), get_database().transaction(write=True) as s:
            declaration = declarations.by_key(s, key)
            for n in range(count):
                invited = participants.invite(
                    s,
                    None,
                    declaration,
                    participants.NewParticipant(
                        name=f"Bürgermeisterin {n}",
                        email=f"{prefix}{n}@gemeinde{n}.example",
                        role=Role(role),
                        office="Bürgermeisterin",
                        municipality=f"Gemeinde {n}",
                    ),
                    at=clock.now(),
                    validity=timedelta(days=1),
                    link_for=lambda token: f"{self.base_url}/einladung/{token}",
                    send_mail=False,
                )
                s.flush()
                invited_all.append((invited.membership.id, invited.link.token))
        return invited_all

    def start_review(self, key: str, addressee: tuple[str, str]) -> None:
        """Record ``addressee`` (name, address block) and move the declaration to review,
        as its first moderator: mayors may then sign, and only the moderation edits."""
        from sqlalchemy import select

        from declaration import clock
        from declaration.db import get_database
        from declaration.domain.phases import Phase
        from declaration.models import Membership
        from declaration.services import declarations, signoffs

        with self.app.app_context(), get_database().transaction(write=True) as s:
            declaration = declarations.by_key(s, key)
            moderator = s.scalars(
                select(Membership)
                .where(Membership.declaration_id == declaration.id, Membership.role == "moderator")
                .order_by(Membership.id)
                .limit(1)
            ).one()
            name, address = addressee
            option = signoffs.add_option(
                s, moderator, declaration, signoffs.OptionData(name, address), at=clock.now()
            )
            signoffs.decide(s, moderator, declaration, option.id, "", at=clock.now())
            declarations.move_phase(s, moderator, declaration, Phase.REVIEW, at=clock.now())

    def head(self, key: str) -> tuple[int, str]:
        """The stored head revision and its text (``drafts.head_text``)."""
        from declaration.db import get_database
        from declaration.services import declarations, drafts

        with self.app.app_context(), get_database().transaction() as s:
            declaration = declarations.by_key(s, key)
            return declaration.head_revision, drafts.head_text(s, declaration)

    def head_revision(self, key: str) -> int:
        from declaration.db import get_database
        from declaration.services import declarations

        with self.app.app_context(), get_database().transaction() as s:
            return declarations.by_key(s, key).head_revision

    def close(self) -> None:
        self.app.extensions["declaration.db"].dispose()
