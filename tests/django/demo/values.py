"""Python values a Django app keeps in a `cache`-engine session (issue 16), and a small
class of the app's own, which sessionkit keeps as an opaque pickle."""

import collections
import decimal
import uuid
import zoneinfo
from datetime import date, datetime, time, timedelta, timezone


class Thing:
    """An application object: not in sessionkit's allowlist."""

    def __init__(self, name, parts):
        self.name = name
        self.parts = parts
        self.me = self  # a cycle through the object's own state

    def __eq__(self, other):
        return (
            type(other) is Thing
            and other.name == self.name
            and other.parts == self.parts
            and other.me is other
        )


def allowlisted():
    """One value of every allowlisted type, keyed by what it is."""
    return {
        "count": 1,
        "when_naive": datetime(2026, 1, 2, 3, 4, 5, 6),
        "when_utc": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        "when_offset": datetime(2026, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=-5), "EST")),
        "when_zone": datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=zoneinfo.ZoneInfo("America/New_York")),
        "day": date(2026, 1, 2),
        "clock": time(3, 4, 5, 6),
        "clock_utc": time(12, 30, tzinfo=timezone.utc),
        "delta": timedelta(days=-1, seconds=5, microseconds=7),
        "price": decimal.Decimal("1.50"),
        "nan": decimal.Decimal("NaN"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "raw": b"ab\x00\xff",
        "buf": bytearray(b"xy"),
        "tags": {1, 2, 3},
        "frozen": frozenset({"a"}),
        "pair": (1, "a", (2,)),
        "ordered": collections.OrderedDict([("b", 1), ("a", 2)]),
        "huge": 2**100,
        "nested": {"at": [date(2026, 1, 2)], "s": frozenset({b"x"})},
    }


def after_rust(values):
    """What the Rust side of the interop test writes back (see the Rust test)."""
    out = dict(values)
    out["count"] = values["count"] + 1
    out["when_utc"] = values["when_utc"] + timedelta(days=1)
    out["day"] = values["day"] + timedelta(days=1)
    out["delta"] = values["delta"] + timedelta(seconds=1)
    out["price"] = decimal.Decimal("2.50")
    out["tags"] = values["tags"] | {4}
    return out


def with_object():
    return {"count": 1, "thing": Thing("box", [1, {2: "two"}]), "keep": "x"}


def same(a, b):
    """Equal and of the same type, all the way down (repr tells NaN and tz names apart)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Thing):
        return a == b
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, datetime) and a.tzinfo is not None:
        return repr(a) == repr(b) and a.fold == b.fold and a.tzinfo == b.tzinfo
    return repr(a) == repr(b)
