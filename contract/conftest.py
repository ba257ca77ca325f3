"""Starts didpool on a free loopback port with a fresh SQLite database and an operator token,
stocks it and creates accounts through the admin API, and points the official Vobiz SDK at it.

Environment: DIDPOOL_BIN (default target/debug/didpool). After the session, `didpool check`
must pass on the database the tests used.
"""

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
import vobiz
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parent.parent
BIN = os.environ.get("DIDPOOL_BIN", str(ROOT / "target" / "debug" / "didpool"))
ADMIN_TOKEN = "contract-admin-token"
VOBIZ = "https://api.vobiz.ai"

# Inventory: 20 Bangalore numbers, 10 INR setup + 100 INR monthly.
STOCK = [f"+9180411{i:05d}" for i in range(20)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, base, db_url):
        self.base = base
        self.db_url = db_url
        self.admin = requests.Session()
        self.admin.trust_env = False
        self.admin.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"

    def account(self, balance, role="customer"):
        r = self.admin.post(
            f"{self.base}/admin/v1/accounts",
            json={"name": "Contract", "role": role, "balance": balance, "currency": "INR"},
        )
        assert r.status_code == 201, r.text
        return r.json()["auth_id"], r.json()["auth_token"]

    def report_call(self, e164):
        r = self.admin.post(f"{self.base}/admin/v1/calls", json={"e164": e164})
        assert r.status_code == 200, r.text


@pytest.fixture(scope="session")
def server():
    tmp = tempfile.mkdtemp(prefix="didpool-contract-")
    db_url = f"sqlite://{tmp}/contract.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, DIDPOOL_LOG="warn")
    log = open(os.path.join(tmp, "server.log"), "w")
    # Creating a database is an explicit act: `serve` refuses a missing one.
    subprocess.run([BIN, "--database-url", db_url, "migrate"], check=True,
                   stdout=subprocess.DEVNULL)
    proc = subprocess.Popen(
        [BIN, "--database-url", db_url, "serve", "--listen", f"127.0.0.1:{port}",
         "--admin-token", ADMIN_TOKEN],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    try:
        for _ in range(100):
            try:
                if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"didpool exited: {open(log.name).read()}")
            time.sleep(0.1)
        srv = Server(base, db_url)
        csv = "e164,country,region,setup_fee,monthly_fee,currency\n" + "".join(
            f"{n},IN,Karnataka,10,100,INR\n" for n in STOCK
        )
        r = srv.admin.post(f"{base}/admin/v1/inventory", data=csv,
                           headers={"Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
        yield srv
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
    check = subprocess.run([BIN, "--database-url", db_url, "check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, f"didpool check failed:\n{check.stdout}{check.stderr}"


class Redirect(HTTPAdapter):
    """Rewrites the SDK's https://api.vobiz.ai URLs to the local server (reference §11.4 A)."""

    def __init__(self, base):
        super().__init__()
        self.base = base

    def send(self, request, **kw):
        request.url = request.url.replace(VOBIZ, self.base, 1)
        return super().send(request, **kw)


def sdk_client(server, auth_id, auth_token):
    c = vobiz.RestClient(auth_id, auth_token)
    for s in (c.session, c.multipart_session):
        s.trust_env = False
        s.mount(VOBIZ, Redirect(server.base))
    return c


@pytest.fixture
def client_for(server):
    return lambda auth_id, token: sdk_client(server, auth_id, token)
