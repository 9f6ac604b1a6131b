use proptest::prelude::*;

use sessionkit_core::value::int_from_decimal;

use super::text::python_int;
use super::write::Encoder;
use super::*;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn kind(bytes: &[u8]) -> PickleErrorKind {
    loads(bytes).unwrap_err().kind
}

fn map(entries: &[(&str, Value)]) -> Map {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[test]
fn refuses_code_and_objects() {
    use PickleErrorKind as K;
    // pickle.dumps(os.system, 0) style GLOBAL, and a REDUCE call: refused, never run.
    assert_eq!(kind(b"cos\nsystem\n(S'id'\ntR."), K::Refused(b'c'));
    assert_eq!(
        kind(b"\x80\x04\x8c\x02os\x8c\x06system\x93."),
        K::Refused(0x93)
    );
    // A call of a global outside the allowlist is refused as that global.
    let thing = b"\x80\x04\x8c\x03app\x8c\x05Thing\x93";
    let with = |g: &[u8], tail: &[u8]| [g, tail].concat();
    for tail in [&b")R."[..], b")\x81.", b")}\x92."] {
        assert_eq!(kind(&with(thing, tail)), K::Refused(0x93), "{tail:?}");
    }
    assert_eq!(kind(b"(iapp\nThing\n."), K::Refused(b'i'));
    assert_eq!(kind(b"(capp\nThing\no."), K::Refused(b'c'));
    // An allowlisted global called in a shape the allowlist does not know is refused
    // as the call.
    let dt = b"\x80\x04\x8c\x08datetime\x8c\x08datetime\x93";
    assert_eq!(kind(&with(dt, b")R.")), K::Refused(b'R'));
    assert_eq!(kind(&with(dt, b")\x81.")), K::Refused(0x81));
    assert_eq!(kind(&with(dt, b")}\x92.")), K::Refused(0x92));
    assert_eq!(kind(b"(idatetime\ndatetime\n."), K::Refused(b'i'));
    assert_eq!(kind(b"(cdatetime\ndatetime\no."), K::Refused(b'o'));
    // BUILD, APPENDS, SETITEMS and ADDITEMS on plain data of the wrong kind fail as
    // they do in Python.
    for p in [
        &b"\x80\x04}}b."[..],
        b"\x80\x04}(Ne.",
        b"\x80\x04](NNu.",
        b"\x80\x04](N\x90.",
    ] {
        assert_eq!(kind(p), K::WrongType, "{p:?}");
    }
    // What Django's unpickler has no hooks for: refused before reading further.
    for op in [b'P', b'Q', 0x82, 0x83, 0x84] {
        assert_eq!(kind(&[0x80, 0x04, op, b'.']), K::Refused(op), "{op:#x}");
    }
    for op in [0x97, 0x98] {
        assert_eq!(kind(&[0x80, 0x05, op, b'.']), K::Unsupported(op), "{op:#x}");
    }
    // Allowlisted look-alikes are still refused: the right module, the wrong name.
    assert_eq!(
        kind(b"\x80\x04\x8c\x08datetime\x8c\x06sleeps\x93)R."),
        K::Refused(0x93)
    );
    assert_eq!(kind(b"\x80\x04Z."), K::UnknownOpcode(b'Z'));
    assert_eq!(kind(b"\x80\x06}."), K::Protocol(6));
    let msg = loads(b"\x80\x04\x8c\x02os\x8c\x06system\x93.")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("STACK_GLOBAL"), "{msg}");
}

/// Issue 16: the values `refuses_code_and_objects` once refused, as Python pickles them,
/// are read now.
#[test]
fn issue_16_python_values_in_a_session_are_read() {
    let python = [
        // {'when': datetime.datetime(2026, 1, 1)}
        "80059534000000000000007d948c047768656e948c086461746574696d65948c086461746574696d65949394430a07ea01010000000000009485945294732e",
        // {'d': decimal.Decimal('1.5')}
        "80059528000000000000007d948c0164948c07646563696d616c948c07446563696d616c9493948c03312e359485945294732e",
        // {'s': {1, 2}}
        "80059510000000000000007d948c0173948f94284b014b0290732e",
        // {'b': b'ab'}
        "8005950d000000000000007d948c0162944302616294732e",
    ];
    let want = [
        "{\"when\":{\"$python\":\"datetime.datetime(2026, 1, 1, 0, 0)\"}}",
        "{\"d\":{\"$python\":\"Decimal('1.5')\"}}",
        "{\"s\":{\"$python\":\"set\",\"items\":[1,2]}}",
        "{\"b\":{\"$python\":\"b'ab'\"}}",
    ];
    for (hex, want) in python.iter().zip(want) {
        let v = loads(&unhex(hex)).unwrap();
        assert_eq!(v.to_string(), want);
        let Value::Map(m) = &v else { panic!() };
        // Written back, the bytes are Python's own.
        assert_eq!(dumps(m), unhex(hex), "{want}");
    }
}

#[test]
fn protocol_0_and_1_forms() {
    // pickle.dumps({'a': [1, True, None, 1.5, 'é', 2**70]}, 0)
    let p0 = b"(dp0\nVa\np1\n(lp2\nI1\naI01\naNaF1.5\naV\xe9\np3\naL1180591620717411303424L\nas.";
    let want = map(&[(
        "a",
        Value::List(vec![
            Value::Int(1),
            Value::Bool(true),
            Value::Null,
            Value::Float(1.5),
            Value::String("é".into()),
            int_from_decimal("1180591620717411303424").unwrap(),
        ]),
    )]);
    assert_eq!(loads(p0).unwrap(), Value::Map(want));
    // The same through protocol 1 (BINPUT, BINUNICODE, LONG text, BINFLOAT).
    let p1 = b"}q\x00X\x01\x00\x00\x00aq\x01]q\x02(K\x01I01\nNG?\xf8\x00\x00\x00\x00\x00\x00X\x02\x00\x00\x00\xc3\xa9q\x03L1180591620717411303424L\nes.";
    assert_eq!(loads(p1).unwrap(), loads(p0).unwrap());
    // Python 2 strings, protocol 0 escapes, memo by PUT/GET.
    let p = b"(dp0\nS'k\\x41\\n'\np1\ng1\ns.";
    assert_eq!(
        loads(p).unwrap(),
        Value::Map(map(&[("kA\n", Value::String("kA\n".into()))]))
    );
    // Protocol 1: BINPUT/BINGET, BINSTRING, tuples via MARK...TUPLE.
    let p1 = b"}q\x00(U\x01kq\x01(K\x01K\x02tq\x02U\x01jh\x02u.";
    let t = Value::Tuple(vec![Value::Int(1), Value::Int(2)]);
    assert_eq!(
        loads(p1).unwrap(),
        Value::Map(map(&[("k", t.clone()), ("j", t)]))
    );
    // UNICODE with raw-unicode-escapes.
    assert_eq!(
        loads(b"V\\u20ac\\U0001f44d\\x\n.").unwrap(),
        Value::String("€👍\\x".into())
    );
}

#[test]
fn memo_shares_mutable_containers() {
    // d = {}; x = [d, d]; d['k'] = 1 -> both entries see the filled dict.
    let p = b"\x80\x04]\x94(}\x94h\x01e\x8c\x01k\x94K\x01s.";
    // The SETITEM above goes to the list, not the dict: refused as a wrong type.
    assert_eq!(kind(p), PickleErrorKind::WrongType);
    // Built the way Python does it: the dict is memoized before it is filled.
    let p = b"\x80\x04]\x94(}\x94\x8c\x01k\x94K\x01sh\x01e.";
    let d = Value::Map(map(&[("k", Value::Int(1))]));
    assert_eq!(loads(p).unwrap(), Value::List(vec![d.clone(), d]));
}

#[test]
fn recursion_and_blowups_are_refused() {
    use PickleErrorKind as K;
    // l = []; l.append(l)
    assert_eq!(kind(b"\x80\x04]\x94h\x00a."), K::Recursive);
    // Deep nesting.
    let mut deep = b"\x80\x04".to_vec();
    deep.extend(std::iter::repeat_n(b']', 300));
    deep.extend(std::iter::repeat_n(b'a', 299));
    deep.push(b'.');
    assert_eq!(kind(&deep), K::TooDeep);
    // Billion laughs: each level is a list holding the previous one 10 times.
    let mut bomb = b"\x80\x04]\x94".to_vec();
    for level in 0..8u8 {
        bomb.extend_from_slice(b"](");
        for _ in 0..10 {
            bomb.extend_from_slice(&[b'h', level]);
        }
        bomb.extend_from_slice(b"e\x94");
    }
    bomb.push(b'.');
    let limits = Limits::default().with_max_values(100_000);
    assert_eq!(
        loads_with(&bomb, &limits).unwrap_err().kind,
        K::OutputTooLarge
    );
    // The same with a long string: the text budget trips.
    let mut text = b"\x80\x04X\x00\x00\x01\x00".to_vec();
    text.extend(std::iter::repeat_n(b'a', 65536));
    text.extend_from_slice(b"\x94](");
    for _ in 0..300 {
        text.extend_from_slice(b"h\x00");
    }
    text.extend_from_slice(b"e.");
    assert_eq!(kind(&text), K::OutputTooLarge);
    // Memo and container limits.
    let mut memo = b"\x80\x04N".to_vec();
    for i in 0..20u8 {
        memo.extend_from_slice(&[b'q', i]);
    }
    memo.push(b'.');
    let small = Limits::default().with_max_memo(10);
    assert_eq!(loads_with(&memo, &small).unwrap_err().kind, K::MemoTooLarge);
    let list = b"\x80\x04](NNNNNe.";
    let small = Limits::default().with_max_container_len(4);
    assert_eq!(
        loads_with(list, &small).unwrap_err().kind,
        K::ContainerTooLarge
    );
    assert_eq!(
        loads_with(list, &Limits::default().with_max_input(5))
            .unwrap_err()
            .kind,
        K::InputTooLarge
    );
}

#[test]
fn structural_errors() {
    use PickleErrorKind as K;
    assert_eq!(kind(b""), K::Eof);
    assert_eq!(kind(b"\x80\x04}"), K::Eof);
    assert_eq!(kind(b"."), K::StackUnderflow);
    assert_eq!(kind(b"(."), K::StackUnderflow);
    assert_eq!(kind(b"K\x01(s."), K::StackUnderflow);
    assert_eq!(kind(b"h\x05."), K::MissingMemo);
    assert_eq!(kind(b"}K\x01K\x02s."), K::NonStringKey);
    assert_eq!(kind(b"]\x8c\x01kK\x02s."), K::WrongType);
    assert_eq!(kind(b"\x8c\x02\xc3\x28."), K::InvalidText);
    assert_eq!(kind(b"U\x01\xe9."), K::InvalidText);
    assert_eq!(kind(b"Ix\n."), K::Malformed);
    assert_eq!(kind(b"\x8b\xff\xff\xff\xff."), K::Malformed);
    assert_eq!(kind(b"\x95\xff\x00\x00\x00\x00\x00\x00\x00N."), K::Eof);
    // Trailing data after STOP is ignored, as in Python.
    assert_eq!(loads(b"N.garbage").unwrap(), Value::Null);
}

#[test]
fn integers_of_every_width() {
    let cases: &[(i128, &str)] = &[
        (0, "4b00"),
        (255, "4bff"),
        (256, "4d0001"),
        (65535, "4dffff"),
        (65536, "4a00000100"),
        (-1, "4affffffff"),
        (i128::from(i32::MIN), "4a00000080"),
        (i128::from(i32::MAX) + 1, "8a050000008000"),
        (i128::from(i32::MIN) - 1, "8a05ffffff7fff"),
        (-128 * (1 << 32), "8a050000000080"),
        (12345678901234567890, "8a09d20a1feb8ca954ab00"),
        (i128::from(i64::MIN), "8a080000000000000080"),
    ];
    for &(n, hex) in cases {
        let mut w = Encoder::new();
        w.save(&Value::from(n), false);
        assert_eq!(
            w.frame
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            hex,
            "{n}"
        );
        let back = loads(&dumps_value(&Value::from(n))).unwrap();
        assert_eq!(back, Value::from(n));
    }
    // Beyond i128 in both directions.
    for text in [
        "340282366920938463463374607431768211456",
        "-340282366920938463463374607431768211457",
        "-170141183460469231731687303715884105729",
        "99999999999999999999999999999999999999999999999999999999999",
    ] {
        let v = int_from_decimal(text).unwrap();
        assert_eq!(loads(&dumps_value(&v)).unwrap(), v, "{text}");
    }
    // 2**128 as Python writes it.
    let big = int_from_decimal("340282366920938463463374607431768211456").unwrap();
    let mut w = Encoder::new();
    w.save(&big, false);
    assert_eq!(w.frame, unhex("8a110000000000000000000000000000000001"));
    // LONG4 for integers over 255 bytes.
    let huge = int_from_decimal(&"9".repeat(700)).unwrap();
    let bytes = dumps_value(&huge);
    assert!(bytes.contains(&0x8b));
    assert_eq!(loads(&bytes).unwrap(), huge);
}

#[test]
fn python_int_parsing() {
    assert_eq!(python_int(" 5\n"), Some(Value::Int(5)));
    assert_eq!(python_int("-1_000"), Some(Value::Int(-1000)));
    assert_eq!(python_int("+7"), Some(Value::Int(7)));
    for bad in ["", "-", "1__0", "_1", "1_", "1.0", "0x10", "\u{0}"] {
        assert_eq!(python_int(bad), None, "{bad:?}");
    }
}

#[test]
fn large_strings_and_frames() {
    // A string of 70 000 bytes goes outside any frame; a dict with many keys spans
    // several frames. Both must read back.
    let big = "x".repeat(70_000);
    let m = map(&[("a", Value::String(big.clone())), ("b", Value::Int(1))]);
    let bytes = dumps(&m);
    assert_eq!(loads(&bytes).unwrap(), Value::Map(m));
    let many: Map = (0..20_000)
        .map(|i| (format!("key-{i}"), Value::String(format!("value-{i}"))))
        .collect();
    let bytes = dumps(&many);
    let frames = bytes.iter().filter(|&&b| b == 0x95).count();
    assert!(frames >= 2, "{frames}");
    assert_eq!(loads(&bytes).unwrap(), Value::Map(many));
}

#[test]
fn tuples_and_batches() {
    let m = map(&[
        ("t0", Value::Tuple(vec![])),
        ("t2", Value::Tuple(vec![Value::Int(1), Value::Int(2)])),
        ("t4", Value::Tuple((1..=4).map(Value::Int).collect())),
        ("l1", Value::List(vec![Value::Int(1)])),
        ("l1000", Value::List((0..1000).map(Value::Int).collect())),
        ("l2001", Value::List((0..2001).map(Value::Int).collect())),
    ]);
    assert_eq!(loads(&dumps(&m)).unwrap(), Value::Map(m));
    let thousand: Map = (0..1000)
        .map(|i| (format!("k{i}"), Value::Int(i)))
        .collect();
    let bytes = dumps(&thousand);
    // CPython ends a dict of exactly 1000 items with an empty MARK SETITEMS.
    assert!(bytes.ends_with(b"u(u."));
    assert_eq!(loads(&bytes).unwrap(), Value::Map(thousand));
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<i128>().prop_map(Value::from),
        "-?[1-9][0-9]{39,80}".prop_map(|s| int_from_decimal(&s).unwrap()),
        any::<f64>()
            .prop_filter("NaN != NaN", |f| !f.is_nan())
            .prop_map(Value::Float),
        any::<String>().prop_map(Value::String),
        "[a-c]{0,2}".prop_map(Value::String),
        arb_python(),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Tuple),
            prop::collection::vec(("[a-c]{0,3}|.{0,8}", inner.clone()), 0..8)
                .prop_map(|kv| Value::Map(kv.into_iter().collect())),
            prop::collection::vec(("[a-c]{0,3}", inner.clone()), 0..4)
                .prop_map(|kv| Value::OrderedDict(kv.into_iter().collect())),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Set),
            prop::collection::vec(inner, 0..4).prop_map(Value::FrozenSet),
        ]
    })
}

/// Issue 16: every allowlisted Python type, over its whole range.
fn arb_python() -> impl Strategy<Value = Value> {
    use sessionkit_core::value::{Date, DateTime, Decimal, Time, TimeDelta, TzInfo, Uuid};
    let local = (
        1i32..=9999,
        1u16..=365,
        0u8..24,
        0u8..60,
        0u8..60,
        0u32..1_000_000,
    )
        .prop_map(|(y, d, h, m, s, us)| {
            time::PrimitiveDateTime::new(
                time::Date::from_ordinal_date(y, d).unwrap(),
                time::Time::from_hms_micro(h, m, s, us).unwrap(),
            )
        });
    let delta = (-999_999_999i64..=999_999_999, 0i64..86_400, 0i64..1_000_000)
        .prop_map(|(d, s, us)| TimeDelta::new(d, s, us).unwrap());
    let tz = prop_oneof![
        Just(None),
        Just(Some(TzInfo::UTC)),
        (-86_399_999_999i64..86_400_000_000)
            .prop_map(|us| TzInfo::fixed(TimeDelta::new(0, 0, us).unwrap())),
        ".{0,6}".prop_map(|n| TzInfo::fixed_named(TimeDelta::new(0, 3600, 0).unwrap(), &n)),
        "[A-Z][a-z]{1,8}/[A-Z][a-z_]{1,12}".prop_map(|k| TzInfo::zone(&k)),
    ];
    prop_oneof![
        (local.clone(), tz.clone(), any::<bool>()).prop_map(|(l, tz, fold)| {
            let d = match tz {
                Some(tz) => DateTime::aware(l, tz),
                None => DateTime::naive(l),
            };
            Value::DateTime(d.unwrap().with_fold(fold))
        }),
        local
            .clone()
            .prop_map(|l| Value::Date(Date::try_from(l.date()).unwrap())),
        (local, tz, any::<bool>()).prop_map(|(l, tz, fold)| {
            Value::Time(Time::new(l.time(), tz).unwrap().with_fold(fold))
        }),
        delta.prop_map(Value::TimeDelta),
        "-?[0-9]{1,30}(\\.[0-9]{0,10})?(E[-+]?[0-9]{1,3})?|NaN|-Infinity|sNaN"
            .prop_map(|t| Value::Decimal(t.parse::<Decimal>().unwrap())),
        (any::<u128>(), prop::option::of(any::<bool>()))
            .prop_map(|(u, safe)| Value::Uuid(Uuid::from_u128(u).with_is_safe(safe))),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Value::Bytes),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::ByteArray),
    ]
}

proptest! {
    #[test]
    fn dumps_then_loads(entries in prop::collection::vec(("[a-c]{0,3}|.{0,8}", arb_value()), 0..12)) {
        let m: Map = entries.into_iter().collect();
        prop_assert_eq!(loads(&dumps(&m)).unwrap(), Value::Map(m));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = loads(&bytes);
        let _ = redis_loads(&bytes);
        let mut framed = vec![0x80, 0x05];
        framed.extend_from_slice(&bytes);
        let _ = loads(&framed);
    }

    #[test]
    fn opcode_soup_never_panics(ops in prop::collection::vec(
        prop::sample::select(b"().012NKMJ\x88\x89}]ase)su\x85\x86\x87h\x94qgGd lt".to_vec()), 0..64),
        args in prop::collection::vec(any::<u8>(), 0..64))
    {
        // Mostly valid opcodes interleaved with arbitrary arguments.
        let mut bytes = vec![0x80, 0x04];
        for (i, op) in ops.iter().enumerate() {
            bytes.push(*op);
            if let Some(a) = args.get(i) {
                bytes.push(*a);
            }
        }
        bytes.push(b'.');
        let _ = loads(&bytes);
    }
}
