"""A Python test suite that runs against `kyc mock`, the Pomelo Identity simulator, with nothing
but the standard library: what a team writing its integration in another language does.

    python3 test_kyc_mock.py                  # `kyc` on the PATH
    python3 test_kyc_mock.py --kyc ./kyc      # or give the binary (also: KYC=./kyc)

The simulator starts on a free port and prints one JSON line (base URL, test credentials,
webhook key pair, admin token); its admin API decides outcomes and injects faults. Webhooks go
to a receiver this suite runs, which checks their signatures as Pomelo documents them.
"""

import base64
import hashlib
import hmac
import http.server
import json
import os
import queue
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

KYC = os.environ.get("KYC", "kyc")
# The smallest files the simulator takes: it checks each file's leading bytes.
JPEG = b"\xff\xd8\xff\xe0 a selfie"
PNG = b"\x89PNG\r\n\x1a\n the front"
PDF = b"%PDF-1.4 the back"


class Receiver(http.server.BaseHTTPRequestHandler):
    """Takes webhooks: headers and raw body into a queue, `204`."""

    deliveries = queue.Queue()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.deliveries.put((self.headers, body))  # names case-insensitive
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def signature(secret_base64, timestamp, endpoint, body):
    """`X-Signature` as Pomelo signs it: HMAC-SHA256 over timestamp, endpoint and body."""
    key = base64.b64decode(secret_base64)
    mac = hmac.new(key, timestamp.encode() + endpoint.encode() + body, hashlib.sha256)
    return "hmac-sha256 " + base64.b64encode(mac.digest()).decode()


class KycMockTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=cls.receiver.serve_forever, daemon=True).start()
        hook = f"http://127.0.0.1:{cls.receiver.server_port}/hooks/identity"
        # --manual: sessions wait in PROCESSING until the admin API (or the console) decides.
        cls.mock = subprocess.Popen(
            [KYC, "mock", "--port", "0", "--manual", "--webhook-url", hook],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        cls.started = json.loads(cls.mock.stdout.readline())
        cls.base = cls.started["base_url"]
        cls.token = cls.call("POST", "/oauth/token", {
            "client_id": cls.started["client_id"], "client_secret": cls.started["client_secret"],
            "audience": cls.started["audience"], "grant_type": "client_credentials",
        })[1]["access_token"]

    @classmethod
    def tearDownClass(cls):
        cls.mock.terminate()  # SIGTERM: the simulator stops cleanly
        cls.mock.wait(timeout=10)
        cls.receiver.shutdown()

    @classmethod
    def call(cls, method, path, body=None, content_type="application/json", headers=None):
        """`(status, JSON body, headers)`; errors are answers too."""
        headers = dict(headers or {})
        if path.startswith("/_admin"):
            headers["x-admin-token"] = cls.started["admin_token"]
        elif not path.startswith("/oauth"):
            headers["Authorization"] = f"Bearer {cls.token}"
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        if body is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(cls.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null"), response.headers
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null"), error.headers

    def create(self, user_id):
        status, created, _ = self.call("POST", "/identity/v2/sessions", {
            "flow_type": "kyc-accounts", "country": "ARG", "integration_method": "API",
            "data": {"user_id": user_id, "personal_data": {"full_name": "Ana Souza"}},
        })
        self.assertEqual(status, 201, created)
        return created["data"]["id"]

    def upload(self, session, user_id, document, name, data, mime):
        boundary = "py-example-boundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n").encode()
        body += data + f"\r\n--{boundary}--\r\n".encode()
        path = f"/identity/v1/sessions/{session}/entities/{user_id}/files/{document}"
        status, uploaded, _ = self.call(
            "POST", path, body, f"multipart/form-data; boundary={boundary}")
        self.assertEqual(status, 201, uploaded)

    def wait_for_status(self, session, wanted):
        for _ in range(200):  # bounded: 10 s at most
            _, got, _ = self.call("GET", f"/identity/v1/sessions/{session}")
            if got["data"]["status"] == wanted:
                return got["data"]
            time.sleep(0.05)
        self.fail(f"{session} never reached {wanted}")

    def test_a_person_is_validated_by_hand_and_the_webhook_is_signed(self):
        user = "usr-python-1"
        session = self.create(user)
        self.upload(session, user, "selfie", "me.jpg", JPEG, "image/jpeg")
        self.upload(session, user, "identity-card-front", "front.png", PNG, "image/png")
        self.upload(session, user, "identity-card-back", "back.pdf", PDF, "application/pdf")
        self.wait_for_status(session, "PROCESSING")

        status, _, _ = self.call("POST", f"/_admin/sessions/{session}/outcome",
                                 {"outcome": "validated"})
        self.assertEqual(status, 200)
        self.assertEqual(self.wait_for_status(session, "VALIDATED")["reason"], None)

        headers, body = Receiver.deliveries.get(timeout=10)
        expected = signature(self.started["webhook_secret"], headers["X-Timestamp"],
                             headers["X-Endpoint"], body)
        self.assertTrue(hmac.compare_digest(headers["X-Signature"], expected))
        self.assertEqual(headers["X-Api-Key"], self.started["webhook_api_key"])
        event = json.loads(body)
        self.assertEqual(event["event_type"], "identity.session.status_changed")
        self.assertEqual((event["data"]["session_id"], event["data"]["status"]),
                         (session, "VALIDATED"))

    def test_an_injected_fault_then_success(self):
        status, _, _ = self.call("POST", "/_admin/faults", {
            "route": "create_session", "kind": "status", "status": 503, "retry_after": 1,
            "times": 1})
        self.assertEqual(status, 200)
        status, error, headers = self.call("POST", "/identity/v2/sessions", {
            "flow_type": "kyc-accounts", "country": "ARG", "integration_method": "API",
            "data": {"user_id": "usr-python-2"}})
        self.assertEqual((status, headers["Retry-After"]), (503, "1"))
        self.assertEqual(error["error"]["details"][0]["code"], "injected_fault")
        self.create("usr-python-2")  # the next attempt goes through

    def test_refused_input_says_why(self):
        status, error, _ = self.call("POST", "/identity/v2/sessions", {
            "flow_type": "kyc-accounts", "country": "ZZZ", "integration_method": "API",
            "data": {"user_id": "usr-python-3"}})
        self.assertEqual(status, 400)
        self.assertEqual(error["error"]["details"][0]["code"], "invalid_body")
        self.assertIn("country", error["error"]["details"][0]["detail"])


if __name__ == "__main__":
    if "--kyc" in sys.argv:
        at = sys.argv.index("--kyc")
        KYC = sys.argv[at + 1]
        del sys.argv[at:at + 2]
    unittest.main()
