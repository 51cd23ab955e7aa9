#!/usr/bin/env python3
"""Writes fuzz/seeds/parse_responses/ from the response fixtures in
crates/kyc-core/tests/data/responses/, in the input layout of fuzz_targets/parse_responses.rs:
2 bytes of status (big-endian), 1 byte of header count, each header as a length byte + name and a
length byte + value, then the body. Run from the repository root after changing the fixtures."""

import glob
import json
import os

OUT = "fuzz/seeds/parse_responses"
os.makedirs(OUT, exist_ok=True)
for path in sorted(glob.glob("crates/kyc-core/tests/data/responses/*.json")):
    fixture = json.load(open(path))
    status = fixture["status"]
    headers = list(fixture.get("headers", {}).items())[:4]
    seed = bytes([status >> 8, status & 0xFF, len(headers)])
    for name, value in headers:
        name, value = name.encode(), value.encode()
        seed += bytes([len(name)]) + name + bytes([len(value)]) + value
    if "body" in fixture:
        seed += json.dumps(fixture["body"], separators=(",", ":")).encode()
    elif "body_text" in fixture:
        seed += fixture["body_text"].encode()
    name = os.path.basename(path)[: -len(".json")]
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(seed)
