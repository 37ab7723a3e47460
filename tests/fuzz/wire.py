"""Requests as raw bytes: valid ones with hostile header values, and protocol violations (methods,
targets, versions, header syntax, framing). Framing is always complete, so the server never has to
wait for bytes that will not come; the stalled cases live in tests/e2e/test_slow_clients.py."""
from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from tests.fuzz.values import long_text

MARK = "ECHOMARK"  # placed in header names and values; no response may quote it back
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND"}
ROUTES = ["/healthz", "/readyz", "/v1/models", "/v1/models/dall-e-3", "/v1/usage", "/v1/images/generations",
          "/v1/images/img_00/1/x.png"]
# Names whose values the gateway reads or forwards; framing headers are the protocol cases' business.
HEADER_NAMES = ["Authorization", "Idempotency-Key", "x-request-id", "Content-Type", "Content-Encoding", "Accept",
                "Accept-Encoding", "Expect", "Connection", "User-Agent", "Cookie", "X-Forwarded-For"]


@dataclass(frozen=True)
class RawRequest:
    data: bytes
    method: str
    # Bytes follow the first request (a short Content-Length): they are parsed as a second request,
    # whose "method" is body bytes, and aiohttp answers only that error.
    pipelined: bool = False

    @property
    def known_method(self) -> bool:
        return self.method in KNOWN_METHODS and not self.pipelined


def _value_bytes(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


visible = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
header_values = st.one_of(
    visible, visible.map(lambda v: MARK + v), st.text(max_size=30).filter(lambda v: "\r" not in v and "\n" not in v),
    long_text.filter(lambda v: "\x00" not in v).map(lambda v: v[:7000]),
    st.sampled_from(["Bearer pk_test_" + "A" * 40, "gzip", "deflate", "br", "100-continue", "close", "keep-alive",
                     "application/json", "text/plain", '"idem-key-12345678"', "req_img_" + "A" * 24, ""]),
)


@st.composite
def header_requests(draw: st.DrawFn, key: str) -> RawRequest:
    """A well-framed request to a route, with hostile values in the headers the gateway reads."""
    method, target = draw(st.sampled_from([("GET", r) for r in ROUTES] + [("POST", "/v1/images/generations")] * 3))
    headers = {"Authorization": f"Bearer {key}"}
    headers.update(draw(st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, max_size=4)))
    body = b'{"prompt": "header fuzz", "model": "dall-e-2", "size": "256x256"}' if method == "POST" else b""
    lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    lines += [name.encode() + b": " + _value_bytes(value) for name, value in headers.items()]
    if method == "POST":
        lines.append(f"Content-Length: {len(body)}".encode())
    return RawRequest(b"\r\n".join(lines) + b"\r\n\r\n" + body, method)


methods = st.one_of(st.sampled_from(["GET", "POST"]), st.sampled_from(["GET", "POST"]), st.sampled_from(sorted(KNOWN_METHODS)),
                    st.sampled_from(["get", "Get", "post", "FOO", "G-T", "GET\x00", "\x16\x03\x01\x00", "GET GET"]),
                    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=10))
targets = st.one_of(st.sampled_from(ROUTES), st.sampled_from(ROUTES + ["*", "http://x/healthz", "//healthz", "/%zz", "/%00", "/a b", "",
                                              "/v1/models/%2e%2e", "/v1/usage?start=%FF", "healthz"]),
                    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40).map(lambda t: "/" + t),
                    st.integers(4000, 9000).map(lambda n: "/" + "a" * n))
versions = st.sampled_from(["HTTP/1.1"] * 6 + ["HTTP/1.0", "HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "http/1.1", "HTTP/1",
                                               "HTTP/1.1 x", ""])
raw_header_names = st.one_of(st.sampled_from(HEADER_NAMES + ["Host"]), st.binary(min_size=1, max_size=12).filter(
    lambda b: b"\r" not in b and b"\n" not in b and b":" not in b).map(lambda b: b.decode("latin-1")),
    st.just(MARK + " "), st.integers(8000, 9000).map(lambda n: "X-" + MARK + "a" * n))
raw_header_values = st.one_of(header_values, st.binary(max_size=20).filter(lambda b: b"\r" not in b and b"\n" not in b)
                              .map(lambda b: MARK + b.decode("latin-1")))
FRAMINGS = ["none", "length", "length", "short length", "length and chunked", "chunked", "bad chunk size",
            "two lengths", "non-ASCII length", "unknown transfer-encoding"]


def _framing(kind: str, body: bytes) -> tuple[list[bytes], bytes]:
    """Headers and bytes after the head for `kind`; every variant is complete, none makes the server wait."""
    if kind == "length":
        return [f"Content-Length: {len(body)}".encode()], body
    if kind == "short length":  # the rest is read as the next (garbage) request
        return [f"Content-Length: {len(body) // 2}".encode()], body
    if kind == "length and chunked":
        return [f"Content-Length: {len(body)}".encode(), b"Transfer-Encoding: chunked"], body
    if kind == "chunked":  # (a chunk of size 0 is the terminator, so an empty body is just that)
        chunk = f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b""
        return [b"Transfer-Encoding: chunked"], chunk + b"0\r\n\r\n"
    if kind == "bad chunk size":
        return [b"Transfer-Encoding: chunked"], b"zz\r\n" + body + b"\r\n0\r\n\r\n"
    if kind == "two lengths":
        return [f"Content-Length: {len(body)}".encode(), f"Content-Length: {len(body) + 1}".encode()], body + b"x"
    if kind == "non-ASCII length":
        return ["Content-Length: \u0661\u0662".encode()], body
    if kind == "unknown transfer-encoding":
        return [b"Transfer-Encoding: gzip"], body
    return [], b""


@st.composite
def protocol_violations(draw: st.DrawFn) -> RawRequest:
    method = draw(methods)
    head = [f"{method} {draw(targets)} {draw(versions)}".rstrip().encode("latin-1", "replace")]
    if draw(st.booleans()) or not draw(st.booleans()):  # three in four carry a Host
        head.append(b"Host: 127.0.0.1")
    pairs = draw(st.lists(st.tuples(raw_header_names, raw_header_values), max_size=5))
    head += [_value_bytes(name) + draw(st.sampled_from([b": ", b":", b" : ", b": \t"])) + _value_bytes(value)
             for name, value in pairs]
    if draw(st.integers(0, 19)) == 0:
        head += [f"X-{MARK}-{n}: a".encode() for n in range(draw(st.integers(120, 140)))]
    body = draw(st.one_of(st.just(b'{"prompt": "wire"}'), st.binary(max_size=30)))
    kind = draw(st.sampled_from(FRAMINGS))
    framing, tail = _framing(kind, body)
    eol = draw(st.sampled_from([b"\r\n"] * 5 + [b"\n"]))
    return RawRequest(eol.join(head + framing) + eol + eol + tail, method, kind == "short length" and len(body) > 0)
