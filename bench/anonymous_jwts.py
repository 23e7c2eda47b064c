#!/usr/bin/env python3
"""Device keys and signed anonymous-request JWTs for bench/anonymous.sh.

  anonymous_jwts.py BASE CLIENT_ID KEYS COUNT THREADS OUT_PREFIX

Makes KEYS ES256 device keys and signs each up once through the grant (returning users),
then fetches COUNT fresh challenges and writes, round-robin over THREADS files
OUT_PREFIX.<n>, one form body per line: the grant with a JWT that one of the keys signed
over one challenge. Each body can be used once (a challenge is single use) and within
five minutes (its lifetime)."""
import base64, http.client, json, sys, time, urllib.parse
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

GRANT = "urn:authgear:params:oauth:grant-type:anonymous-request"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Key:
    def __init__(self, n):
        self.kid = "bench-key-%08d-%d" % (n, time.time_ns() % 1_000_000)
        self.sk = ec.generate_private_key(ec.SECP256R1())
        nums = self.sk.public_key().public_numbers()
        self.jwk = {"kty": "EC", "crv": "P-256", "kid": self.kid,
                    "x": b64(nums.x.to_bytes(32, "big")), "y": b64(nums.y.to_bytes(32, "big"))}

    def jwt(self, challenge):
        now = int(time.time())
        header = {"typ": "vnd.authgear.anonymous-request", "kid": self.kid, "alg": "ES256", "jwk": self.jwk}
        claims = {"iat": now, "exp": now + 300, "challenge": challenge, "action": "auth"}
        msg = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
        r, s = decode_dss_signature(self.sk.sign(msg.encode(), ec.ECDSA(hashes.SHA256())))
        return msg + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def main():
    base, client, nkeys, count, threads, out = sys.argv[1:7]
    host = urllib.parse.urlparse(base).netloc
    conn = http.client.HTTPConnection(host)

    def post(path, body, ctype):
        conn.request("POST", path, body, {"content-type": ctype})
        res = conn.getresponse()
        data = res.read()
        if res.status != 200:
            sys.exit("%s: %d %s" % (path, res.status, data[:200]))
        return json.loads(data)

    def challenge():
        return post("/oauth2/challenge", '{"purpose":"anonymous_request"}', "application/json")["result"]["token"]

    def body(key):
        return urllib.parse.urlencode({"grant_type": GRANT, "client_id": client, "jwt": key.jwt(challenge())})

    keys = [Key(n) for n in range(int(nkeys))]
    for k in keys:
        post("/oauth2/token", body(k), "application/x-www-form-urlencoded")
    files = [open("%s.%d" % (out, t), "w") for t in range(int(threads))]
    for i in range(int(count)):
        files[i % len(files)].write(body(keys[i % len(keys)]) + "\n")
    for f in files:
        f.close()


main()
