"""Malformed forms for every POST route: never a 500, refusals change nothing.

For each POST route of the URL map (the authorisation matrix's table, which the matrix
checks against the map), hypothesis sends forms as the declaration's moderation, who may
call every one of them: the known fields of every form and unknown ones, with values of
any text, control characters, huge texts and several values for one field; as a form, as
multipart with a file, as JSON of any shape, or as raw bytes under any content type. Most
carry the page's valid CSRF token so that they reach the handler; the others carry none,
a forged one or another browser's, and are refused with 400. No answer is a 500, the
server logs no error, a refused form (4xx) leaves every table as it was, and the next page
is served.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from werkzeug.test import stream_encode_multipart

from tests.security.junk import form_text, json_junk, server_errors, shape
from tests.security.test_authorisation_matrix import ROUTES, _path
from tests.security.world import (
    World,
    browser,
    build_world,
    changes,
    log_in_again,
    settle,
    snapshot,
)

POST_ROUTES = sorted(name for name in ROUTES if name.startswith("POST "))

#: The fields of every form the application has (and the CSRF token's own name).
FIELDS = (
    "csrf_token",
    "email",
    "password",
    "password_repeat",
    "lang",
    "next",
    "title",
    "description",
    "place",
    "deadline",
    "text",
    "file",
    "notify",
    "name",
    "office",
    "municipality",
    "role",
    "send_mail",
    "revision",
    "label",
    "phase",
    "format",
    "numbers",
    "comments",
    "reason",
    "credential",
)

#: Failed logins and login-link requests are counted by design, refused or not (the
#: budgets of `services.auth`); everything else a refused form must leave as it was.
COUNTED = {
    "POST /anmelden": frozenset({"login_throttles"}),
    "POST /anmelden/link": frozenset({"login_throttles"}),
}
COUNTED_KINDS = frozenset({"login.password_locked", "login_link.locked"})

CONTENT_TYPES = (
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    "application/json",
    "application/json; charset=latin-1",
    "text/plain",
    "application/octet-stream",
    "",
)

#: Values a field may take: text of any kind, or the valid value of some form.
values = form_text | st.sampled_from(
    ["0", "1", "review", "drafting", "approved", "published", "md", "pdf", "mayor", "moderator",
     "observer", "en", "de", "2030-01-01", "9999-99-99", "/", "//evil.example", "x@y.z"]
)  # fmt: skip


@st.composite
def requests_(draw: st.DrawFn, own: list[str]) -> dict[str, Any]:
    """A request's body and headers, as ``client.post`` keywords (without the token).

    ``own`` are the route's own fields, named more often than the others.
    """
    how = draw(st.sampled_from(["form"] * 4 + ["multipart", "json", "raw"]))
    if how == "json":
        return {"json": draw(json_junk)}
    if how == "raw":
        return {
            "data": draw(st.binary(max_size=300)),
            "content_type": draw(st.sampled_from(CONTENT_TYPES)),
        }
    names = (
        st.sampled_from(own or ["csrf_token"])
        | st.sampled_from(FIELDS)
        | st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)
    )
    pairs = draw(st.lists(st.tuples(names, values), max_size=8))
    form: MultiDict[str, Any] = MultiDict(pairs)
    if how == "multipart":
        form.add(
            draw(st.sampled_from(["file", "text", "x"])),
            (
                io.BytesIO(draw(st.binary(max_size=300))),
                draw(st.sampled_from(["a.md", "a.txt", "a.exe", "", "../a.md", "ä\x00.md"])),
            ),
        )
    return {"data": form, "multipart": how == "multipart"}


@pytest.fixture
def world(app: Flask, make_declaration, invite) -> World:
    return build_world(app, make_declaration, invite)


@pytest.mark.parametrize("name", POST_ROUTES)
# One world per route, built once for all its examples: each example is checked against
# a snapshot taken just before it, so the examples need no fresh world.
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), token=st.sampled_from(["valid"] * 5 + ["none", "forged", "other"]))
def test_malformed_forms_never_fail_and_refusals_change_nothing(
    app: Flask, world: World, name: str, data: st.DataObject, token: str
):
    own = sorted(ROUTES[name].data(world))
    request = data.draw(requests_(own), label="request")
    moderator = world.actors["moderator"]
    path = _path(name.split(" ", 1)[1], ROUTES[name].args(world))
    csrf = {
        "valid": moderator.csrf,
        "none": None,
        "forged": "IjAwMDAi.aaaa.bbbb",
        "other": world.actors["anonymous"].csrf,
    }[token]
    request = _with_token(request, csrf)
    counted = COUNTED.get(name, frozenset())
    before = snapshot(app, counted=counted, counted_kinds=COUNTED_KINDS)
    with server_errors() as logged:
        response = browser(app, moderator).post(path, **request)
        response.close()
        settle(app)

        assert response.status_code < 500, (response.status_code, shape(request))
        if token != "valid":  # refused for the token, or for its size before that
            assert response.status_code in (400, 413), response.status_code
        if response.status_code >= 400:
            after = snapshot(app, counted=counted, counted_kinds=COUNTED_KINDS)
            assert changes(before, after) == {}, shape(request)
        if name == "POST /abmelden" and response.status_code < 400:
            world.actors["moderator"] = log_in_again(app, world, "moderator")
        # The next page is served.
        page = browser(app, world.actors["moderator"]).get(f"/erklaerungen/{world.key}")
        assert page.status_code == 200, page.status_code
        assert logged.take() == [], shape(request)


def _with_token(request: dict[str, Any], csrf: str | None) -> dict[str, Any]:
    """Put the token where a browser would (in a form's field, else in the header) and
    encode a multipart form here: the test client would spool a large one to a temporary
    file that it never closes."""
    data = request.get("data")
    if not isinstance(data, MultiDict):
        return request if csrf is None else {**request, "headers": {"X-CSRFToken": csrf}}
    form = data.copy()
    if csrf is not None:
        form.setlist("csrf_token", [csrf])
    if not request.get("multipart"):
        return {"data": form}
    stream, _, boundary = stream_encode_multipart(form, use_tempfile=False)
    return {
        "data": stream.getvalue(),
        "content_type": f"multipart/form-data; boundary={boundary}",
    }
