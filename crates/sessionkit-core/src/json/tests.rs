use proptest::prelude::*;

use super::*;
use crate::value::Value;

fn py_float(f: f64) -> String {
    let mut s = String::new();
    write_float(&mut s, f);
    s
}

#[test]
fn floats_print_as_python_repr() {
    let cases = [
        (0.1, "0.1"),
        (1.0, "1.0"),
        (1e16, "1e+16"),
        (1e-7, "1e-07"),
        (-0.0, "-0.0"),
        (123456789.123, "123456789.123"),
        (1e15, "1000000000000000.0"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e300, "1.5e+300"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (2.5, "2.5"),
        (100.0, "100.0"),
        (-1.25e-10, "-1.25e-10"),
        (1_234_567_890_123_456.8, "1234567890123456.8"),
        (12_345_678_901_234_568.0, "1.2345678901234568e+16"),
    ];
    for (f, want) in cases {
        assert_eq!(py_float(f), want, "{f:e}");
    }
}

#[test]
fn strings_escape_like_ensure_ascii() {
    let mut s = String::new();
    write_str(&mut s, "\n\t\r\u{8}\u{c}\0\u{1f}\u{7f}\u{2028}\u{2029}");
    assert_eq!(s, r#""\n\t\r\b\f\u0000\u001f\u007f\u2028\u2029""#);
    s.clear();
    write_str(&mut s, "café 日本 👍");
    assert_eq!(s, r#""caf\u00e9 \u65e5\u672c \ud83d\udc4d""#);
    s.clear();
    write_str(&mut s, "</script>&<>'\"\\");
    assert_eq!(s, r#""</script>&<>'\"\\""#);
}

#[test]
fn parser_accepts_python_extensions() {
    let v = parse("{\"a\": NaN, \"b\": -Infinity, \"c\": Infinity, \"d\": 1e400}").unwrap();
    let Value::Map(m) = v else { panic!() };
    assert!(matches!(m["a"], Value::Float(f) if f.is_nan()));
    assert_eq!(m["b"], Value::Float(f64::NEG_INFINITY));
    assert_eq!(m["c"], Value::Float(f64::INFINITY));
    assert_eq!(m["d"], Value::Float(f64::INFINITY));
}

#[test]
fn duplicate_keys_last_wins_first_position() {
    let v = parse(r#"{"a":1,"b":2,"a":3}"#).unwrap();
    assert_eq!(to_string(&v), r#"{"a":3,"b":2}"#);
    let parts = split_object(r#"{"a":1,"b":2,"a":3}"#).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0], ("a".to_owned(), 17..18));
}

#[test]
fn split_object_validates_values() {
    assert!(split_object(r#"{"a":[1,2}"#).is_err());
    assert!(split_object(r#"{"a":tru}"#).is_err());
    assert!(split_object(r#"[1]"#).is_err());
    assert!(split_object(r#"{"a":1} x"#).is_err());
    assert!(split_object("{\"a\":\"\u{1}\"}").is_err());
    let ok = split_object(r#" { "a" : [1, {"b": "c"}] , "n": -Infinity } "#).unwrap();
    assert_eq!(ok.len(), 2);
}

#[test]
fn errors_are_refused_not_panics() {
    for bad in [
        "",
        "{",
        "{\"a\"",
        "{\"a\":",
        "[1,",
        "\"\\u12\"",
        "\"\\x\"",
        "-",
        "1.",
        "1e",
        "01x",
        "tru",
        "nul",
        "-Inf",
        "{\"a\" 1}",
        "[1 2]",
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
    let deep = "[".repeat(MAX_DEPTH + 1);
    assert_eq!(parse(&deep).unwrap_err().kind, JsonErrorKind::Depth);
}

#[test]
fn surrogates() {
    assert_eq!(
        parse(r#""\ud83d\udc4d""#).unwrap(),
        Value::String("👍".into())
    );
    assert_eq!(
        parse(r#""\ud83d""#).unwrap(),
        Value::String("\u{FFFD}".into())
    );
    assert_eq!(
        parse(r#""\ud83dx""#).unwrap(),
        Value::String("\u{FFFD}x".into())
    );
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<u128>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
            .prop_map(Value::Float),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            prop::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|kv| Value::Map(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn write_then_parse_round_trips(v in arb_value()) {
        let text = to_string(&v);
        prop_assert!(text.is_ascii());
        prop_assert_eq!(parse(&text).unwrap(), v);
    }

    #[test]
    fn floats_round_trip_through_python_repr(f in any::<f64>()) {
        let s = py_float(f);
        let back = parse(&s).unwrap();
        match back {
            Value::Float(g) => prop_assert!(g == f || (g.is_nan() && f.is_nan())),
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,64}") {
        let _ = parse(&s);
        let _ = split_object(&s);
    }
}

#[test]
fn integers_are_written_as_display_writes_them() {
    let mut cases = vec![
        0i64,
        1,
        -1,
        9,
        10,
        -10,
        99,
        100,
        i64::MAX,
        i64::MIN,
        i64::MIN + 1,
    ];
    cases.extend((0..63).map(|i| 1i64 << i));
    cases.extend((0..63).map(|i| -(1i64 << i)));
    cases.extend((0..19).map(|i| 10i64.pow(i) - 1));
    for n in cases {
        let mut out = String::from("x");
        super::push_int(&mut out, n);
        assert_eq!(out, format!("x{n}"));
    }
}
