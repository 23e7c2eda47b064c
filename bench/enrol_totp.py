#!/usr/bin/env python3
"""Enrols an authenticator app (TOTP) for each user through the settings forms, as a person
would: sign in with the password, open /settings/totp, read the otpauth:// URI and confirm
it with the current code. Then writes, per user, the codes of the next STEPS time steps, so
that a load script without HMAC-SHA1 (wrk's Lua) can sign in with them.

    bench/enrol_totp.py BASE_URL PASSWORD LOGIN_IDS_FILE OUT_FILE [STEPS] [THREADS]

OUT_FILE's first line is the first step's number; then one line per user: the login ID
and its codes for that step and the following ones. The codes come from RFC 6238
(HMAC-SHA1, 6 digits, 30 s), computed here, independently of the server.
"""
import base64
import hashlib
import hmac
import html
import re
import struct
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import requests


def code(secret: bytes, step: int) -> str:
    mac = hmac.new(secret, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[19] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def hidden(page: str, name: str) -> str:
    m = re.search(r'name="%s" value="([^"]*)"' % name, page)
    if not m:
        raise RuntimeError(f"no {name} field in the page")
    return html.unescape(m.group(1))


def enrol(base: str, password: str, login_id: str) -> bytes:
    s = requests.Session()
    page = s.get(base + "/login").text
    r = s.post(base + "/login", data={"csrf": hidden(page, "csrf"), "flow": "", "login_id": login_id,
                                      "password": password})
    if r.status_code != 200:
        raise RuntimeError(f"sign-in of {login_id}: {r.status_code}")
    page = s.get(base + "/settings/totp").text
    uri = html.unescape(re.search(r"otpauth://[^\"<]+", html.unescape(page)).group(0))
    b32 = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)["secret"][0]
    secret = base64.b32decode(b32 + "=" * (-len(b32) % 8))
    step = int(time.time()) // 30
    r = s.post(base + "/settings/totp", data={"csrf": hidden(page, "csrf"), "pending": hidden(page, "pending"),
                                              "display_name": "Phone", "code": code(secret, step)})
    if "The authenticator app is added." not in r.text:
        raise RuntimeError(f"enrolment of {login_id}: {r.status_code}")
    return secret


def main() -> None:
    base, password, ids_file, out = sys.argv[1:5]
    steps = int(sys.argv[5]) if len(sys.argv) > 5 else 12
    threads = int(sys.argv[6]) if len(sys.argv) > 6 else 4
    ids = [line.strip() for line in open(ids_file) if line.strip()]
    with ThreadPoolExecutor(threads) as pool:
        secrets = list(pool.map(lambda i: enrol(base, password, i), ids))
    # Every enrolment used the step it ran in; sign-ins start at the next one.
    first = int(time.time()) // 30 + 1
    with open(out, "w") as f:
        f.write(f"{first}\n")
        for login_id, secret in zip(ids, secrets):
            f.write(login_id + " " + " ".join(code(secret, first + k) for k in range(steps)) + "\n")


if __name__ == "__main__":
    main()
