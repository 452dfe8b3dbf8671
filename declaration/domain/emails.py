"""E-mail addresses the platform accepts: a mail goes to the address the page shows.

A mail's ``To`` header is read by the rules of RFC 5322, in which angle brackets,
parentheses, quotes, commas and the like are syntax: ``<script>x</script>@example.org``
was delivered to ``script``, and ``a@b.example><svg/onload=…>`` to ``a@b.example``, while
the pages showed the whole text. An address here is one without white space and without
those characters, with one ``@`` and a dot in its domain; every such address reads back
from a header as itself.
"""

from __future__ import annotations

import re
from typing import Final

_ATOM: Final = r"[^\s@<>()\[\]\\,;:\"]"

#: A local part of 1 to 64 characters, ``@``, a domain with a dot and a top level of two
#: or more characters.
ADDRESS: Final = re.compile(rf"^{_ATOM}{{1,64}}@{_ATOM}+\.{_ATOM}{{2,}}$")


def is_address(text: str) -> bool:
    """Whether ``text`` is an e-mail address the platform accepts (see the module)."""
    return ADDRESS.match(text) is not None
