"""When the signed version may be sent to the addressee, and to whom its copies go.

Only the approved version is sent: what the mayors signed is the content of the approval,
and the file that goes out is that content's signed PDF. It goes to the e-mail address of
the recorded addressee, which is not part of the content (`domain.content` hashes the
name and the postal address only), so an approval without it is possible — then the
application cannot send and says so. A withdrawn publication is not sent any more.
"""

from __future__ import annotations

from declaration.domain.errors import (
    N_,
    AddresseeEmailMissing,
    AddresseeMissing,
    DomainError,
    SendingClosed,
)
from declaration.domain.phases import Phase


def refusal(
    *,
    phase: Phase,
    approved: bool,
    withdrawn: bool,
    addressee: str | None,
    email: str,
) -> DomainError | None:
    """Return why the approved version cannot be sent now (None: it can).

    ``addressee`` is the recorded addressee's name (None: none recorded), ``email`` its
    address. The moderation's own right to send is checked by the caller.
    """
    if phase not in (Phase.APPROVED, Phase.PUBLISHED) or not approved:
        return SendingClosed()
    if withdrawn:
        return SendingClosed(
            N_(
                "Die Veröffentlichung ist zurückgezogen. Die Erklärung wird nicht mehr an den "
                "Adressaten gesendet."
            )
        )
    if addressee is None:
        return AddresseeMissing(N_("Es ist kein Adressat festgelegt."))
    if not email:
        return AddresseeEmailMissing(name=addressee)
    return None
