use proptest::prelude::*;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::encoding::B64_LENIENT;
use super::mac::salted_hmac_generic;
use super::zlib::compression_cannot_pay;
use super::*;

const KEY: &str = "anchor-secret-key-for-vectors";
const URL_SAFE_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn t(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn base62_round_trips_extremes() {
    for n in [0, 1, -1, 61, 62, i64::MAX, i64::MIN, i64::MIN + 1] {
        assert_eq!(b62_decode(&b62_encode(n)), Some(n), "{n}");
    }
    assert_eq!(b62_encode(i64::MIN), "-AzL8n0Y58m8");
    assert_eq!(b62_decode(""), None);
    assert_eq!(b62_decode("-"), None);
    assert_eq!(b62_decode("AzL8n0Y58m8"), None, "i64::MAX + 1 overflows");
    assert_eq!(b62_decode("zzzzzzzzzzzzzzzzzzzz"), None);
    assert_eq!(b62_decode("+1"), None);
}

#[test]
fn base64_decode_is_tolerant_of_padding_only() {
    assert_eq!(b64_decode("AAECAw").unwrap(), [0, 1, 2, 3]);
    assert_eq!(b64_decode("AAECAw==").unwrap(), [0, 1, 2, 3]);
    assert_eq!(b64_decode("-__-").unwrap(), [0xfb, 0xff, 0xfe]);
    assert!(
        b64_decode("+//+").is_none(),
        "standard alphabet is not URL-safe"
    );
    assert!(b64_decode("AAECA").is_none());
    assert!(b64_decode("AA:C").is_none());
    // Python ignores non-zero trailing bits.
    assert_eq!(b64_decode("Zh").unwrap(), b"f");
}

#[test]
fn salted_hmac_sha1_vector() {
    // `crypto.salted_hmac` record with algorithm="sha1" (Django < 3.1 legacy values):
    // the same construction with SHA-1 gives Django's bytes.
    let mac = salted_hmac_generic::<sha1::Sha1>(
        "django.contrib.sessions.SessionStoresigner",
        b"abc",
        KEY,
    );
    assert_eq!(hex(&mac), "e7ba8de74da0ffa8db3a231f0be7ab431f9c94c1");
    let derived = sha1::Sha1::new()
        .chain_update("django.contrib.sessions.SessionStoresigner")
        .chain_update(KEY)
        .finalize();
    assert_eq!(hex(&derived), "f49adb72a9239e4bdd125c210d8cd2c95e96229f");
    // And the generic path agrees with the public SHA-256 one.
    assert_eq!(
        salted_hmac_generic::<Sha256>("s", b"v", KEY),
        salted_hmac("s", b"v", KEY)
    );
}

#[test]
fn debug_never_shows_keys() {
    let secrets = Secrets::new("super-secret").with_fallbacks(["older-secret"]);
    let signer = Signer::new(&secrets, "salt");
    for text in [format!("{secrets:?}"), format!("{signer:?}")] {
        assert!(!text.contains("secret"), "{text}");
    }
    assert_eq!(
        format!("{signer:?}"),
        "Signer { salt: \"salt\", keys: 2, max_decompressed: 1048576 }"
    );
}

#[test]
fn verify_reports_which_key_matched() {
    let old = Signer::new(&Secrets::new("old"), "s");
    let both = Signer::new(&Secrets::new("new").with_fallbacks(["older", "old"]), "s");
    let sig = old.signature("v");
    assert_eq!(both.verify("v", &sig), Some(2));
    assert_eq!(both.verify("v", &both.signature("v")), Some(0));
    assert_eq!(both.verify("w", &sig), None);
    // Padding or non-canonical encodings never match (Django compares the text).
    assert_eq!(both.verify("v", &format!("{sig}=")), None);
    // Flip an unused trailing bit: a lenient decoder would read the same MAC.
    let last = sig.as_bytes()[42];
    let idx = URL_SAFE_ALPHABET.iter().position(|&c| c == last).unwrap();
    let tweaked = format!("{}{}", &sig[..42], char::from(URL_SAFE_ALPHABET[idx ^ 1]));
    assert_ne!(tweaked, sig);
    assert_eq!(
        B64_LENIENT.decode(&tweaked).unwrap(),
        B64_LENIENT.decode(&sig).unwrap()
    );
    assert_eq!(both.verify("v", &tweaked), None);
}

#[test]
fn compression_only_when_it_saves_two_bytes() {
    let signer = Signer::new(&Secrets::new(KEY), DEFAULT_SALT);
    assert!(!signer.dumps("{}", true, t(0)).starts_with('.'));
    let long = format!("[{}]", vec!["1"; 200].join(","));
    let signed = signer.dumps(&long, true, t(0));
    assert!(signed.starts_with(".eJ"), "{signed}");
    assert_eq!(signer.loads(&signed, None, t(0)).unwrap().0, long);
    // The timestamp is whole seconds, truncated.
    let signed = signer.dumps("1", false, t(10) + time::Duration::milliseconds(999));
    assert_eq!(signer.loads(&signed, None, t(0)).unwrap().1, t(10));
}

#[test]
fn counter_sized_payloads_skip_the_compressor() {
    for text in [r#"{"count":1}"#, r#"{"count":123456789}"#, "{}", ""] {
        assert!(compression_cannot_pay(text.as_bytes()), "{text}");
    }
    for text in ["aaaaaaaaaaaaaaaaaaaa", r#"{"a":"xyz","b":"xyz","c":"xyz"}"#] {
        assert!(!compression_cannot_pay(text.as_bytes()), "{text}");
    }
}

#[test]
fn max_age_uses_sub_second_precision_like_python() {
    let signer = Signer::new(&Secrets::new(KEY), DEFAULT_SALT);
    let signed = signer.dumps("1", false, t(1000));
    assert!(signer.loads(&signed, Some(60), t(1060)).is_ok());
    let later = t(1060) + time::Duration::milliseconds(1);
    assert_eq!(
        signer.loads(&signed, Some(60), later),
        Err(SigningError::Expired)
    );
    assert!(signer.loads(&signed, Some(0), t(1000)).is_ok());
    assert!(signer.loads(&signed, Some(-1), t(1000)).is_err());
}

#[test]
fn zip_bombs_are_refused_without_allocating() {
    let signer = Signer::new(&Secrets::new(KEY), DEFAULT_SALT).with_max_decompressed(1000);
    // 2 MB of zeros compresses to about 2 KB.
    let bomb = zlib_compress(&vec![b'0'; 2_000_000]).unwrap();
    let value = format!(".{}:0", b64_encode(&bomb));
    let signed = signer.sign(&value);
    assert_eq!(
        signer.loads(&signed, None, t(0)),
        Err(SigningError::TooLarge)
    );
    // Exactly at the limit is fine; one over is not.
    let ok = zlib_compress(&[b'1'; 1000]).unwrap();
    assert_eq!(zlib_decompress(&ok, 1000).unwrap().len(), 1000);
    assert_eq!(zlib_decompress(&ok, 999), Err(SigningError::TooLarge));
    // Uncompressed payloads are capped too.
    let plain = signer.sign(&format!("{}:0", b64_encode(&[b'1'; 1001])));
    assert_eq!(
        signer.loads(&plain, None, t(0)),
        Err(SigningError::TooLarge)
    );
}

#[test]
fn zlib_framing_errors() {
    let good = zlib_compress(b"hello hello hello").unwrap();
    assert_eq!(zlib_decompress(&good, 100).unwrap(), b"hello hello hello");
    // Trailing data after the stream is ignored, as in Python.
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"xyz");
    assert_eq!(
        zlib_decompress(&trailing, 100).unwrap(),
        b"hello hello hello"
    );
    // Truncated and corrupt streams are refused.
    assert_eq!(
        zlib_decompress(&good[..good.len() - 3], 100),
        Err(SigningError::Malformed)
    );
    assert_eq!(zlib_decompress(b"", 100), Err(SigningError::Malformed));
    assert_eq!(zlib_decompress(b"hello", 100), Err(SigningError::Malformed));
    let mut corrupt = good;
    corrupt[5] ^= 0xff;
    assert!(zlib_decompress(&corrupt, 100).is_err());
}

#[test]
fn latin1_matches_python() {
    assert_eq!(latin1_decode(b"abc"), "abc");
    assert_eq!(latin1_decode(&[0x63, 0xc3, 0xa9]), "c\u{c3}\u{a9}");
    assert_eq!(latin1_decode(&[0xff, 0x00]), "\u{ff}\u{0}");
}

#[test]
fn loads_structure_errors() {
    let signer = Signer::new(&Secrets::new(KEY), DEFAULT_SALT);
    assert_eq!(
        signer.loads("no-separator", None, t(0)),
        Err(SigningError::BadSignature)
    );
    // Correctly signed but no timestamp.
    let signed = signer.sign("e30");
    assert_eq!(
        signer.loads(&signed, None, t(0)),
        Err(SigningError::Malformed)
    );
    // Correctly signed, bad timestamp / base64.
    for v in ["e30:!!", "e30:", "e:0", ".e30:0", "e30:zzzzzzzzzzzzzz"] {
        let signed = signer.sign(v);
        assert_eq!(
            signer.loads(&signed, None, t(0)),
            Err(SigningError::Malformed),
            "{v}"
        );
    }
}

proptest! {
    #[test]
    fn base62_round_trips(n in any::<i64>()) {
        prop_assert_eq!(b62_decode(&b62_encode(n)), Some(n));
    }

    #[test]
    fn base64_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(b64_decode(&b64_encode(&bytes)), Some(bytes));
    }

    #[test]
    fn dumps_then_loads(text in "[ -~]{0,300}", compress in any::<bool>(), ts in -1_000_000_000i64..4_000_000_000) {
        let signer = Signer::new(&Secrets::new("k").with_fallback("old"), "salt");
        let signed = signer.dumps(&text, compress, t(ts));
        let (back, at) = signer.loads(&signed, None, t(0)).unwrap();
        prop_assert_eq!(back, text);
        prop_assert_eq!(at, t(ts));
    }

    #[test]
    fn skipped_compression_never_pays(
        text in prop_oneof!["[ -~]{0,64}", "[a-d]{0,64}", "[0-9a-f]{0,64}", r#"\{"count":[0-9]{1,12}\}"#],
    ) {
        // Whenever compression is skipped, Python's rule would have kept the plain form.
        let data = text.as_bytes();
        if compression_cannot_pay(data) {
            let c = zlib_compress(data).unwrap();
            prop_assert!(c.len() + 1 >= data.len(), "{} -> {} bytes", text, c.len());
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,200}") {
        let signer = Signer::new(&Secrets::new("k"), "salt");
        let _ = signer.loads(&s, Some(10), t(0));
        let _ = b62_decode(&s);
        let _ = b64_decode(&s);
    }

    #[test]
    fn signed_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300), ts in any::<i64>()) {
        // Valid signatures over arbitrary payloads reach base64, zlib and latin-1.
        let signer = Signer::new(&Secrets::new("k"), "salt").with_max_decompressed(4096);
        for value in [
            format!(".{}:{}", b64_encode(&bytes), b62_encode(ts)),
            format!("{}:{}", b64_encode(&bytes), b62_encode(ts)),
            format!(".{}:0", b64_encode(&[&[0x78, 0x9c][..], &bytes].concat())),
        ] {
            let _ = signer.loads(&signer.sign(&value), Some(5), t(0));
        }
        let _ = zlib_decompress(&bytes, 4096);
    }
}
