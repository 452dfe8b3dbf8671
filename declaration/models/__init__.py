"""SQLAlchemy models, one module per aggregate."""

from declaration.models.audit import AuditEvent
from declaration.models.base import Base
from declaration.models.comment import Comment, CommentRead
from declaration.models.declaration import Declaration, Membership
from declaration.models.invitation import Invitation, LinkPurpose
from declaration.models.mail import OutboxMail
from declaration.models.notice import Notice
from declaration.models.person import LoginSession, Person
from declaration.models.publication import Delivery, ExportFile
from declaration.models.revision import EditClient, Keyframe, NamedVersion, Revision
from declaration.models.signoff import AddresseeOption, AddresseePreference, Passkey, SignOff
from declaration.models.throttle import LoginThrottle

__all__ = [
    "AddresseeOption",
    "AddresseePreference",
    "AuditEvent",
    "Base",
    "Comment",
    "CommentRead",
    "Declaration",
    "Delivery",
    "EditClient",
    "ExportFile",
    "Invitation",
    "Keyframe",
    "LinkPurpose",
    "LoginSession",
    "LoginThrottle",
    "Membership",
    "NamedVersion",
    "Notice",
    "OutboxMail",
    "Passkey",
    "Person",
    "Revision",
    "SignOff",
]
