"""Verifies SigV4 signatures with botocore, independently of stsgate's Rust signer.

Reads a JSON list of requests on stdin; each has method, url, headers, body_b64, secret,
service and region. Prints one line per request and exits non-zero if any signature differs.
"""
import base64
import json
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def verify(r):
    headers = {k.lower(): v for k, v in r["headers"].items()}
    auth = headers["authorization"]
    fields = dict(p.split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(", "))
    signed = fields["SignedHeaders"].split(";")
    access_key = fields["Credential"].split("/")[0]
    req = AWSRequest(
        method=r["method"],
        url=r["url"],
        headers={h: headers[h] for h in signed},
        data=base64.b64decode(r["body_b64"]),
    )
    req.context["timestamp"] = headers["x-amz-date"]
    creds = Credentials(access_key, r["secret"], headers.get("x-amz-security-token"))
    signer = SigV4Auth(creds, r["service"], r["region"])
    if sorted(signer.headers_to_sign(req).keys()) != sorted(signed):
        return False, "signed header set differs: %s" % sorted(signer.headers_to_sign(req).keys())
    canonical = signer.canonical_request(req)
    expected = signer.signature(signer.string_to_sign(req, canonical), req)
    return expected == fields["Signature"], canonical


def main():
    failures = 0
    for r in json.load(sys.stdin):
        ok, detail = verify(r)
        print("%s %s %s" % ("ok" if ok else "MISMATCH", r["method"], r["url"]))
        if not ok:
            failures += 1
            print(detail)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
