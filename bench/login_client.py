"""Complete password logins through the real routes, one after another, on one
keep-alive connection: the authorization request (which answers with the login page),
the password, the code's exchange. Used by bench/login_instructions.sh, where a load generator's timing
does not matter but a fixed number of logins does.

    python3 bench/login_client.py PORT CLIENT_ID LOGIN_ID PASSWORD N
"""

import base64
import hashlib
import http.client
import re
import sys
import urllib.parse

port, client, login_id, password, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
verifier = "bench-verifier-bench-verifier-bench-verifier-0123"
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
redirect = "http://127.0.0.1:9/cb"
form = {"Content-Type": "application/x-www-form-urlencoded"}
conn = http.client.HTTPConnection("127.0.0.1", int(port))


def call(method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    res = conn.getresponse()
    return res.status, res.headers, res.read().decode()


def cookie(headers, name):
    for value in headers.get_all("set-cookie") or []:
        if value.startswith(name + "="):
            return value.split(";", 1)[0]
    return None


def login():
    query = urllib.parse.urlencode({
        "response_type": "code", "scope": "openid", "client_id": client, "redirect_uri": redirect,
        "code_challenge": challenge, "code_challenge_method": "S256", "state": "s",
    })
    # The authorization request answers with the login page itself.
    status, headers, page = call("GET", "/oauth2/authorize?" + query)
    assert status == 200, status
    fields = {k: v.replace("&#x2f;", "/").replace("&amp;", "&")
              for k, v in re.findall(r'name="(csrf|flow)" value="([^"]+)"', page)}
    body = urllib.parse.urlencode({**fields, "login_id": login_id, "password": password})
    status, headers, _ = call("POST", "/login", body, {**form, "Cookie": cookie(headers, "ag_csrf")})
    assert status == 303 and cookie(headers, "ag_session"), status
    code = urllib.parse.parse_qs(urllib.parse.urlparse(headers["location"]).query)["code"][0]
    body = urllib.parse.urlencode({
        "grant_type": "authorization_code", "client_id": client, "redirect_uri": redirect,
        "code_verifier": verifier, "code": code,
    })
    status, _, tokens = call("POST", "/oauth2/token", body, form)
    assert status == 200 and '"id_token"' in tokens, (status, tokens)


for _ in range(n):
    login()
print(f"logins={n}")
