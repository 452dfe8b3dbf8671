"""CSRF protection and the security headers on every response."""

from __future__ import annotations

import secrets

from flask import Flask, Response, abort, g, request
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

#: No inline script, nothing from another origin, never framed. Style elements need the
#: response's nonce: the editor (CodeMirror) inserts its styles with it.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'nonce-{nonce}'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def add_security_headers(response: Response) -> Response:
    """Set CSP, referrer, sniffing and framing headers."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY.format(nonce=csp_nonce()))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    # Invitation links carry a secret in the path: never send it on as a referrer.
    headers.setdefault(
        "Referrer-Policy", "no-referrer" if "/einladung/" in request.path else "same-origin"
    )
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not request.path.startswith("/static/"):
        # Pages, JSON and redirects are about a declaration or a person: kept by no cache,
        # shared or the browser's. The bundled assets keep their own caching.
        headers.setdefault("Cache-Control", "private, no-store")
    return response


def csp_nonce() -> str:
    """Return this response's nonce for style elements (one per request, unguessable)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    nonce: str = g.csp_nonce
    return nonce


def refuse_unnamed_form_fields() -> None:
    """Answer 400 to a form with a field that has no name, before the CSRF check reads it.

    A multipart part without a ``name`` reaches the form with the key None, on which
    Flask-WTF's search for a prefixed token fails with an exception (a 500). No form of
    ours sends such a part; only a broken or hostile client does.
    """
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and any(
        not isinstance(key, str) for key in (*request.form.keys(), *request.files.keys())
    ):
        abort(400)


def init_app(app: Flask) -> None:
    # Before CSRFProtect's own check, which runs in the order the hooks were added.
    app.before_request(refuse_unnamed_form_fields)
    csrf.init_app(app)
    app.after_request(add_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
