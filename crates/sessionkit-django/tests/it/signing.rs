//! `signing.dumps` / `signing.loads`.

use sessionkit_core::json;
use sessionkit_core::value::Value;
use sessionkit_django::signing::{
    Secrets, Signer, SigningError, b62_encode, b64_encode, salted_hmac_derived_key,
};

use crate::vectors::{self, at, field, hex, int_of, map_of, records, str_of};

pub(crate) const FUNCTIONS: &[&str] = &["signing.dumps", "signing.loads"];

/// Checks one `signing.dumps`-shaped record: `obj`/`session` signed with `salt` at
/// `time`. Byte-identical output where Django did not compress; otherwise our own
/// (compressed) output round-trips and Django's output is accepted byte for byte.
pub(crate) fn check_dumps_record(r: &vectors::Record, obj: &Value, salt: &str, compress: bool) {
    let signer = Signer::new(&Secrets::new(r.secret_key()), salt);
    let t = at(int_of(r.input("time")));
    let expected = r.output_str();
    let json_text = json::to_string(obj);
    let ours = signer.dumps(&json_text, compress, t);
    let name = format!("record {} ({})", r.index, r.func);

    if let Some(b) = r.breakdown() {
        let bs = |k: &str| str_of(field(b, k));
        assert_eq!(json_text, bs("json_text"), "{name}: JSON text");
        assert_eq!(
            json_text.len() as i64,
            int_of(field(b, "json_bytes_len")),
            "{name}"
        );
        assert_eq!(
            b62_encode(t.unix_timestamp()),
            bs("timestamp_b62"),
            "{name}"
        );
        assert_eq!(int_of(field(b, "timestamp_int")), t.unix_timestamp());
        assert_eq!(bs("hmac_key_salt"), format!("{salt}signer"), "{name}");
        assert_eq!(
            hex(&salted_hmac_derived_key(
                bs("hmac_key_salt"),
                r.secret_key()
            )),
            bs("hmac_derived_key_hex"),
            "{name}: derived key"
        );
        // The signature over Django's own signed value is deterministic even when the
        // payload is compressed.
        assert_eq!(
            signer.signature(bs("signed_value")),
            bs("signature_b64"),
            "{name}: signature"
        );
        assert_eq!(
            format!("{}:{}", bs("signed_value"), bs("signature_b64")),
            bs("result")
        );
        assert_eq!(bs("result"), expected);
        let django_compressed = matches!(field(b, "compressed"), Value::Bool(true));
        assert_eq!(
            django_compressed,
            bs("payload_b64").starts_with('.'),
            "{name}"
        );
        if !django_compressed {
            assert_eq!(
                bs("payload_b64"),
                b64_encode(json_text.as_bytes()),
                "{name}: payload"
            );
        }
        // zlib_len is the size of Django's zlib output: our choice to compress must
        // agree with Django's whenever the sizes are not borderline.
        if let Value::Int(zlen) = field(b, "zlib_len") {
            assert_eq!(
                django_compressed,
                *zlen + 1 < json_text.len() as i64,
                "{name}"
            );
        }
    }

    if expected.starts_with('.') {
        // Compressed: what interoperability needs is that both sides decode each other's
        // output. (Byte identity, which zlib_compress also reaches for these inputs, is
        // checked separately by `compressed_output_is_byte_identical_too`.)
        assert!(ours.starts_with('.'), "{name}: we compress too");
        let (back, issued) = signer.loads(&ours, None, t).unwrap();
        assert_eq!(back, json_text, "{name}: our output round-trips");
        assert_eq!(issued, t);
    } else {
        assert_eq!(ours, expected, "{name}: byte-identical");
    }
    let (django, issued) = signer.loads(expected, None, t).unwrap();
    assert_eq!(django, json_text, "{name}: we read Django's output");
    assert_eq!(issued, t);
}

#[test]
fn dumps_matches_django() {
    let rs = records("signing.dumps");
    assert_eq!(rs.len(), 20);
    for r in rs {
        let compress = matches!(r.input("compress"), Value::Bool(true));
        check_dumps_record(r, r.input("obj"), r.input_str("salt"), compress);
    }
}

#[test]
fn loads_matches_django() {
    let rs = records("signing.loads");
    assert_eq!(rs.len(), 7);
    for r in rs {
        let secrets = Secrets::new(r.secret_key()).with_fallbacks(r.fallbacks());
        let signer = Signer::new(&secrets, r.input_str("salt"));
        let max_age = r.inputs.get("max_age").map(vectors::int_of);
        let now = at(r.inputs.get("now").map_or(vectors::T1, vectors::int_of));
        let got = signer.loads(r.input_str("value"), max_age, now);
        let out = map_of(&r.output);
        let name = format!("record {}: {:?}", r.index, r.inputs);
        if let Some(ok) = out.get("ok") {
            let (text, _) = got.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&json::parse(&text).unwrap(), ok, "{name}");
        } else {
            let want = match str_of(field(out, "error")) {
                "SignatureExpired" => SigningError::Expired,
                "BadSignature" => SigningError::BadSignature,
                other => panic!("unexpected error {other}"),
            };
            assert_eq!(got, Err(want), "{name}");
        }
    }
}

#[test]
fn max_age_boundaries_fallbacks_and_tampering_are_all_present() {
    // The groups the brief calls out must exist in the vectors (so the test above
    // really covers them).
    let rs = records("signing.loads");
    let now_minus_ts: Vec<i64> = rs
        .iter()
        .filter_map(|r| r.inputs.get("now").map(|n| int_of(n) - vectors::T1))
        .collect();
    assert_eq!(now_minus_ts, [10, 60, 61, -5]);
    assert!(rs.iter().any(|r| !r.fallbacks().is_empty()));
    assert!(rs.iter().any(|r| r.inputs.contains_key("signed_with_key")));
    assert!(
        rs.iter().any(|r| r.input_str("value").ends_with("xfIA")),
        "a tampered signature"
    );
}

/// Not an interoperability requirement (Django reads any zlib stream), but a property
/// worth knowing about when upgrading flate2/zlib-rs: our compressed payloads are
/// byte-identical to CPython's for every compressed vector (see `zlib_compress`).
#[test]
fn compressed_output_is_byte_identical_too() {
    let mut compressed = 0;
    for func in [
        "signing.dumps",
        "SessionStore.encode",
        "signed_cookies.cookie_value",
    ] {
        for r in records(func) {
            let expected = r.output_str();
            if !expected.starts_with('.') {
                continue;
            }
            compressed += 1;
            let salt = match func {
                "signing.dumps" => r.input_str("salt"),
                "SessionStore.encode" => sessionkit_django::session::SESSION_SALT,
                _ => sessionkit_django::cookie_store::SIGNED_COOKIES_SALT,
            };
            let obj = r.inputs.get("obj").unwrap_or_else(|| r.input("session"));
            let signer = Signer::new(&Secrets::new(r.secret_key()), salt);
            let ours = signer.dumps(&json::to_string(obj), true, at(int_of(r.input("time"))));
            assert_eq!(ours, expected, "record {} ({func})", r.index);
        }
    }
    assert!(compressed >= 20, "{compressed}");
}
