#!/usr/bin/env python3
"""Writes the webhook vectors in this folder (one JSON file per case).

An independent implementation of the signature algorithm (API reference §8.3) with Python's
standard library, so the Rust verifier is checked against something it does not share code with.
The two known-answer vectors of §8.4 are asserted below before anything is written.

Run from this folder: `python3 generate.py`. Each file holds:
  description      what the case shows
  secrets          {api_key: [base64 secret, ...]}
  now              Unix seconds (may be negative: before 1970)
  tolerance_secs   optional, default 300
  expected_endpoint optional
  headers          {name: value}; names in any case
  body             the raw body as UTF-8 text
  expect           {"error": {"kind": ..., ...details}} or {"event": {"variant": ..., ...fields}}
                   plus "signature_ok": whether verify_signature alone accepts the request
"""
import base64, hashlib, hmac, json, os

API_KEY = "Lp0g+cwb19eEfTn1YIOydEnqPcZOg8YxHctnMe+1cQA="
SECRET = "uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E="
OTHER_KEY = "other-api-key"
OTHER_SECRET = base64.b64encode(b"a second, unrelated secret key!!").decode()
ROTATED_SECRET = base64.b64encode(b"the new secret after rotation").decode()
NOW = 1_700_000_000
EP = "/webhooks/identity/sessions"


def signature(secret, ts, endpoint, body):
    mac = hmac.new(base64.b64decode(secret), ts.encode() + endpoint.encode() + body.encode(), hashlib.sha256)
    return "hmac-sha256 " + base64.b64encode(mac.digest()).decode()


assert signature(SECRET, "1700000000", "/webhooks/identity/sessions", '{"id":"iss-123","status":"VALIDATED"}') \
    == "hmac-sha256 JoGyuWrhnlXQTCenRej5MVnolkroEtek63ESCjDEXdg="
assert signature(SECRET, "1700000000", "/transactions/adjustments/credit", "") \
    == "hmac-sha256 GrPfZok+HlPRG+QxLSuAKbMpRR65vJzPHU8llD2ImEY="

SESSION = json.dumps({
    "event_id": "evt-001", "event_type": "identity.session.status_changed",
    "created_at": "2023-11-14T22:13:20Z",
    "data": {"session_id": "iss-AAAA", "user_id": "usr-BBBB", "status": "VALIDATED", "reason": None,
             "country": "ARG", "flow_type": "kyc-accounts"}}, separators=(",", ":"))
NOT_VALIDATED = json.dumps({
    "event_id": "evt-002", "event_type": "identity.session.status_changed",
    "created_at": "2023-11-14T22:13:20Z",
    "data": {"session_id": "iss-CCCC", "user_id": "usr-DDDD", "status": "NOT_VALIDATED",
             "reason": "identity card expired", "country": "BRA", "flow_type": "kyc-cards"}}, indent=2)
REQUIRED = json.dumps({
    "event_id": "evt-003", "event_type": "identity.session.required_file",
    "created_at": "2023-11-14T22:13:20Z",
    "data": {"session_id": "iss-EEEE", "user_id": "usr-FFFF", "entity_id": "usr-FFFF",
             "required_documents": ["identity-card-back", "selfie"], "reason": "back side unreadable"}})

cases = {}


def case(name, description, expect, *, body=SESSION, ts=str(NOW), endpoint=EP, api_key=API_KEY,
         sign_with=SECRET, sig=None, secrets=None, now=NOW, drop=(), override=None, **extra):
    headers = {
        "X-Api-Key": api_key,
        "X-Signature": sig if sig is not None else signature(sign_with, ts, endpoint, body),
        "X-Timestamp": ts,
        "X-Endpoint": endpoint,
    }
    headers.update(override or {})
    for h in drop:
        del headers[h]
    cases[name] = dict(description=description, secrets=secrets if secrets is not None else {API_KEY: [SECRET]}, now=now,
                       headers=headers, body=body, expect=expect, **extra)


def err(kind, signature_ok=False, **details):
    return {"error": dict(kind=kind, **details), "signature_ok": signature_ok}


def ev(variant, **fields):
    return {"event": dict(variant=variant, **fields), "signature_ok": True}


# Known answers from the API reference §8.4.
case("kat-1", "Reference §8.4 vector 1: the signature header is exactly as published",
     ev("validation_session", session_id="iss-123", status="VALIDATED"),
     body='{"id":"iss-123","status":"VALIDATED"}', endpoint="/webhooks/identity/sessions",
     sig="hmac-sha256 JoGyuWrhnlXQTCenRej5MVnolkroEtek63ESCjDEXdg=", kat=True)
case("kat-2", "Reference §8.4 vector 2: empty body; the signature verifies, the empty body is not JSON",
     err("invalid_json", signature_ok=True, line=1, column=0),
     body="", endpoint="/transactions/adjustments/credit",
     sig="hmac-sha256 GrPfZok+HlPRG+QxLSuAKbMpRR65vJzPHU8llD2ImEY=", kat=True)

# Accepted events.
case("accept-session-validated", "Simulator's validation session notification, VALIDATED",
     ev("validation_session", session_id="iss-AAAA", user_id="usr-BBBB", status="VALIDATED", reason=None,
        country="ARG", flow_type="kyc-accounts", event_id="evt-001",
        event_type="identity.session.status_changed", created_at="2023-11-14T22:13:20Z"),
     expected_endpoint=EP)
case("accept-session-not-validated", "NOT_VALIDATED with its reason; pretty-printed body signed as is",
     ev("validation_session", session_id="iss-CCCC", user_id="usr-DDDD", status="NOT_VALIDATED",
        reason="identity card expired", country="BRA", flow_type="kyc-cards", event_id="evt-002"),
     body=NOT_VALIDATED)
case("accept-required-file", "Required file notification with two documents",
     ev("required_file", session_id="iss-EEEE", user_id="usr-FFFF", entity_id="usr-FFFF",
        required_documents=["identity-card-back", "selfie"], reason="back side unreadable",
        event_type="identity.session.required_file"),
     body=REQUIRED, endpoint="/webhooks/identity/files")
case("accept-unknown-shape", "JSON of an unknown shape is an Other event, not an error",
     ev("other", event_type="identity.session.archived", event_id="evt-004"),
     body='{"event_id":"evt-004","event_type":"identity.session.archived","data":{"x":1}}')
case("accept-json-scalar", "Any JSON value is accepted as Other",
     ev("other"), body="42")
case("accept-lowercase-header-names", "Header names are case-insensitive",
     ev("validation_session", session_id="iss-AAAA", status="VALIDATED"))
cases["accept-lowercase-header-names"]["headers"] = {
    k.lower(): v for k, v in cases["accept-lowercase-header-names"]["headers"].items()}
case("accept-window-edge-past", "Signed exactly 300 s before now: inside the window",
     ev("validation_session", session_id="iss-AAAA"), ts=str(NOW - 300))
case("accept-window-edge-future", "Signed exactly 300 s after now: inside the window",
     ev("validation_session", session_id="iss-AAAA"), ts=str(NOW + 300))
case("accept-custom-tolerance", "A 1-hour window accepts a 3000 s old webhook",
     ev("validation_session", session_id="iss-AAAA"), ts=str(NOW - 3000), tolerance_secs=3600)
case("accept-rotated-secret", "Two secrets for the api key; signed with the second",
     ev("validation_session", session_id="iss-AAAA"), sign_with=ROTATED_SECRET,
     secrets={API_KEY: [SECRET, ROTATED_SECRET]})
case("accept-second-api-key", "Two api keys; the webhook names and uses the second",
     ev("validation_session", session_id="iss-AAAA"), api_key=OTHER_KEY, sign_with=OTHER_SECRET,
     secrets={API_KEY: [SECRET], OTHER_KEY: [OTHER_SECRET]})
case("accept-leading-zero-timestamp", "Leading zeros are digits like any other; they are signed as sent",
     ev("validation_session", session_id="iss-AAAA"), ts="0" + str(NOW))
case("accept-endpoint-with-query", "X-Endpoint is the path with its query; expected must match it whole",
     ev("validation_session", session_id="iss-AAAA"), endpoint=EP + "?tenant=7", expected_endpoint=EP + "?tenant=7")

# One or more cases per rejection reason.
for h in ["X-Api-Key", "X-Signature", "X-Timestamp", "X-Endpoint"]:
    case(f"reject-missing-{h.lower()}", f"{h} absent", err("missing_header", name=h), drop=[h])
case("reject-missing-all", "No webhook header at all: the first in check order is named",
     err("missing_header", name="X-Api-Key"), drop=["X-Api-Key", "X-Signature", "X-Timestamp", "X-Endpoint"])
case("reject-algorithm-sha512", "Another algorithm", err("unsupported_algorithm"),
     sig=signature(SECRET, str(NOW), EP, SESSION).replace("hmac-sha256", "hmac-sha512"))
case("reject-algorithm-uppercase", "The token is case-sensitive, as Pomelo sends it", err("unsupported_algorithm"),
     sig=signature(SECRET, str(NOW), EP, SESSION).replace("hmac-sha256", "HMAC-SHA256"))
case("reject-algorithm-bare-mac", "The MAC without the algorithm token", err("unsupported_algorithm"),
     sig=signature(SECRET, str(NOW), EP, SESSION).removeprefix("hmac-sha256 "))
HEX = hmac.new(base64.b64decode(SECRET), (str(NOW) + EP + SESSION).encode(), hashlib.sha256).hexdigest()
case("accept-signature-hex", "The digest in lowercase hex (third-party docs), the same 32 bytes as base64 (decision 9)",
     ev("validation_session", session_id="iss-AAAA"), sig="hmac-sha256 " + HEX)
case("accept-signature-hex-uppercase", "Hex digits in either case",
     ev("validation_session", session_id="iss-AAAA"), sig="hmac-sha256 " + HEX.upper())
case("reject-signature-hex-short", "Hex one digit short", err("malformed_signature"),
     sig="hmac-sha256 " + HEX[:-1])
case("reject-signature-hex-bad-digit", "A non-hex character among 64", err("malformed_signature"),
     sig="hmac-sha256 " + HEX[:-1] + "g")
case("reject-signature-hex-tampered", "A hex digest of another body is a mismatch, not malformed",
     err("signature_mismatch"),
     sig="hmac-sha256 " + hmac.new(base64.b64decode(SECRET), (str(NOW) + EP + SESSION + " ").encode(), hashlib.sha256).hexdigest())
case("reject-signature-unpadded", "Base64 without its padding", err("malformed_signature"),
     sig=signature(SECRET, str(NOW), EP, SESSION).rstrip("="))
case("reject-signature-empty", "Nothing after the algorithm", err("malformed_signature"), sig="hmac-sha256 ")
case("reject-timestamp-iso", "An RFC 3339 date instead of Unix seconds", err("malformed_timestamp"),
     ts="2023-11-14T22:13:20Z")
case("reject-timestamp-signed", "A sign is not a digit", err("malformed_timestamp"), ts="+" + str(NOW))
case("reject-timestamp-fraction", "Fractional seconds", err("malformed_timestamp"), ts=str(NOW) + ".5")
case("reject-timestamp-overflow", "More digits than a u64 holds", err("malformed_timestamp"),
     ts="18446744073709551616")
case("reject-stale", "Signed 301 s before now", err("stale", age_secs=301), ts=str(NOW - 301))
case("reject-stale-bad-mac", "Freshness is checked before the MAC", err("stale", age_secs=3600),
     ts=str(NOW - 3600), sign_with=OTHER_SECRET)
case("reject-future", "Signed 301 s after now", err("future", ahead_secs=301), ts=str(NOW + 301))
case("reject-future-milliseconds", "Milliseconds read as seconds are far in the future",
     err("future", ahead_secs=NOW * 1000 - NOW), ts=str(NOW * 1000))
case("reject-future-before-epoch", "A clock before 1970 must not overflow", err("future", ahead_secs=NOW + 1000),
     now=-1000)
case("reject-future-u64-max", "The largest timestamp must not overflow", err("future", ahead_secs=18446744073709551615 - NOW),
     ts="18446744073709551615")
case("reject-endpoint-trailing-slash", "X-Endpoint must equal the expected endpoint byte for byte",
     err("endpoint_mismatch"), endpoint=EP + "/", expected_endpoint=EP)
case("reject-endpoint-other-route", "A webhook signed for another route", err("endpoint_mismatch"),
     endpoint="/webhooks/identity/files", expected_endpoint=EP)
case("reject-endpoint-before-api-key", "Endpoint is checked before the api key", err("endpoint_mismatch"),
     endpoint="/elsewhere", expected_endpoint=EP, api_key="nobody")
case("reject-unknown-api-key", "An api key with no secret", err("unknown_api_key"), api_key="nobody")
case("reject-api-key-case", "Api keys are compared exactly", err("unknown_api_key"), api_key=API_KEY.lower())
case("reject-api-key-empty-keyring", "No secrets configured at all", err("unknown_api_key"), secrets={})
case("reject-body-tampered", "Body changed after signing", err("signature_mismatch"),
     sig=signature(SECRET, str(NOW), EP, SESSION.replace("VALIDATED", "NOT_VALIDATED")))
case("reject-wrong-secret", "Signed with another secret", err("signature_mismatch"), sign_with=OTHER_SECRET)
case("reject-secret-of-other-api-key", "Signed with the secret of another configured api key",
     err("signature_mismatch"), sign_with=OTHER_SECRET, secrets={API_KEY: [SECRET], OTHER_KEY: [OTHER_SECRET]})
case("reject-endpoint-changed-no-expected", "Without an expected endpoint, a changed X-Endpoint breaks the MAC",
     err("signature_mismatch"), sig=signature(SECRET, str(NOW), "/other", SESSION))
case("reject-timestamp-changed-in-window", "A changed timestamp still inside the window breaks the MAC",
     err("signature_mismatch"), sig=signature(SECRET, str(NOW - 1), EP, SESSION))
case("reject-undecoded-secret-key", "HMAC keyed with the secret's base64 text instead of its bytes (third-party hint)",
     err("signature_mismatch"),
     sig="hmac-sha256 " + base64.b64encode(hmac.new(SECRET.encode(), (str(NOW) + EP + SESSION).encode(), hashlib.sha256).digest()).decode())
case("reject-invalid-json", "Authentic but not JSON: invalid_json, never a signature error",
     err("invalid_json", signature_ok=True, line=1, column=2), body="not json")
case("reject-truncated-json", "Authentic, truncated JSON: the position is reported",
     err("invalid_json", signature_ok=True, line=2, column=8), body='{"data":\n {"id": ')

here = os.path.dirname(os.path.abspath(__file__))
for old in os.listdir(here):
    if old.endswith(".json"):
        os.remove(os.path.join(here, old))
for name, data in sorted(cases.items()):
    with open(os.path.join(here, name + ".json"), "w") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")
print(f"wrote {len(cases)} vectors")
