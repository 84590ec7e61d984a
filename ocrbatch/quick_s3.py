"""One small S3 read without building a botocore client.

A botocore S3 client loads and indexes S3's service model and endpoint rules before it sends
anything: ~60 ms on the 2-core dev machine, a fifth of an unchanged 5,000-file re-upload, whose only
request is one GET of a manifest. :func:`quick_get` sends that GET with botocore's own parts (its
credential chain, its SigV4 signer, its HTTP session with the same proxy and CA settings) to the
address a client would use in the two common set-ups: an S3-compatible server addressed by IP
(``AWS_ENDPOINT_URL``, path style), and AWS itself for a plain bucket name (virtual-hosted style).

Anything else (FIPS, dual-stack, a profile with endpoint or ``s3`` settings, bucket names with dots,
other partitions, any error or non-200 answer) gives None, and the caller asks a real client,
which also produces the proper error. So this can make a command faster, never wrong: the only
answer it gives is the body of a 200 from a signed request for exactly this bucket and key.
"""

from __future__ import annotations

import ipaddress
import os
import re
from urllib.parse import quote, unquote, urlsplit

# Regions of the aws and aws-cn partitions (the patterns of botocore's partitions.json).
_AWS_REGION = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$")
_CHINA_REGION = re.compile(r"^cn-\w+-\d+$")
# A bucket name usable as a host label under TLS: no dots, no S3 Express (--x-s3) suffix.
_PLAIN_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
# Profile settings that change how S3 is addressed; the quick path steps aside when any is set
# (FIPS and dual-stack are read through botocore, which also sees their environment variables).
_ADDRESSING_SETTINGS = ("endpoint_url", "services", "s3")
TIMEOUT_S = 5


def object_url(session, bucket: str, key: str) -> str | None:
    """The URL a botocore client would GET for this object, where that is unambiguous; else None."""
    if not _PLAIN_BUCKET.match(bucket) or bucket.endswith("--x-s3"):
        return None
    if any(session.get_config_variable(name) for name in ("use_fips_endpoint", "use_dualstack_endpoint")):
        return None
    profile = session.get_scoped_config()
    if any(name in profile for name in _ADDRESSING_SETTINGS):
        return None
    path = quote(key, safe="/~")
    endpoint = None
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() != "true":
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint)
        try:
            ipaddress.ip_address((parts.hostname or "").strip("[]"))
        except ValueError:
            return None  # a named host: botocore would pick virtual-hosted style, unless configured
        if parts.scheme not in ("http", "https") or parts.path.strip("/") or parts.query:
            return None
        return f"{parts.scheme}://{parts.netloc}/{bucket}/{path}"
    region = session.get_config_variable("region") or ""
    if region == "us-east-1":
        choice = os.environ.get("AWS_S3_US_EAST_1_REGIONAL_ENDPOINT") or profile.get("s3_us_east_1_regional_endpoint")
        if choice != "regional":
            return f"https://{bucket}.s3.amazonaws.com/{path}"  # botocore's default there: the global host
    if _AWS_REGION.match(region):
        return f"https://{bucket}.s3.{region}.amazonaws.com/{path}"
    if _CHINA_REGION.match(region):
        return f"https://{bucket}.s3.{region}.amazonaws.com.cn/{path}"
    return None


def quick_get(session, bucket: str, key: str) -> bytes | None:
    """The object's bytes from a 200 answer; None for anything else (missing, denied, unsure)."""
    try:
        return _signed_get(session, object_url(session, bucket, key))
    except Exception:  # noqa: BLE001 - by design: any doubt means "ask the real client"
        return None


def quick_list(session, bucket: str, prefix: str) -> list[tuple[str, int]] | None:
    """``(key, size)`` of every object under ``prefix`` (ListObjectsV2, page after page), or None
    as for :func:`quick_get`: an upload that checks its version is complete needs no client either."""
    try:
        base = object_url(session, bucket, "")
        if base is None:
            return None
        if not base.endswith(".com/") and not base.endswith(".cn/"):
            base = base.rstrip("/")  # path style: the bucket itself, as botocore addresses it
        from xml.etree import ElementTree

        found: list[tuple[str, int]] = []
        token = None
        while True:
            query = [("encoding-type", "url"), ("list-type", "2"), ("prefix", prefix)]
            if token:
                query.append(("continuation-token", token))
            body = _signed_get(session, base + "?" + "&".join(f"{k}={quote(v, safe='-_.~')}" for k, v in sorted(query)))
            if body is None:
                return None
            root = ElementTree.fromstring(body)
            ns = {"s3": root.tag[1 : root.tag.index("}")]} if root.tag.startswith("{") else {"s3": ""}
            tag = (lambda name: f"s3:{name}") if ns["s3"] else (lambda name: name)
            for item in root.findall(tag("Contents"), ns):
                found.append((unquote(item.findtext(tag("Key"), "", ns)), int(item.findtext(tag("Size"), "0", ns))))
            token = root.findtext(tag("NextContinuationToken"), None, ns)
            if root.findtext(tag("IsTruncated"), "false", ns) != "true" or not token:
                return found
    except Exception:  # noqa: BLE001 - by design: any doubt means "ask the real client"
        return None


def _signed_get(session, url: str | None) -> bytes | None:
    if url is None:
        return None
    credentials = session.get_credentials()
    if credentials is None:
        return None
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.httpsession import URLLib3Session
    from botocore.utils import get_environ_proxies

    request = AWSRequest(method="GET", url=url)
    S3SigV4Auth(credentials.get_frozen_credentials(), "s3", session.get_config_variable("region")).add_auth(request)
    http = URLLib3Session(
        verify=session.get_config_variable("ca_bundle") or os.environ.get("REQUESTS_CA_BUNDLE") or True,
        proxies=get_environ_proxies(url),
        timeout=TIMEOUT_S,
    )
    try:
        response = http.send(request.prepare())
    finally:
        http.close()
    return response.content if response.status_code == 200 else None
