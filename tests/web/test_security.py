"""CSRF, cookies, security headers, error pages and languages."""

from __future__ import annotations

import io

from tests.helpers import csrf_token, login, post


def test_form_without_csrf_token_is_refused(app, client, make_declaration, invite):
    key, _ = make_declaration()
    login(client, invite(key))

    response = client.post("/abmelden")

    assert response.status_code == 400
    assert "Sicherheitsprüfung" in response.get_data(as_text=True)
    assert client.get(f"/erklaerungen/{key}").status_code == 200  # still logged in


def test_csrf_token_of_another_session_is_refused(app, client, make_declaration, invite):
    key, _ = make_declaration()
    login(client, invite(key))
    foreign = csrf_token(app.test_client())
    response = client.post("/abmelden", data={"csrf_token": foreign})
    assert response.status_code == 400


def test_login_link_request_without_csrf_is_refused(client):
    assert client.post("/anmelden/link", data={"email": "a@b.example"}).status_code == 400


def test_pages_carry_the_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in {"same-origin", "no-referrer"}


def test_nothing_but_the_bundled_assets_may_be_cached(app, client, make_declaration, invite):
    key, _ = make_declaration()
    login(client, invite(key))
    for path in (
        f"/erklaerungen/{key}",  # a page
        f"/erklaerungen/{key}/urheberschaft.json",  # JSON about people
        f"/erklaerungen/{key}/gibt-es-nicht",  # an error
        "/",  # a redirect for the logged-in
    ):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "private, no-store", path
    asset = client.get("/static/dist/app.js")
    asset.close()
    assert "no-store" not in asset.headers.get("Cache-Control", "")


def test_invitation_pages_send_no_referrer(client):
    assert client.get("/einladung/abc").headers["Referrer-Policy"] == "no-referrer"


def test_session_cookie_is_http_only_and_same_site_lax(client, make_declaration, invite):
    key, _ = make_declaration()
    response = login(client, invite(key))
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http on localhost in tests


def test_cookie_is_secure_when_served_over_https(database_url, tmp_path):
    from declaration import create_app

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(tmp_path),
            "PUBLIC_BASE_URL": "https://erklaerungen.example",
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    app.extensions["declaration.db"].dispose()


def test_pages_load_nothing_from_other_origins(client, make_declaration, invite):
    key, _ = make_declaration()
    login(client, invite(key))
    for path in ("/", "/erklaerungen", f"/erklaerungen/{key}"):
        page = client.get(path, follow_redirects=True).get_data(as_text=True)
        assert "http://" not in page.replace("http://localhost", "")
        assert "https://" not in page
        assert "<script>" not in page  # no inline script


def test_not_found_page_is_german_and_friendly(client):
    response = client.get("/gibt-es-nicht")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Nicht gefunden" in page
    assert 'lang="de"' in page


def test_server_error_page_is_german_and_reveals_nothing(app, client):
    @app.get("/kaputt")
    def broken() -> str:
        raise RuntimeError("geheime Einzelheit")

    response = client.get("/kaputt")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Ein Fehler ist aufgetreten" in page
    assert "geheime Einzelheit" not in page


def test_interface_switches_to_english_and_back(client):
    response = post(client, "/sprache", {"lang": "en", "next": "/"})
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert 'lang="en"' in page
    assert "Sign in" in page or "sign in" in page
    post(client, "/sprache", {"lang": "de", "next": "/"})
    assert 'lang="de"' in client.get("/").get_data(as_text=True)


def test_language_switch_never_redirects_to_another_site(client):
    response = post(client, "/sprache", {"lang": "en", "next": "https://evil.example/"})
    assert response.location == "/"
    response = post(client, "/sprache", {"lang": "en", "next": "//evil.example/"})
    assert response.location == "/"


def test_a_form_field_whose_name_cannot_be_read_is_refused_as_a_bad_request(client, caplog):
    # A field named with a lone backslash: its quoted name in the multipart header ends
    # in an escaped quote, so the form holds it under no name at all.
    data = {"\\": "", "file": (io.BytesIO(b"Inhalt"), "brief.md")}

    response = client.post("/anmelden", data=data, content_type="multipart/form-data")

    assert response.status_code == 400
    assert "unexpected error" not in caplog.text
