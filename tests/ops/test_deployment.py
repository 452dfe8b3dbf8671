"""docs/deployment.md, run: its blocks are the commands and files these tests use.

Two gunicorn processes started from the page's systemd unit, with its environment file, on
PostgreSQL and Redis: a client on one sees the edit of a client on the other; both answer
the page's health and metrics commands and write JSON log lines; the page's nginx site
passes ``nginx -t`` and, in front of them, the WebSocket upgrade with the page's origin.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
import requests

from declaration import config
from declaration.client import DraftClient
from tests.live import free_port
from tests.ops.doc import (
    DOC,
    INSTALL,
    ROOT,
    block,
    environment_file,
    fenced_blocks,
    run_block,
    substitute,
    unit_setting,
)
from tests.realtime.test_many_processes import redis_url

__all__ = ["redis_url"]  # the fixture, shared with the other multi-process tests

pytestmark = pytest.mark.slow

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _wait_until_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        # The port takes connections before the process has loaded the application.
        with suppress(requests.ConnectionError, requests.Timeout):
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{base} did not become healthy:\n{log.read_text()}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# -- the page itself -----------------------------------------------------------------------


def test_every_block_of_the_page_is_named_and_run_by_a_test():
    blocks = fenced_blocks()
    tests = "".join(path.read_text("utf-8") for path in Path(__file__).parent.glob("*.py"))

    unnamed = [body for _, name, body in blocks if name is None]
    assert unnamed == [], "every block of docs/deployment.md needs a test=NAME"
    for _, name, _ in blocks:
        assert f'"{name}"' in tests, f"no test runs the block test={name}"


def test_the_environment_file_sets_only_settings_the_server_knows():
    assert set(environment_file()) <= set(config.ENVIRONMENT)


def test_the_processes_enabled_are_the_ones_behind_the_proxy():
    enabled = set(re.findall(r"erklaerung@(\d+)\.service", DOC.read_text("utf-8")))
    upstream = set(re.findall(r"server 127\.0\.0\.1:(\d+);", block("nginx-site")))

    assert enabled == upstream and len(enabled) >= 2


def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: run `make deployment-deps` (package systemd).")
    environment = tmp_path / "env"
    environment.write_text(block("environment"))
    unit = substitute(
        block("systemd-unit"), {"/etc/erklaerung/env": str(environment), INSTALL: str(ROOT)}
    )
    # An instance of the template: `verify` reads the file as that instance's unit.
    path = tmp_path / "erklaerung@5001.service"
    path.write_text(unit)

    checked = subprocess.run(
        [analyze, "verify", "--man=no", str(path)], capture_output=True, text=True
    )

    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip() == "", checked.stderr


def test_the_single_process_commands_serve(tmp_path):
    port = free_port()
    script = substitute(block("single-process"), {"--port 5000": f"--port {port}"})
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "DECLARATION_INSTANCE_PATH": str(tmp_path / "instance"),
        "DECLARATION_DATABASE_URL": "",
        "DECLARATION_MESSAGE_QUEUE_URL": "",
    }
    with open(log, "wb") as output:
        process = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_healthy(base, process, log)
            health = requests.get(f"{base}/healthz", timeout=5).json()
        finally:
            _stop(process)

    assert health == {"status": "ok", "database": "ok", "queue": "not_configured"}
    assert (tmp_path / "instance" / "declaration.sqlite3").exists()


# -- two gunicorn processes from the unit --------------------------------------------------


@pytest.fixture(scope="module")
def deployment(redis_url, database_url, tmp_path_factory) -> Iterator[dict]:
    """Start the unit's ExecStart for two ports, with the page's environment file."""
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL: DECLARATION_TEST_DATABASE_URL (make test-postgres)")
    folder = tmp_path_factory.mktemp("deployment")
    ports = [free_port(), free_port()]
    env = {
        **os.environ,
        **environment_file(),
        # This machine's database, queue and address instead of the page's examples.
        "DECLARATION_DATABASE_URL": database_url,
        "DECLARATION_MESSAGE_QUEUE_URL": redis_url,
        "DECLARATION_MESSAGE_QUEUE_CHANNEL": f"deployment-{ports[0]}",
        "DECLARATION_PUBLIC_BASE_URL": f"http://127.0.0.1:{ports[0]}",
        "DECLARATION_INSTANCE_PATH": str(folder / "instance"),
        # What a process started from a `flask` command inherits (and what the suite's
        # command-line tests leave behind): the processes still serve in gevent mode.
        "FLASK_RUN_FROM_CLI": "true",
    }
    places = {INSTALL: str(ROOT)}
    workdir = substitute(unit_setting("WorkingDirectory"), places)
    migrated = subprocess.run(
        [".venv/bin/declaration", "db", "upgrade"], cwd=workdir, env=env, capture_output=True
    )
    assert migrated.returncode == 0, migrated.stderr
    processes = []
    logs = []
    try:
        for port in ports:
            argv = shlex.split(substitute(unit_setting("ExecStart"), {"%i": str(port), **places}))
            log = folder / f"gunicorn-{port}.log"
            with open(log, "wb") as output:
                process = subprocess.Popen(
                    argv,
                    cwd=workdir,
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            processes.append(process)
            logs.append(log)
            _wait_until_healthy(f"http://127.0.0.1:{port}", process, log)
        yield {"ports": ports, "logs": logs, "folder": folder}
    finally:
        for process in processes:
            _stop(process)


def _metric(port: int, line_start: str) -> float:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    (line,) = [line for line in text.splitlines() if line.startswith(line_start + " ")]
    return float(line.rsplit(" ", 1)[1])


def test_a_client_on_one_gunicorn_process_sees_the_edit_of_a_client_on_the_other(
    deployment, make_declaration, invite
):
    one, two = deployment["ports"]
    key, _ = make_declaration(text="Anfang.\n")
    accepted = 'declaration_edits_accepted_total{outcome="accepted"}'
    before = [_metric(port, accepted) for port in (one, two)]
    clients = []
    for port in (one, two):
        client = DraftClient(f"http://127.0.0.1:{port}", timeout=20)
        client.login(invite(key))
        client.open(key)
        clients.append(client)
    first, second = clients

    first.edit(0, 0, "Von eins. ")
    first.sync(timeout=10)
    deadline = time.monotonic() + 10
    while "Von eins. " not in second.text and time.monotonic() < deadline:
        time.sleep(0.02)
    second.edit(len(second.text), 0, "Von zwei.")
    second.sync(timeout=10)
    deadline = time.monotonic() + 10
    while first.text != second.text and time.monotonic() < deadline:
        time.sleep(0.02)

    assert first.text == second.text == "Von eins. Anfang.\nVon zwei."
    after = [_metric(port, accepted) for port in (one, two)]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1]
    for client in clients:
        client.close()


def test_the_pages_health_and_metrics_commands_answer_on_each_process(deployment):
    for port in deployment["ports"]:
        place = {"127.0.0.1:5001": f"127.0.0.1:{port}"}

        health = run_block("health", place, {})
        metrics = run_block("metrics", place, {})

        assert health.returncode == 0, health.stderr
        assert json.loads(health.stdout) == {"status": "ok", "database": "ok", "queue": "ok"}
        assert metrics.returncode == 0, metrics.stderr
        assert 'declaration_edits_accepted_total{outcome="accepted"}' in metrics.stdout


def test_the_processes_write_json_lines_like_the_pages_example(
    deployment, make_declaration, invite
):
    port = deployment["ports"][0]
    key, _ = make_declaration(text="abc")
    client = DraftClient(f"http://127.0.0.1:{port}", timeout=20)
    token = invite(key)
    client.login(token)
    client.open(key)
    refused = client._sio.call(  # a malformed edit: refused, and logged once
        "edit",
        {"declaration": key, "client_id": "log", "seq": 1, "base": 0, "op": 17},
        namespace="/draft",
        timeout=10,
    )
    client.close()
    example = json.loads(block("log-line"))

    assert refused["error"]["code"] == "invalid_payload"
    deadline = time.monotonic() + 5
    found: list[dict] = []
    while not found and time.monotonic() < deadline:
        lines = deployment["logs"][0].read_text("utf-8").splitlines()
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        found = [e for e in entries if e.get("message", "").startswith("refused edit event")]
        time.sleep(0.05)
    (line,) = found
    # No access line with the invitation link's path (its secret) nor an address.
    assert token not in "\n".join(lines)
    assert set(line) == set(example)
    assert line["event"] == "edit" and line["level"] == "INFO"
    assert datetime.datetime.fromisoformat(line["time"]).utcoffset() == datetime.timedelta(0)


# -- nginx ---------------------------------------------------------------------------------


def _nginx() -> str:
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed: run `make deployment-deps` (Debian package nginx).")
    return NGINX


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """Write a key and a self-signed certificate for 127.0.0.1; return their paths."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = folder / "privkey.pem", folder / "fullchain.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def _nginx_conf(folder: Path, upstream: list[int]) -> tuple[Path, int, int]:
    """Write an nginx.conf around the page's site; return it and its HTTP and TLS ports."""
    key, certificate = _self_signed(folder)
    http_port, tls_port = free_port(), free_port()
    site = substitute(
        block("nginx-site"),
        {
            "listen 80;": f"listen 127.0.0.1:{http_port};",
            "listen [::]:80;": "",
            "listen 443 ssl;": f"listen 127.0.0.1:{tls_port} ssl;",
            "listen [::]:443 ssl;": "",
            "/etc/letsencrypt/live/erklaerungen.example.org/fullchain.pem": str(certificate),
            "/etc/letsencrypt/live/erklaerungen.example.org/privkey.pem": str(key),
            "127.0.0.1:5001": f"127.0.0.1:{upstream[0]}",
            "127.0.0.1:5002": f"127.0.0.1:{upstream[1]}",
        },
    )
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = folder / "nginx.conf"
    conf.write_text(
        f"pid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'};\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        "    access_log off;\n"
        f"{temp}\n"
        f"{site}\n"
        "}\n"
    )
    return conf, http_port, tls_port


def _nginx_argv(conf: Path, *more: str) -> list[str]:
    folder = conf.parent
    return [_nginx(), "-e", str(folder / "error.log"), "-p", str(folder), "-c", str(conf), *more]


def test_the_nginx_site_passes_nginx_t(tmp_path):
    conf, _, _ = _nginx_conf(tmp_path, [free_port(), free_port()])

    checked = subprocess.run(_nginx_argv(conf, "-t"), capture_output=True, text=True)

    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr and "test is successful" in checked.stderr


def test_nginx_in_front_passes_the_websocket_upgrade_from_the_pages_origin(deployment, tmp_path):
    import websocket

    conf, http_port, tls_port = _nginx_conf(tmp_path, deployment["ports"])
    certificate = str(tmp_path / "fullchain.pem")
    process = subprocess.Popen(
        _nginx_argv(conf, "-g", "daemon off; master_process off;"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"https://127.0.0.1:{tls_port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                health = requests.get(f"{base}/healthz", timeout=2, verify=certificate)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        metrics = requests.get(f"{base}/metrics", timeout=5, verify=certificate)
        plain = requests.get(f"http://127.0.0.1:{http_port}/", timeout=5, allow_redirects=False)
        socket_url = f"wss://127.0.0.1:{tls_port}/socket.io/?EIO=4&transport=websocket"
        tls = {"ca_certs": certificate}
        upgraded = websocket.create_connection(socket_url, origin=base, sslopt=tls, timeout=5)
        try:
            opening = upgraded.recv()
        finally:
            upgraded.close()
        # gevent-websocket completes the upgrade before the application looks at the
        # origin; Engine.IO then closes the socket without opening a session.
        foreign = websocket.create_connection(
            socket_url, origin="https://elsewhere.example", sslopt=tls, timeout=5
        )
        try:
            refused = foreign.recv()
        except websocket.WebSocketConnectionClosedException:
            refused = ""
        finally:
            foreign.shutdown()  # close() leaves the socket open once the server closed it
    finally:
        _stop(process)

    assert health.status_code == 200 and health.json()["queue"] == "ok"
    # gunicorn believes nginx's X-Forwarded-Proto: the server knows the page is https.
    assert health.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert metrics.status_code == 404
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
    # The Engine.IO handshake of a WebSocket passed on by nginx: "0" and the session.
    assert opening.startswith("0{") and '"sid"' in opening
    assert refused == ""
