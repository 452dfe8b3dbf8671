"""Invitation and login links, login sessions and moderators' passwords."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, bindparam, delete, exc, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from declaration.domain import privacy, throttle
from declaration.domain.errors import (
    N_,
    DomainError,
    Forbidden,
    InvalidInput,
    LoginLinkLimited,
    NotAMember,
    NotAuthenticated,
    PasswordLoginLocked,
    TokenInvalid,
)
from declaration.domain.roles import Role
from declaration.domain.tokens import is_redeemable, new_token, token_hash
from declaration.models import (
    Invitation,
    LinkPurpose,
    LoginSession,
    LoginThrottle,
    Membership,
    Person,
)
from declaration.prepared import Prepared
from declaration.services import audit

log = logging.getLogger(__name__)

#: argon2id with the library's defaults (RFC 9106 "second recommended" profile).
PASSWORDS = PasswordHasher()
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
#: A session's ``last_seen_at`` is written at most this often, not on every request.
LAST_SEEN_RESOLUTION = timedelta(minutes=5)
#: Scopes of the login-link budgets in ``login_throttles``, beside the password's
#: ``account`` and ``client`` (`issue_login_link`).
LINK_ADDRESS_SCOPE = "link"
LINK_CLIENT_SCOPE = "linkclient"
#: Finished streaks of failed password attempts deleted, at most, with each new failure.
THROTTLE_PURGE_BATCH = 100


@dataclass(frozen=True)
class IssuedLink:
    """A freshly issued link: the stored row and the token shown exactly once."""

    invitation: Invitation
    token: str


@dataclass(frozen=True)
class Login:
    """The result of a successful login: who, where to go, and the new session's id."""

    person: Person
    membership: Membership | None
    session_token: str


def _active_memberships(session: Session, person_id: int) -> list[Membership]:
    query = select(Membership).where(
        Membership.person_id == person_id, Membership.revoked_at.is_(None)
    )
    return list(session.scalars(query))


def issue_invitation(
    session: Session,
    membership: Membership,
    *,
    at: datetime,
    validity: timedelta,
    issued_by: Person | None,
) -> IssuedLink:
    """Issue a new invitation link for ``membership``, replacing any unused earlier one."""
    session.execute(
        update(Invitation)
        .where(
            Invitation.membership_id == membership.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=at)
    )
    token = new_token()
    invitation = Invitation(
        person_id=membership.person_id,
        membership_id=membership.id,
        purpose=LinkPurpose.INVITATION.value,
        token_hash=token_hash(token),
        created_by_id=issued_by.id if issued_by is not None else None,
        created_at=at,
        expires_at=at + validity,
    )
    session.add(invitation)
    session.flush()
    return IssuedLink(invitation, token)


def issue_login_link(
    session: Session,
    email: str,
    *,
    client: str | None,
    at: datetime,
    validity: timedelta,
    address_limit: int,
    client_limit: int,
    digest_key: bytes,
) -> IssuedLink | None:
    """Issue a login link for the participant with ``email``, within the request budgets.

    Requests are counted per address (the normalised ``email``, whether or not anybody has
    it) and per client (``client``, the network address; `throttle.client_key`), in
    ``login_throttles`` so that every server process counts the same: ``address_limit``
    and ``client_limit`` requests in a row are served (`throttle.requests_policy`), then
    the address or client is locked and a request is refused with `LoginLinkLimited`
    before anything is looked up. Otherwise returns None when the address belongs to
    nobody who takes part in a declaration; the caller shows the same answer in every
    case, so neither the form nor its refusal reveals who takes part. ``digest_key`` keys
    the stored digests of the address and the client (`throttle.key_digest`).
    """
    address = normalise_email(email)
    client_key = throttle.client_key(client)
    # The address's row first, then the client's: concurrent requests lock in one order.
    budgets = (
        _budget(
            session,
            LINK_ADDRESS_SCOPE,
            throttle.requests_policy(address_limit, throttle.LINK_ADDRESS_FIRST_LOCK),
            address,
            at,
            digest_key,
        ),
        _budget(
            session,
            LINK_CLIENT_SCOPE,
            throttle.requests_policy(client_limit, throttle.LINK_CLIENT_FIRST_LOCK),
            client_key,
            at,
            digest_key,
        ),
    )
    wait = max(budget.wait(at) for budget in budgets)
    if wait > throttle.NO_WAIT:
        raise LoginLinkLimited(throttle.whole_seconds(wait))
    person = session.scalar(select(Person).where(Person.email == address))
    issued = None
    if person is not None and _active_memberships(session, person.id):
        token = new_token()
        invitation = Invitation(
            person_id=person.id,
            purpose=LinkPurpose.LOGIN.value,
            token_hash=token_hash(token),
            created_at=at,
            expires_at=at + validity,
        )
        session.add(invitation)
        session.flush()
        audit.record(session, "login_link.issued", at=at, actor=person)
        issued = IssuedLink(invitation, token)
    _count_request(session, budgets, person=person, address=address, client=client_key, at=at)
    return issued


def _count_request(
    session: Session,
    budgets: Iterable[_Budget],
    *,
    person: Person | None,
    address: str,
    client: str,
    at: datetime,
) -> None:
    """Count a served login-link request against every budget; audit the locks it begins."""
    for budget in budgets:
        streak = budget.policy.fail(budget.row.streak, at)
        budget.row.store(streak)
        if streak.wait(at) <= throttle.NO_WAIT:
            continue
        # The client's network only, never its address (`privacy.network_of`).
        personal = {"client": privacy.network_of(client)}
        if budget.scope == LINK_ADDRESS_SCOPE and person is None:
            personal["email"] = address
        log.warning(
            "login links locked: %s %s after %s requests in a row, until %s",
            budget.scope,
            personal["client"] if budget.scope == LINK_CLIENT_SCOPE else _who(person),
            streak.failures,
            streak.locked_until.isoformat(),
        )
        audit.record(
            session,
            "login_link.locked",
            at=at,
            actor=person if budget.scope == LINK_ADDRESS_SCOPE else None,
            personal=personal,
            scope=budget.scope,
            requests=streak.failures,
            until=streak.locked_until.isoformat(),
        )
    session.flush()  # the updated rows first: they must not look finished to the purge
    _purge_finished_streaks(session, at)


def normalise_email(email: str) -> str:
    """Return ``email`` trimmed and lower-cased, the form it is stored in."""
    return email.strip().lower()


def _start_session(session: Session, person: Person, at: datetime, method: str) -> str:
    """Begin a login session; ``method`` (``link`` or ``password``) is kept for sign-offs."""
    raw = new_token()
    session.add(
        LoginSession(
            person_id=person.id,
            token_hash=token_hash(raw),
            created_at=at,
            last_seen_at=at,
            method=method,
        )
    )
    session.flush()
    return raw


def redeem(session: Session, token: str, *, at: datetime) -> Login:
    """Exchange a link's token for a new login session; each token works once."""
    invitation = session.scalar(
        select(Invitation).where(Invitation.token_hash == token_hash(token)).with_for_update()
    )
    if invitation is None or not is_redeemable(invitation.state, at):
        raise TokenInvalid()
    membership = invitation.membership
    if membership is not None and not membership.active:
        raise TokenInvalid()
    if membership is None and not _active_memberships(session, invitation.person_id):
        raise TokenInvalid()
    invitation.used_at = at
    person = invitation.person
    raw = _start_session(session, person, at, "link")
    audit.record(
        session,
        "login.link",
        at=at,
        actor=person,
        declaration=membership.declaration if membership is not None else None,
        purpose=invitation.purpose,
    )
    return Login(person, membership, raw)


def person_for_session(session: Session, session_token: str, *, at: datetime) -> Person | None:
    """Return the person logged in with ``session_token``, or None if it is not valid."""
    person_id = person_id_for_session(session, session_token, at=at)
    return None if person_id is None else session.get(Person, person_id)


def session_method(session: Session, session_token: str) -> str:
    """Return how the login session began (``link`` or ``password``), for a sign-off."""
    method = session.scalar(
        select(LoginSession.method).where(LoginSession.token_hash == token_hash(session_token))
    )
    return str(method or "link")


# Run by every socket connection: prepared on the driver's cursor (`declaration.prepared`).
_SESSION_PERSON = Prepared(
    select(LoginSession.id, LoginSession.person_id, LoginSession.last_seen_at).where(
        LoginSession.token_hash == bindparam("token_hash"), LoginSession.ended_at.is_(None)
    )
)
_SEEN = (
    update(LoginSession)
    .where(LoginSession.id == bindparam("session_id"))
    .values(last_seen_at=bindparam("at", type_=LoginSession.last_seen_at.type))
)


def person_id_for_session(session: Session, session_token: str, *, at: datetime) -> int | None:
    """Return the id of the person logged in with ``session_token``, or None if not valid.

    One prebuilt statement, no ORM objects: a crowd reconnecting at once makes one of
    these each, and building the ORM query would be a noticeable part of the server's
    work in such a storm. Moves the session's last-seen time once it is
    ``LAST_SEEN_RESOLUTION`` old.
    """
    row = _SESSION_PERSON.first(session.connection(), {"token_hash": token_hash(session_token)})
    if row is None:
        return None
    session_id, person_id, last_seen_at = row
    if at - last_seen_at > LAST_SEEN_RESOLUTION:
        try:
            session.connection().execute(_SEEN, {"session_id": session_id, "at": at})
        except exc.OperationalError as error:
            if not _sqlite_busy(error):
                raise
            # A reading transaction on SQLite cannot write once another connection has
            # committed since its first read (edits are committed all the time). The
            # last-seen time is bookkeeping: the next request moves it, this one goes on.
            log.info("last-seen time of login session %s not moved: database busy", session_id)
    return int(person_id)


def _sqlite_busy(error: exc.OperationalError) -> bool:
    """Whether SQLite refused a write because another connection holds or moved the lock."""
    code = getattr(error.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def logout(session: Session, session_token: str, *, at: datetime) -> None:
    """End the login session ``session_token`` (nothing happens if it already ended)."""
    session.execute(
        update(LoginSession)
        .where(
            LoginSession.token_hash == token_hash(session_token), LoginSession.ended_at.is_(None)
        )
        .values(ended_at=at)
    )


def end_all_sessions(session: Session, person_id: int, *, at: datetime) -> int:
    """End every login session of a person; return how many were open."""
    result = session.execute(
        update(LoginSession)
        .where(LoginSession.person_id == person_id, LoginSession.ended_at.is_(None))
        .values(ended_at=at)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def moderates_anything(session: Session, person: Person) -> bool:
    """Return whether ``person`` moderates something (only moderators use passwords)."""
    if person.may_create_declarations:
        return True
    return any(m.role == "moderator" for m in _active_memberships(session, person.id))


def set_password(session: Session, person: Person, password: str, *, at: datetime) -> None:
    """Set the moderator's password (argon2id)."""
    if not moderates_anything(session, person):
        raise Forbidden(N_("Nur die Moderation kann ein Passwort festlegen."))
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(N_("Das Passwort muss mindestens 12 Zeichen lang sein."))
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(N_("Das Passwort ist zu lang."))
    person.password_hash = PASSWORDS.hash(password)
    audit.record(session, "password.set", at=at, actor=person)


@dataclass(frozen=True)
class _Budget:
    """One account's or client's stored streak, locked for this transaction, and its rule."""

    scope: str
    policy: throttle.Policy
    row: LoginThrottle

    def wait(self, at: datetime) -> timedelta:
        streak = self.row.streak
        return throttle.NO_WAIT if streak is None else streak.wait(at)


def _budget(
    session: Session,
    scope: str,
    policy: throttle.Policy,
    key: str,
    at: datetime,
    digest_key: bytes,
) -> _Budget:
    """Return the streak of ``key``, its row created if need be and locked until the commit.

    Created and locked before the password is checked, so that concurrent attempts on one
    account or from one client (other greenlets, other processes) wait for each other's
    outcome instead of all passing the check before the first failure is counted.
    """
    digest = throttle.key_digest(key, digest_key)
    values = {"scope": scope, "key": digest, "failures": 0, "locked_until": at, "forgotten_at": at}
    if session.get_bind().dialect.name == "postgresql":
        session.execute(postgresql.insert(LoginThrottle).values(values).on_conflict_do_nothing())
    else:
        session.execute(sqlite.insert(LoginThrottle).values(values).on_conflict_do_nothing())
    row = session.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.scope == scope, LoginThrottle.key == digest)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return _Budget(scope, policy, row)


def _drop_finished(session: Session, budgets: Iterable[_Budget], at: datetime) -> None:
    """Delete the rows of ``budgets`` that hold no streak (any more): rows live with one."""
    for budget in budgets:
        streak = budget.row.streak
        if streak is None or streak.is_over(at):
            session.delete(budget.row)


def _purge_finished_streaks(session: Session, at: datetime) -> None:
    """Delete some rows whose streak is over, so the table holds current streaks only.

    Rows another transaction holds are skipped (PostgreSQL), not waited for: that one is
    deciding about its own keys.
    """
    finished = (
        select(LoginThrottle.scope, LoginThrottle.key)
        .where(LoginThrottle.forgotten_at <= at)
        .limit(THROTTLE_PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    session.execute(
        delete(LoginThrottle)
        .where(tuple_(LoginThrottle.scope, LoginThrottle.key).in_(finished))
        .execution_options(synchronize_session=False)
    )


def _password_matches(person: Person | None, password: str) -> bool:
    """Check ``password`` against the person's hash, with the same effort for nobody.

    Without a person or a password, the password is hashed anyway, so the time taken does
    not reveal who has a password.
    """
    if person is None or person.password_hash is None or len(password) > MAX_PASSWORD_LENGTH:
        PASSWORDS.hash(password[:MAX_PASSWORD_LENGTH])
        return False
    try:
        PASSWORDS.verify(person.password_hash, password)
    except (VerificationError, InvalidHashError):
        log.warning("failed password login for person %s", person.id)
        return False
    return True


def _count_failure(
    session: Session,
    budgets: Iterable[_Budget],
    *,
    person: Person | None,
    address: str,
    client: str,
    at: datetime,
) -> DomainError:
    """Count a failed attempt against every budget; return the refusal to raise.

    A budget whose streak now demands a lock gets an audit entry (the lock begins), and
    the answer says when to try again; otherwise the usual "does not match".
    """
    waits = []
    for budget in budgets:
        streak = budget.policy.fail(budget.row.streak, at)
        budget.row.store(streak)
        wait = streak.wait(at)
        if wait <= throttle.NO_WAIT:
            continue
        waits.append(wait)
        # The client's network (never its address, `privacy.network_of`) and a typed
        # address of nobody are personal data: kept beside the event, outside its hash
        # chain, so they can be erased.
        personal = {"client": privacy.network_of(client)}
        if budget.scope == "account" and person is None:
            personal["email"] = address
        log.warning(
            "password login locked: %s %s after %s failures in a row, until %s",
            budget.scope,
            personal["client"] if budget.scope == "client" else _who(person),
            streak.failures,
            streak.locked_until.isoformat(),
        )
        audit.record(
            session,
            "login.password_locked",
            at=at,
            actor=person if budget.scope == "account" else None,
            personal=personal,
            scope=budget.scope,
            failures=streak.failures,
            until=streak.locked_until.isoformat(),
        )
    session.flush()  # the updated rows first: they must not look finished to the purge
    _purge_finished_streaks(session, at)
    if waits:
        return PasswordLoginLocked(throttle.whole_seconds(max(waits)))
    return InvalidInput(N_("E-Mail-Adresse oder Passwort stimmen nicht."))


def _who(person: Person | None) -> str:
    """Name the account in the log by id only: no address that somebody typed."""
    return "an address nobody has" if person is None else f"person {person.id}"


def login_with_password(
    session: Session,
    email: str,
    password: str,
    *,
    client: str | None,
    at: datetime,
    digest_key: bytes,
) -> Login:
    """Log a moderator in with e-mail address and password, within the attempt budgets.

    Failed attempts are counted per account (the normalised address, whether or not
    anybody has it, so a lock reveals nobody) and per client (``client``, the network
    address the request came from; `throttle.client_key`), following the rules
    `throttle.ACCOUNT` and `throttle.CLIENT`. While either is locked the attempt is
    refused with `PasswordLoginLocked` before the password is looked at: the right
    password does not work then, and no hashing time is spent. A success clears the
    account's streak, not the client's.

    Every refusal has recorded the attempt in ``session``: the caller commits it although
    the login failed, or the failure is not counted. ``digest_key`` keys the stored
    digests of the account and the client (`throttle.key_digest`).
    """
    address = normalise_email(email)
    client_key = throttle.client_key(client)
    # Always the account's row first, then the client's: concurrent attempts lock rows in
    # the same order and cannot deadlock.
    account = _budget(session, "account", throttle.ACCOUNT, address, at, digest_key)
    source = _budget(session, "client", throttle.CLIENT, client_key, at, digest_key)
    budgets = (account, source)
    wait = max(budget.wait(at) for budget in budgets)
    if wait > throttle.NO_WAIT:
        _drop_finished(session, budgets, at)
        raise PasswordLoginLocked(throttle.whole_seconds(wait))
    person = session.scalar(select(Person).where(Person.email == address))
    if (
        not _password_matches(person, password)
        or person is None
        or not moderates_anything(session, person)
    ):
        raise _count_failure(
            session,
            budgets,
            person=person,
            address=address,
            client=client_key,
            at=at,
        )
    if person.password_hash is not None and PASSWORDS.check_needs_rehash(person.password_hash):
        person.password_hash = PASSWORDS.hash(password)
    session.delete(account.row)
    _drop_finished(session, [source], at)
    raw = _start_session(session, person, at, "password")
    audit.record(session, "login.password", at=at, actor=person)
    return Login(person, None, raw)


class LinkBuilder(Protocol):
    """Turns a token into the full link a person opens (the public base URL is the caller's)."""

    def __call__(self, token: str) -> str: ...


_MEMBER_ROLES = Prepared(  # checked for every batch of keystrokes (`declaration.prepared`)
    select(Membership.id, LoginSession.token_hash, Membership.role)
    .join(LoginSession, LoginSession.person_id == Membership.person_id)
    .where(
        Membership.id.in_(bindparam("membership_ids", expanding=True)),
        Membership.revoked_at.is_(None),
        LoginSession.token_hash.in_(bindparam("token_hashes", expanding=True)),
        LoginSession.ended_at.is_(None),
    )
)


def member_role(session: Session, membership_id: int, session_token_hash: str) -> Role:
    """Return the role of an active membership whose person is still logged in.

    The check every socket event makes: removal from the declaration and the end of the
    login session both refuse at once.
    """
    role = member_roles(session.connection(), [(membership_id, session_token_hash)])[
        (membership_id, session_token_hash)
    ]
    if isinstance(role, DomainError):
        raise role
    return role


def member_roles(
    connection: Connection, pairs: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], Role | DomainError]:
    """Check several (membership id, login session hash) pairs in one indexed query.

    Edits stored together (group commit) are authorised together: each pair gets its
    role, or the refusal `member_role` would raise for it.
    """
    wanted = set(pairs)
    rows = _MEMBER_ROLES.rows(
        connection,
        {
            "membership_ids": sorted({membership_id for membership_id, _ in wanted}),
            "token_hashes": sorted({token_hash for _, token_hash in wanted}),
        },
    )
    found: dict[tuple[int, str], Role | DomainError] = {
        (row.id, row.token_hash): Role(row.role)
        for row in rows
        if (row.id, row.token_hash) in wanted
    }
    for pair in wanted - found.keys():
        revoked = connection.scalar(select(Membership.revoked_at).where(Membership.id == pair[0]))
        found[pair] = NotAMember() if revoked is not None else NotAuthenticated()
    return found


def sessions_begun_with(session: Session, link: Invitation) -> list[LoginSession]:
    """Return the login sessions (open or ended) that were begun by opening ``link``.

    `redeem` starts the session at the very moment it marks the link used, so the session
    of a used link is the person's session created at the link's ``used_at``.
    """
    if link.used_at is None:
        return []
    return list(
        session.scalars(
            select(LoginSession).where(
                LoginSession.person_id == link.person_id,
                LoginSession.created_at == link.used_at,
            )
        )
    )
