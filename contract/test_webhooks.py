"""didpool's webhooks checked by an implementation nobody here wrote: the Standard Webhooks
Python package (standardwebhooks==1.1.0) verifies every delivery a receiver on loopback gets,
before and after the endpoint's secret is rotated.

Environment: DIDPOOL_BIN (default target/debug/didpool).
"""

import json
import os
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from conftest import BIN, free_port

ADMIN_TOKEN = "webhook-contract-admin"
NUMBERS = [f"+9180422{i:05d}" for i in range(3)]


class Inbox(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Inbox.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def receiver():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Inbox)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    httpd.shutdown()


@pytest.fixture(scope="module")
def didpool():
    tmp = tempfile.mkdtemp(prefix="didpool-webhooks-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(os.path.join(tmp, "server.log"), "w")
    db_url = f"sqlite://{tmp}/webhooks.db"
    # Creating a database is an explicit act: `serve` refuses a missing one.
    subprocess.run([BIN, "--database-url", db_url, "migrate"], check=True,
                   stdout=subprocess.DEVNULL, env=dict(os.environ, DIDPOOL_LOG="error"))
    proc = subprocess.Popen(
        [BIN, "--database-url", db_url, "serve", "--listen",
         f"127.0.0.1:{port}", "--admin-token", ADMIN_TOKEN, "--webhook-allow-private"],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, DIDPOOL_LOG="warn"),
    )
    admin = requests.Session()
    admin.trust_env = False
    admin.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    try:
        for _ in range(100):
            try:
                if admin.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        else:
            log.flush()
            pytest.fail("didpool did not become ready: " + open(log.name).read())
        yield base, admin
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def wait_for(count, timeout=20):
    deadline = time.time() + timeout
    while len(Inbox.received) < count:
        assert time.time() < deadline, f"{len(Inbox.received)} of {count} deliveries"
        time.sleep(0.05)
    return Inbox.received[:count]


def test_every_delivery_verifies_with_the_standard_webhooks_package(didpool, receiver):
    base, admin = didpool
    r = admin.post(f"{base}/admin/v1/webhook-endpoints",
                   json={"url": receiver, "event_types": ["number.purchased", "number.released"]})
    assert r.status_code == 201, r.text
    endpoint, secret = r.json()["id"], r.json()["secret"]
    csv = "e164,country,region,setup_fee,monthly_fee,currency\n" + "".join(
        f"{n},IN,Karnataka,10,100,INR\n" for n in NUMBERS)
    assert admin.post(f"{base}/admin/v1/inventory", data=csv,
                      headers={"Content-Type": "text/csv"}).status_code == 200
    r = admin.post(f"{base}/admin/v1/accounts",
                   json={"name": "Hooks", "balance": 1000, "currency": "INR"})
    auth_id, token = r.json()["auth_id"], r.json()["auth_token"]
    vobiz = requests.Session()
    vobiz.trust_env = False
    vobiz.headers.update({"X-Auth-ID": auth_id, "X-Auth-Token": token})
    v1 = f"{base}/api/v1/Account/{auth_id}"
    buy = vobiz.post(f"{v1}/numbers/purchase-from-inventory", json={"e164": NUMBERS[0]})
    assert buy.status_code == 200, buy.text
    assert vobiz.delete(f"{v1}/numbers/%2B{NUMBERS[0][1:]}").status_code in (200, 204)

    wh = Webhook(secret)
    purchased, released = wait_for(2)
    for headers, body in (purchased, released):
        payload = wh.verify(body, headers)
        assert payload["id"] == headers["webhook-id"]
        assert payload["data"]["e164"] == NUMBERS[0]
    assert json.loads(released[1])["type"] == "number.released"
    assert json.loads(purchased[1])["data"]["number"]["account_id"] == auth_id

    # Another secret, or a changed body, does not verify.
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(released[1], released[0])
    with pytest.raises(WebhookVerificationError):
        wh.verify(released[1].replace(b"released", b"purchased"), released[0])

    # Rotated with an overlap: both the new and the old secret verify the next delivery.
    r = admin.post(f"{base}/admin/v1/webhook-endpoints/{endpoint}/rotate-secret",
                   json={"overlap_seconds": 3600})
    assert r.status_code == 201, r.text
    new_secret = r.json()["secret"]
    assert new_secret != secret
    buy = vobiz.post(f"{v1}/numbers/purchase-from-inventory", json={"e164": NUMBERS[1]})
    assert buy.status_code == 200, buy.text
    headers, body = wait_for(3)[2]
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new_secret).verify(body, headers)
    Webhook(secret).verify(body, headers)
