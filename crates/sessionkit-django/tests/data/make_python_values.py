"""Writes python_values.json: Python's own pickles of every allowlisted type, at
protocols 2 to 5, with Python's repr of each value (tests/it/python_values.rs reads it).

Run with any CPython >= 3.9 (zoneinfo; the tz database from the system or `tzdata`):
    python3 crates/sessionkit-django/tests/data/make_python_values.py
The committed output is what the tests use; they never run Python.
"""
import collections
import datetime as dt
import decimal
import json
import pathlib
import pickle
import platform
import sys
import uuid
import zoneinfo

UTC = dt.timezone.utc
NY = zoneinfo.ZoneInfo("America/New_York")


class App:
    """Stands for a class of the application (not in the allowlist)."""

    def __init__(self, n):
        self.n = n


App.__module__ = "app"
App.__qualname__ = "Thing"
sys.modules["app"] = type(sys)("app")
sys.modules["app"].Thing = App

VALUES = {
    "datetime_naive": dt.datetime(2026, 1, 2, 3, 4, 5, 6),
    "datetime_naive_min": dt.datetime(1, 1, 1),
    "datetime_naive_max": dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
    "datetime_utc": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    "datetime_offset": dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    "datetime_offset_named": dt.datetime(2026, 1, 2, tzinfo=dt.timezone(-dt.timedelta(hours=5), "EST")),
    "datetime_offset_micro": dt.datetime(2026, 1, 2, tzinfo=dt.timezone(dt.timedelta(seconds=1, microseconds=5))),
    "datetime_zone": dt.datetime(2026, 7, 1, 12, 0, tzinfo=NY),
    "datetime_zone_fold": dt.datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY),
    "date": dt.date(2026, 1, 2),
    "date_min": dt.date(1, 1, 1),
    "time": dt.time(3, 4, 5, 6),
    "time_midnight": dt.time(0, 0),
    "time_utc": dt.time(12, 30, tzinfo=UTC),
    "time_fold": dt.time(1, 30, fold=1),
    "timedelta": dt.timedelta(days=1, seconds=2, microseconds=3),
    "timedelta_negative": dt.timedelta(microseconds=-1),
    "timedelta_max": dt.timedelta.max,
    "timedelta_min": dt.timedelta.min,
    "timedelta_zero": dt.timedelta(0),
    "decimal": decimal.Decimal("1.50"),
    "decimal_negative_exp": decimal.Decimal("-1.2E-7"),
    "decimal_nan": decimal.Decimal("NaN"),
    "decimal_inf": decimal.Decimal("-Infinity"),
    "decimal_big": decimal.Decimal("123456789012345678901234567890.123456789"),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "uuid_zero": uuid.UUID(int=0),
    "uuid_max": uuid.UUID(int=2**128 - 1),
    "uuid_safe": uuid.UUID("12345678-1234-5678-1234-567812345678", is_safe=uuid.SafeUUID.safe),
    "bytes": b"ab\x00\xff'",
    "bytes_empty": b"",
    "bytes_long": bytes(range(256)) * 2,
    "bytearray": bytearray(b"xy\x00"),
    "bytearray_empty": bytearray(),
    "set": {1, 2, 3},
    "set_empty": set(),
    "set_mixed": {"a", (1, 2), None},
    "frozenset": frozenset({"a"}),
    "frozenset_empty": frozenset(),
    "tuple": (1, "a", (2,), ()),
    "ordered_dict": collections.OrderedDict([("b", 1), ("a", [1, 2])]),
    "ordered_dict_empty": collections.OrderedDict(),
    "int_big": 2**100,
    "int_negative_big": -(2**200) - 1,
    "nested": {"when": [dt.date(2026, 1, 2), {decimal.Decimal("2")}], "t": (frozenset({1}), b"x")},
    "session": {
        "_auth_user_id": "1",
        "count": 3,
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "cart": {"total": decimal.Decimal("9.99"), "ids": {uuid.UUID(int=1)}},
    },
}

# Values outside the allowlist, as a session holds them: kept opaque by the reader.
OPAQUE = {
    "object": {"n": 1, "obj": App(5)},
    "object_shared": {"a": [App(1), App(1)], "z": zoneinfo.ZoneInfo("UTC")},
    "int_keys": {"m": {1: "a"}, "n": 2},
    "cycle": (lambda l: (l.append(l), {"l": l, "n": 1})[1])([]),
}


def r(v):
    """repr, with OrderedDict written as Python 3.12+ writes it."""
    if isinstance(v, collections.OrderedDict):
        return "OrderedDict(%s)" % r(dict(v)) if v else "OrderedDict()"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{r(k)}: {r(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(r(x) for x in v) + "]"
    if isinstance(v, tuple):
        return "(" + r(v[0]) + ",)" if len(v) == 1 else "(" + ", ".join(r(x) for x in v) + ")"
    return repr(v)


out = {"python": platform.python_version(), "values": [], "opaque": []}
for name, v in VALUES.items():
    for proto in (2, 3, 4, 5):
        out["values"].append({"name": name, "protocol": proto, "pickle": pickle.dumps(v, proto).hex(), "repr": r(v)})
for name, v in OPAQUE.items():
    out["opaque"].append({"name": name, "pickle": pickle.dumps(v, 5).hex()})
path = pathlib.Path(__file__).with_name("python_values.json")
path.write_text(json.dumps(out, indent=1) + "\n")
print(path, len(out["values"]), "values,", len(out["opaque"]), "opaque")
