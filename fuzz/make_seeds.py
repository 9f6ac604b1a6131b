#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/ (named
seed-<sha1 prefix>): values from the Django vectors
(crates/sessionkit-django/tests/data/django-vectors.json) and hand-written edge cases.
Standard library only; idempotent. The fuzzer adds its own finds beside them; only small
ones are worth committing.

    python3 fuzz/make_seeds.py
"""
import base64
import hashlib
import json
import pathlib
import struct
import zlib

ROOT = pathlib.Path(__file__).resolve().parent
VECTORS = ROOT.parent / "crates/sessionkit-django/tests/data/django-vectors.json"


def write(target, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    d = ROOT / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / ("seed-" + hashlib.sha1(data).hexdigest()[:16])).write_bytes(data)


def records():
    return json.loads(VECTORS.read_text())["records"]


def strings_in(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from strings_in(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from strings_in(v)


def signed_like(s):
    return s.count(":") >= 2 and len(s) < 4000 and " " not in s


KEY = "abcdefghijklmnopqrstuvwxyz012345"

# --- cookie_header ------------------------------------------------------------------------
cookies = [
    "",
    f"sessionid={KEY}",
    f"a=1; sessionid={KEY}; b=2",
    f"sessionid=one; sessionid={KEY}",  # the last one wins (Django)
    f"sessionid={KEY}; sessionid=short",
    f'sessionid="{KEY}"',  # quoted
    'sessionid="\\141\\142\\143\\144\\145\\146\\147\\150"',  # octal escapes: "abcdefgh"
    'sessionid="\\"\\\\"',
    'sessionid="',
    "sessionid=",
    "sessionid",
    "sessionid=1234567",  # too short: removed
    "sessionid=12345678",  # shortest possible key
    "sessionid=" + "a" * 40,
    "sessionid=" + "a" * 41,  # too long: impossible
    "sessionid=ABCDEFGHIJKLMNOP",  # wrong alphabet
    "sessionid=../../etc/passwd",
    "sessionid=abcdefgh\x00ijkl",  # control characters
    "sessionid=abc\tdefghij",
    "sessionid=\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9",  # non-ASCII, 8 chars
    " sessionid = abcdefghijkl ; x",
    ";;;=;sessionid=abcdefghijkl;;",
    "SESSIONID=abcdefghijkl",
    "sessionid=a=b=c=d=e=f=g",
    "; ".join(f"c{i}={i}" for i in range(200)) + f"; sessionid={KEY}",
]
for c in cookies:
    write("cookie_header", c)
write("cookie_header", b"sessionid=abcdefgh\xff\xfe; x=\x80")  # not UTF-8
write("cookie_header", "sessionid=" + "x" * 8300)  # over 8 KB
for r in records():
    if r["backend_or_function"] == "middleware":
        for s in strings_in(r["inputs"]):
            if "=" in s:
                write("cookie_header", s)

# --- signed_value -------------------------------------------------------------------------
# Mode 0: values as a client or a database row carries them (other secret: bad signature).
signed = set()
for r in records():
    for s in strings_in([r.get("inputs"), r.get("output")]):
        if signed_like(s):
            signed.add(s)
for s in sorted(signed):
    write("signed_value", b"\x00" + s.encode())
    # Mode 1: the same value minus its signature, re-signed with the fuzzing key.
    value = s.rsplit(":", 1)[0]
    write("signed_value", b"\x01" + value.encode())
for s in ["", ":", "::", "a:b:c", "Zmxhc2tkajphbGtkamY=", "e30:1vb66i:" + "A" * 43,
          "e30:" + "z" * 20 + ":sig", ".eJyrVkrOz8nJTFGyMjQwMNBRSs7PS8svzUtRslJKzs9NyklVqgUAqqQJGQ:1vb66i:x"]:
    write("signed_value", b"\x00" + s.encode())
bomb = base64.urlsafe_b64encode(zlib.compress(b"{" + b" " * 2_000_000 + b"}", 9)).rstrip(b"=")
write("signed_value", b"\x01." + bomb + b":1vb66i")  # a zlib bomb behind a valid signature
write("signed_value", b"\x01.eJwrSS0u0c3JTM0rSS0:1vb66i")  # truncated zlib stream
write("signed_value", b"\x01e30:-1vb66i")  # negative timestamp
write("signed_value", b"\x01e30:zzzzzzzzzzzzzzz")  # timestamp out of range
write("signed_value", b"\x01e30=:1vb66i")  # padded base64
write("signed_value", b"\x01WyJhIl0:1vb66i")  # a list, not a dict
# Mode 2: JSON texts round-tripped through dumps/loads and session encode/decode.
for t in ['{}', '{"count":1}', '{"a":[1,2,{"b":null}],"c":NaN}', '{"x":"' + "y" * 300 + '"}']:
    write("signed_value", b"\x02" + t.encode())
# Mode 3: tampering (2 bytes of position, 1 byte of replacement, then text).
for pos in [0, 5, 20, 40, 60]:
    write("signed_value", b"\x03" + struct.pack("<H", pos) + b"A" + b"hello")

# --- python_json --------------------------------------------------------------------------
texts = [
    "{}", "[]", "1", "-0", "-0.0", "1E5", "1e400", "-1e400", "NaN", "-Infinity",
    '{"n":1180591620717411303424}', '{"a":1,"a":2,"b":3}', '{"s":"caf\\u00e9 \\ud83d\\ude00"}',
    '{"s":"\\ud800"}', '{"s":"raw caf\u00e9"}', '{"f":[1.5,1e-07,1e+16,0.1,5e-324]}',
    '{"x":"\x01"}', '{"x":1} x', '{"x":', '{"x":tru}', '  {"a" : [ 1 , 2 ] }  ',
    "[" * 256 + "]" * 256, "[" * 257 + "]" * 257,
    '{"a":' + "[" * 255 + "]" * 255 + "}",
    '{"_session_expiry":"2026-01-01T01:00:00+00:00","_auth_user_id":"42"}',
]
for t in texts:
    write("python_json", t)
for r in records():
    f = r["backend_or_function"]
    if f in ("signing.JSONSerializer.dumps",):
        write("python_json", r["output"])
    if f == "signing.JSONSerializer.loads":
        write("python_json", bytes.fromhex(r["inputs"]["bytes_hex"]))
    b = r.get("breakdown")
    if isinstance(b, dict) and isinstance(b.get("json_text"), str):
        write("python_json", b["json_text"])

# --- pickle -------------------------------------------------------------------------------
for r in records():
    for s in strings_in([r.get("inputs"), r.get("output")]):
        if len(s) >= 8 and len(s) % 2 == 0 and s.startswith("80") and all(c in "0123456789abcdef" for c in s):
            write("pickle", bytes.fromhex(s))
evil = [
    b"cos\nsystem\n(S'echo pwned'\ntR.",  # GLOBAL + REDUCE, protocol 0
    b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x04echo\x94\x85\x94R\x94.",
    # {'x': os.system('id')} as Python 3 pickles it (protocol 4: FRAME, STACK_GLOBAL, REDUCE)
    b"\x80\x04\x95$\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01x\x94\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94s.",
    b"\x80\x02c__builtin__\nset\n)\x81.",  # NEWOBJ
    b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01C\x03abcq\x02s.",  # bytes in a session
    b"\x80\x05\x8f\x94.",  # EMPTY_SET
    b"(i__main__\nX\n.",  # INST
    b"\x80\x02\x82\x01.",  # EXT1
    b"\x80\x02Pfoo\n.",  # PERSID
    b"\x80\x06}.",  # protocol 6
    b"\x80\x02}q\x00(K\x01K\x02u.",  # integer key
    b"\x80\x02]q\x00h\x00a.",  # a list containing itself
    b"\x80\x02}q\x00X\x01\x00\x00\x00ah\x09s.",  # memo reference to nothing
    b"\x80\x02\x8a\xff" + b"\xff" * 255 + b".",  # LONG1 of 255 bytes
    b"\x80\x02}.extra bytes after STOP",
    b"\x80\x02}",  # no STOP
    b"\x80\x02" + b"]" * 300 + b".",  # deep
]
# A memo bomb: one list referenced 2^k times through doubling.
bomb = bytearray(b"\x80\x02]q\x00(" + b"K\x01" * 50 + b"e")
for i in range(1, 30):
    bomb += b"(h" + bytes([i - 1]) + b"h" + bytes([i - 1]) + b"lq" + bytes([i])
bomb += b"."
evil.append(bytes(bomb))
for e in evil:
    write("pickle", e)
# Python's own pickles of every allowlisted type at protocols 2 to 5, and of objects
# outside the allowlist (issue 16; made by crates/sessionkit-django/tests/data/make_python_values.py).
values = json.loads((ROOT.parent / "crates/sessionkit-django/tests/data/python_values.json").read_text())
for v in values["values"] + values["opaque"]:
    write("pickle", bytes.fromhex(v["pickle"]))

# --- zlib ---------------------------------------------------------------------------------
for scale in [0, 5, 10, 16, 19]:
    write("zlib", bytes([scale]) + zlib.compress(b'{"count":1,"favorite_color":"blue"}'))
write("zlib", b"\x13" + zlib.compress(b"\x00" * 5_000_000, 9))  # a bomb: 5 MB from ~5 KB
write("zlib", b"\x10" + zlib.compress(b"x" * 1000)[:-6])  # truncated
write("zlib", b"\x10" + zlib.compress(b"abc") + b"trailing data")
write("zlib", b"\x10" + b"\x78\x9c")
write("zlib", b"\x10" + b"\x78\x9d\x01\x00\x00\xff\xff")  # bad header check
write("zlib", b"\x10" + zlib.compress(b"hello")[:-1] + b"\x00")  # bad adler32
write("zlib", b"\x10" + bytes.fromhex("789c") + bytes.fromhex("0300") + bytes.fromhex("00000001"))
write("zlib", b"\x10" + zlib.compress(b"hi", 0))  # stored block
for r in records():
    b = r.get("breakdown")
    if isinstance(b, dict) and b.get("compressed") and isinstance(b.get("payload_b64"), str):
        raw = b["payload_b64"].lstrip(".")
        write("zlib", b"\x10" + base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))

# --- encrypted_cookie -----------------------------------------------------------------------
# Mode byte first (see fuzz/src/encrypted_cookie.rs). The pinned test vector of
# crates/sessionkit-encrypted-cookie/src/format.rs is sealed under the fuzz key ([7] * 32).
PINNED = "AUmgnr0JCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQm-cuKKFf_AYo8wa1MdHXPJEMLKGp7y3ebH44oJK0_EUirXPg"
write("encrypted_cookie", b"\x00" + PINNED.encode())
write("encrypted_cookie", b"\x00" + PINNED[:-3].encode())  # truncated
write("encrypted_cookie", b"\x00" + PINNED.encode() + b"=")  # padded
write("encrypted_cookie", b"\x00" + b"Ag" + PINNED[2:].encode())  # version 2
write("encrypted_cookie", b"\x00" + b"A" * 5000)  # longer than a cookie
write("encrypted_cookie", b"\x00" + b"eyJjb3VudCI6MX0:1vb66i:vPveSJk7gRPYYVYUVeAWsF9lBLpdvaxex_Gla6cYAPM")
write("encrypted_cookie", b"\x00")
for t, j in [
    (1_767_225_600, '{"count":1}'),
    (0, "{}"),
    (-1, '{"a":[1,2,{"b":null}]}'),
    (2**63 - 1, "{}"),  # an issue time out of range
    (1, "[]"),
    (1, '{"n":NaN,"big":123456789012345678901234567890,"u":"caf\\u00e9"}'),
    (1, '{"a":1} trailing'),
]:
    write("encrypted_cookie", b"\x01" + struct.pack(">q", t) + j.encode())
write("encrypted_cookie", b"\x01\x00\x01")
for pos, mask in [(0, 1), (1, 0x80), (4, 0xFF), (5, 1), (28, 2), (40, 0x10), (1000, 3)]:
    write("encrypted_cookie", b"\x02" + struct.pack("<H", pos) + bytes([mask]) + b'{"admin":false}')
for cut in [0, 1, 10, 72, 80, 200]:
    write("encrypted_cookie", b"\x03" + struct.pack("<H", cut))
write("encrypted_cookie", b"\x03\x05\x00AAAA")
KEY1 = base64.b64encode(bytes(range(32))).decode()
KEY2 = base64.urlsafe_b64encode(bytes(range(32, 64))).decode().rstrip("=")
for keys in [
    KEY1,
    KEY1 + "," + KEY2,
    "# keys\n" + KEY2 + "\n\n" + KEY1 + "\n",
    KEY1 + "," + KEY1,
    base64.b64encode(bytes([7] * 32)).decode(),
    "hunter22",
    "not base64!",
    base64.b64encode(bytes(31)).decode(),
    " , \n",
]:
    write("encrypted_cookie", b"\x04" + keys.encode())

for t in sorted((ROOT / "corpus").iterdir()):
    files = list(t.iterdir())
    print(t.name, len(files), "files,", sum(f.stat().st_size for f in files), "bytes")
