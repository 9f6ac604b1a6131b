//! Encodings checked against values Django 5.2 produced (`TimestampSigner.timestamp`
//! pinned to 1_767_225_600, `SECRET_KEY = "anchor-secret-key-for-vectors"`): the session
//! string, the cookie (plain and compressed) and the size limit's bisection both ways.

use sessionkit_core::Session;
use time::OffsetDateTime;

use super::codec::*;
use super::*;
use crate::signing::Secrets;

const SECRET: &str = "anchor-secret-key-for-vectors";
const SESSION: &str = r##"[["__json_message", 0, 20, "hello", ""], ["__json_message", 1, 25, "<b>ok</b>", "extra"], ["__json_message", 0, 40, "caf\u00e9 \"q\"\n"], ["__json_message", 0, 30, "xxxxxxxxxx"]]"##;
const COOKIE: &str = r##".eJyLjlaKj88qzs-Lz00tLk5MT1XSMdAxMtBRykjNyclX0lFSitXBVGKoY2Sqo2STZJefbaOfZAdUllpRUpSIVa2BjgnQuOTEtJhSA4NUS4UYpcIYpZg8HGqNgWor4EApNhYADq4zZw:1vb66i:uy-wg1e995pHOfGsWkI3VHMopn9ry-DquBMxGS8VAK8"##;
const COOKIE_ONE: &str = r##"W1siX19qc29uX21lc3NhZ2UiLDAsMjAsImhlbGxvIiwiIl1d:1vb66i:QdEjk_hELLGqgwg5shxXGZda_5adFl6SM2qa0Ab7l08"##;
const COOKIE_COMPRESSED: &str = r##".eJyLjlaKj88qzs-Lz00tLk5MT1XSMdAxMtBRykjNyclXKM8vyklRGAlsJR0lpdhYAIXrYus:1vb66i:Sw8dxYGCdV_yj6OPG2PjbTelNwK-Fad0gW3coe9Ayt8"##;
const BIG_KEEP_NEWEST: &str = r##".eJyFV82OLTcKfpde35IMBmyeJYpaBsNMRsrN4s77K9_RZD3Vi5a6TpfB8P2d3377-v7-z6-_fn7_Wb9-nX_V14_xg8ePrz_H0KeaL_G6NVe4cJxzh5FoqcRIIz_UzJNXcEVkR-XarWpyuqbfrx9fX7__-D8l7KnVloNoLat9Y-Wdc4QKLem7rNcdTBZGPPc62o0qm8p6OLnt-VpiPcsHm3uUcO6zS6wjQnTQYlNatS2YU-3Q9l7Geuwe8bEpWJReS-yH01gwiLyXGXchdrmoMmmcPGOMM27byR2Gu7hdH9XD-lYHhvV-C3_IFff-LGNl3TG6KUtH8JBVmIytXBaUcSpOlOL82Ssnbhmhsd5K0HjkiNwknSY49ezRtUf5mC6qmWRj86bNeM6YTFMpz3lu2Wm6V19L0COdG-_aqQxZl7ftFAyhJm63Jp-J60WmJePp5GGc2MPCALUq9msJfiyUrky6rXc1CUZSWZm9vG7Pe7dRzpBh3iOIzAhVq09GHKf3EvOZfeNM7YFxoX9j35buDArspYoHuojmWHx8OAbHvUrWqP-t8L2EPFt5ne34dxaa5oqFA1-HiQHdSJ-N_iP2-FyGKuqexDtL273sFbQEdqPvPqa-Lya_bAMuYERIGKpsHISTt07sHwDGaBhYAkUNv3fceC1hT4BdbZc8gVB0WXuGj5Xqqmw3P40Pu7EZwDYdV-8943hL1s7rryXWI8CgymjSIXlp0Rgpe2ptgB5rveJOpADzru4e6n52MxopC69X6tF-pNLxWiePiQp2QCqQBBCFCB3yyM-21INV4xoossF7qI12XZLzWsIfFzAacgOw4ijg9sw763wQOVUXlAkbXgcAEACJskFwSQ3JsyBZr-zm8bTmmdix7EPX6vRn1xttdujSnLmoaUONNsn8yMbmWzTv4es8-HXdTI81sAOpJlaQF5oHml9e7rcvCJLscBHoOs5rjwliY06c1HF3i7zugvlZwOWEzRTEoeEUPvIOmMI0XXfuHbAIYV_N7Yus26wckpsD0LrjFVE8HwWzseK7ivEOJuT9WfdaviagAA00GvsCVPcAdFCZ1dAT2opbwGxeS8iTwKxBgMov1fI8zjLXRhnYW3TIFYHrEbh8hQ7cZAQ0xyx1kr9Tj_WJjyfsNRPtwaVTxC50BHbjgrmZnqUWB2rUmBSuRREG74aVLzT3Pih7PgohJ8bOk0t0FYgGLR1wWFSBdo9Vn_WSng-k7oryXSgGfxEg97XEemwNA9yvLxlCaswG0_tsovnEBk7vBCwwQKsBUYQs3Y9tJKZ28_Rrif2oFznKXNjGdOAF0p0IBp_JVcDJKWHmHqr4S-KeBXGC8Nu0Cx14v4U_U2nqOccSi4eow3wyZmPj2Och0Bspi2lk2SiQB2Y1ZgHVHwKJvvrFHA_yR9hI3ekQZ6QK5IMNV2IwD9BnuHSA9ALILiAPJk5hCV_ZWfASeS1BD65fcxYiFF71FUu36mmLzhsZcI-IW94uDtcutE4F-jRTK4jyuovJT7FDJmgjXEI2YsTAlu8nmMHmVg5BAsmWbZVAxzkYK0EIG8QXwPeVF3M-aT3hlMtFDsgkHwGZjogIGVn4IW2kK_3kAQeWgbirrYwnSKrb3wcF7_5gFCebbqjhJKSAGgEd1323IO-CiYARRAouCOTq6hr4EOKOZup9UPpAkgQsP40MrfGhHNRqIoRDiPyD41Mb3gNJnGt6QRTn5tVQZZvi-qq00x74nI694fVImgyQwBKQbXhjWOfCJJCnCobFcKHJpIkpCYI7roJVvgvIRDI_RqFzAYv1wfooGHYDOAl-kxSPz6cR8O6A094FBwHrQD0oAdz2tcR-TkFbCclJEAMRPCfCanJgCYQIAMVG6kRKXA6YogcQyD4Ts8U9GpHttYQ_MCF8cZB58Z0EbeXHrVlgOGAH2D5lhXTFBYAbes8qyJ4XGC-Rmv3PoFDhn8N__fzrv_3Hzz9-_bvu9_fX738DGT_H5g:1vb66i:lVtCaIXIlfnUF2CHkHHhdCCkXiAG3O8pm3CrsTflv8A"##;
const BIG_KEEP_OLDEST: &str = r##".eJyFV8nO3roNfZesY0CkOIjPUhSBKIodgN4u0vdHj3G7rrOL_8-iSJ7Jf_nLj1-__vn733_8-tf9_Xv_7f74OX7y-PnjX2OMR_uem2bdZ1nPVaHsy46VhR2Pw5WHZ1TJDUox5yifm71T_caPnz9-_PXn_ylBj-WyZJ_dU_pcisKTIbdb92x18V1b7t7MTSVxBl3lqvTlmpKfJfgp8akXtzK9ZPfegYPDaWWk1piDcKrXSjtKHaP23Gb44aG5c-pnifnIHS5jqXHeSpw0zh16qO5pVC6ydOY5wrzuoDYZ6VcwrpRA258l5JFkdvwrqaI-Rsd6LWlZJlSDU4qYanZNXifHStWJH-5TO3vtzxL63GacgRtOzxDOvWsYiV6VHKgYmxpdsCffzNN5j69WNdnoMuqzhD3X27BCcre7sMRTc45UIZcut3Z0gmEZ8Vy-FcDrXHStR1DYmp8l_PEYbBF5hc_a64p1ZooOciCA_L6A46O2aUW7sW4DxGIsShalzxLr4WMsGMSpYkYvxCGFKpPGPhvM2aPa9gEQ0EtYxbg9rOt2YljfXcRDoej7XYafW2N007k6kof4xWTMj1vSyX1z51WcP9sPwOyZmv5VgsYjW6QO6TTBqXuNvmvcGDNE9RyysXjRYjxnTKZf4k2A-doGFeuTF0QPKL3wru17Urx42Trgdt6J7nzynmgvz7HDeDp5GB_swTFAvTfXZwmGgCh0YVK1ljcJRgLROqc9bvWsWqDKTBkWPZLIjFD19j6ZO-i7xHzAqdxTe2BcuL9xQAMjGBSACCkeqBPN4bxjBAbH_ZJ73D9X-F1CngVh3SvwcxaaFoqFA1-bCcTWPDEb909I49sMXcjMPnjHtSOufYKWwG7cu7dpLEg0uy3ABYyAhhqqLByEk5dO7B8AxmgYWAJFjV5trE-lJXsS7Gor6CkQilveNTOGHw1VtjrvxYdBICFlZTpKq_bY0XLuOvXpF-SPAIMqo0mHnCKnMY4s6PsC6LFWWEQQKcC84CE9NGKvZlzkWsb9pB4tiPkJvNaHx0QF2yAVSAKIQoQ2RZ53WxrJqlkGiizwHmoDuyyST6WleELAaMgNwIqjgNs9a979InKqOpQJG_YNAAiARDARvXLgd2c7JOuT3Tye1rMndixrU9nd_e564ZqvNeuZx6kJ3rEXyXxlY3FdmrW5gmEnnyXg3Q3sQKqJFeSF5oHmxR5RXSDI4YCLQNdxXkdOEBtz4kOdtVrkcxfMjwOXEzZzIQ4Np4hxasAUpqnXXDC5buHw5oajI6jAtwOSewagVeMTUTwfBbOx4vLLeAcTin7X7R4-AQVooNFYBVDVBuigMt7QE1qKLmA2nyXkQUZSgwDdKLqITTtYpi-Ugb1lw7pF4HoIH1FCG24yEppjCCQTieh7F_rk6wnL58H14NJHxAo6ArsJwdxMt6slktlqTAptUabBu2HlSEf2PSh7XoWQjWSBTOHy5jsiaOmAw6IKtHv4fddLul9IleeNdVEM_iJA7mcJf8yHAe4VSFNCiFNsML13E807F3BaE7DAAO0OiCJkqV7bOJhand2fJdajgZCJMgXbmAG8QLoPgsE7uZtwcjowcyRDxf8kazvECcJv0wo68N1FPFNp6t7bDha_3mA8Ts7GxrHPTaA3UhYTMqKNC_LArMa8QPVLINFPv5jjQf54Q6auExBnpArkgwVXYjAP0Ge4dIL0Asg6kAcTJ8Rb-Mo6F14inyXoQft3zosIhVfD03Wp7rbsg9SfcI_MutEhAde-uDpd0KeZEN3hX58l-LkckAlaCJeQjRw5sOV6gxlszs9ApObzJtx7gI69MVaCEOJLZAng-8mLOR-k5Amn9BDZIJO8AjIDEREy8sZp0ka60jcPBLAMxJW2Mp4gqa74HhS8-8UoTjZdUMNJSAF34LtBdRUC-vu5BFkFiEE3_A3K1fg4wCY2cIFI-GcJVPjf4b__-Pd_-h9__OP332_9-vXjr_8FU5rLmA:1vb66i:hUTUQQbBR87HP7iYpXCvTO6J_XXScmcP7HjKMKgHEsM"##;

fn t1() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap()
}

fn config() -> MessagesConfig {
    MessagesConfig::new(&Secrets::new(SECRET))
}

/// The four messages of the vectors.
fn four() -> Vec<Message> {
    vec![
        Message::new(INFO, "hello"),
        Message::new(SUCCESS, "<b>ok</b>")
            .with_extra_tags("extra")
            .mark_safe(),
        Message {
            level: ERROR,
            message: "caf\u{e9} \"q\"\n".into(),
            extra_tags: None,
            safe: false,
        },
        Message {
            level: WARNING,
            message: "x".repeat(10),
            extra_tags: None,
            safe: false,
        },
    ]
}

/// The 40 messages of the size-limit vectors: `m000-<sha256("0")>`…
fn big() -> Vec<Message> {
    use sha2::Digest as _;
    (0..40)
        .map(|i| {
            let digest = sha2::Sha256::digest(i.to_string().as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            Message::new(INFO, format!("m{i:03}-{hex}"))
        })
        .collect()
}

#[test]
fn session_string_is_djangos() {
    assert_eq!(encode_session(&four()), SESSION);
    assert_eq!(decode_session(SESSION), Some(four()));
}

#[test]
fn cookie_is_djangos() {
    let c = config();
    assert_eq!(encode_cookie(&four(), c.signer(), t1()), COOKIE);
    assert_eq!(
        encode_cookie(&[Message::new(INFO, "hello")], c.signer(), t1()),
        COOKIE_ONE
    );
    let long = [Message::new(INFO, "hello world ".repeat(20))];
    assert_eq!(encode_cookie(&long, c.signer(), t1()), COOKIE_COMPRESSED);
    for (value, messages) in [(COOKIE, four()), (COOKIE_COMPRESSED, long.to_vec())] {
        let d = decode_cookie(value, c.signer()).unwrap();
        assert_eq!((d.messages, d.not_finished), (messages, false));
    }
    // Another secret, a tampered value, garbage: refused.
    let other = MessagesConfig::new(&Secrets::new("other"));
    assert_eq!(decode_cookie(COOKIE, other.signer()), None);
    assert_eq!(decode_cookie(&COOKIE.replace('a', "b"), c.signer()), None);
    assert_eq!(decode_cookie("", c.signer()), None);
    // A fallback key still reads it.
    let rotated = MessagesConfig::new(&Secrets::new("new").with_fallback(SECRET));
    assert_eq!(
        decode_cookie(COOKIE, rotated.signer()).unwrap().messages,
        four()
    );
}

#[test]
fn the_size_limit_bisects_as_django() {
    let c = config();
    let messages = big();
    let newest = store_cookie(&messages, c.signer(), MAX_COOKIE_SIZE, true, t1());
    assert_eq!(newest.value.as_deref(), Some(BIG_KEEP_NEWEST));
    assert_eq!(newest.unstored, messages[..5].to_vec());
    let oldest = store_cookie(&messages, c.signer(), MAX_COOKIE_SIZE, false, t1());
    assert_eq!(oldest.value.as_deref(), Some(BIG_KEEP_OLDEST));
    assert_eq!(oldest.unstored, messages[messages.len() - 5..].to_vec());
    let d = decode_cookie(BIG_KEEP_OLDEST, c.signer()).unwrap();
    assert!(d.not_finished);
    assert_eq!(d.messages, messages[..messages.len() - 5].to_vec());
    // No limit: everything.
    let all = store_cookie(&messages, c.signer(), 0, false, t1());
    assert!(all.unstored.is_empty());
    assert_eq!(store_cookie(&[], c.signer(), 0, false, t1()).value, None);
}

#[test]
fn decoding_is_lenient_and_never_panics() {
    for bad in [
        "",
        "{",
        "{}",
        "1",
        "\"x\"",
        "[[\"__json_message\"]]",
        "[[1,2,3]]",
    ] {
        let d = decode_session(bad);
        assert!(d.is_none_or(|m| m.is_empty()), "{bad}");
    }
    // Level as Python's int(); a non-string text is skipped; the sentinel only at the end.
    let d = decode_list(
        r#"[["__json_message",true,"25","a"],["__json_message",0,20,5],"__messagesnotfinished__",["__json_message",0,40,"b",null]]"#,
    )
    .unwrap();
    assert!(!d.not_finished);
    assert_eq!(d.messages.len(), 2);
    assert!(d.messages[0].safe);
    assert_eq!(d.messages[0].level, SUCCESS);
    assert_eq!(d.messages[1].extra_tags, None);
}

#[test]
fn tags_and_levels() {
    let c = config().with_tags([(ERROR, "danger"), (35, "notice")]);
    assert_eq!(c.level_tag(ERROR), "danger");
    assert_eq!(c.level_tag(35), "notice");
    assert_eq!(c.level_tag(INFO), "info");
    assert_eq!(
        c.tags(&Message::new(INFO, "x").with_extra_tags("a b")),
        "a b info"
    );
    assert_eq!(c.tags(&Message::new(1, "x").with_extra_tags("a")), "a");
    let m = RequestMessages::new(&c, None, Some(Session::detached()));
    assert!(!m.debug("dropped at INFO"));
    assert!(!m.info(""));
    m.set_level(Some(DEBUG));
    assert!(m.debug("kept"));
    assert_eq!(m.level(), DEBUG);
    m.set_level(None);
    assert_eq!(m.level(), INFO);
}

#[test]
fn cookies_render_as_django() {
    let c = config();
    assert_eq!(
        c.set_cookie("v"),
        "messages=v; HttpOnly; Path=/; SameSite=Lax"
    );
    assert_eq!(
        c.removal_cookie(),
        r#"messages=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax"#
    );
}

fn session_with(storage: MessageStorage) -> (MessagesConfig, Session) {
    (config().with_storage(storage), Session::detached())
}

#[test]
fn session_storage_follows_djangos_update_rules() {
    let (c, s) = session_with(MessageStorage::Session);
    // Nothing read, nothing added: untouched.
    let m = RequestMessages::new(&c, None, Some(s.clone()));
    assert_eq!(m.update().unwrap(), Update::default());
    assert!(!s.modified());
    // Added: stored.
    let m = RequestMessages::new(&c, None, Some(s.clone()));
    m.info("one");
    let _ = m.update().unwrap();
    // Added again without reading: appended.
    let m = RequestMessages::new(&c, None, Some(s.clone()));
    m.warning("two");
    assert_eq!(m.len(), 2);
    let _ = m.update().unwrap();
    let stored: String = s.get(SESSION_KEY).unwrap().unwrap();
    assert_eq!(
        stored,
        r#"[["__json_message", 0, 20, "one", ""], ["__json_message", 0, 30, "two", ""]]"#
    );
    // Read, then one added: only the new one stays.
    let m = RequestMessages::new(&c, None, Some(s.clone()));
    let texts: Vec<String> = m.consume().into_iter().map(|m| m.message).collect();
    assert_eq!(texts, ["one", "two"]);
    m.error("three");
    let _ = m.update().unwrap();
    let m = RequestMessages::new(&c, None, Some(s.clone()));
    assert_eq!(m.consume().len(), 1);
    let _ = m.update().unwrap();
    assert!(!s.contains_key(SESSION_KEY));
}

#[test]
fn fallback_storage_uses_the_cookie_then_the_session() {
    let (c, s) = session_with(MessageStorage::Fallback);
    let m = RequestMessages::new(&c, None, Some(s.clone()));
    m.success("fits");
    let up = m.update().unwrap();
    let Some(CookieUpdate::Set(cookie)) = up.cookie else {
        panic!("{up:?}")
    };
    assert!(!s.contains_key(SESSION_KEY));
    // Next request reads it: the cookie is deleted.
    let m = RequestMessages::new(&c, Some(&cookie), Some(s.clone()));
    assert_eq!(m.consume()[0].message, "fits");
    assert_eq!(m.update().unwrap().cookie, Some(CookieUpdate::Delete));

    // Too many for the cookie: the newest go to the session.
    let m = RequestMessages::new(&c, None, Some(s.clone()));
    for msg in big() {
        m.add_message(msg);
    }
    let up = m.update().unwrap();
    assert!(up.unstored.is_empty());
    let Some(CookieUpdate::Set(cookie)) = up.cookie else {
        panic!("{up:?}")
    };
    assert!(cookie.len() <= MAX_COOKIE_SIZE);
    assert!(s.contains_key(SESSION_KEY));
    let m = RequestMessages::new(&c, Some(&cookie), Some(s.clone()));
    assert_eq!(m.consume(), big());
    assert_eq!(m.update().unwrap().cookie, Some(CookieUpdate::Delete));
    assert!(!s.contains_key(SESSION_KEY));

    // A bad cookie under fallback: ignored, left alone (Django's behaviour).
    let m = RequestMessages::new(&c, Some("junk"), Some(s.clone()));
    assert!(m.consume().is_empty());
    assert_eq!(m.update().unwrap().cookie, None);
}

#[test]
fn cookie_storage_drops_the_oldest_and_deletes_a_bad_cookie() {
    let c = config().with_storage(MessageStorage::Cookie);
    let m = RequestMessages::new(&c, None, None);
    for msg in big() {
        m.add_message(msg);
    }
    let up = m.update().unwrap();
    assert_eq!(up.unstored, big()[..5].to_vec());
    let m = RequestMessages::new(&c, Some("junk"), None);
    assert!(m.is_empty());
    assert_eq!(m.update().unwrap().cookie, Some(CookieUpdate::Delete));
}
