//! The decision rule by rule, without a store, a runtime or a clock.

use std::time::Duration;

use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::store::Metadata;

const NOW: OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

fn key(c: char) -> SessionKey {
    SessionKey::parse(&c.to_string().repeat(32)).unwrap()
}

fn stored(last_seen: Option<OffsetDateTime>) -> Origin {
    Origin::Stored {
        key: key('a'),
        token: Token::version(7),
        meta: Metadata {
            created_at: Some(datetime!(2026-01-01 00:00 UTC)),
            last_seen,
            user_id: None,
            client: None,
        },
    }
}

/// A session as the handler left it: `identity`, accessed/modified flags, data or not.
fn view(identity: Identity, accessed: bool, modified: bool, data: bool) -> SessionView {
    SessionView {
        accessed,
        modified,
        flushed: false,
        cycled: false,
        renewed: false,
        identity,
        data_empty: !data,
    }
}

fn run(
    incoming: &Incoming,
    session: Option<(SessionView, &Origin)>,
    status: u16,
    config: &Config,
) -> Plan {
    decide(&PlanInput {
        incoming,
        session,
        status,
        config,
        now: NOW,
        client_side: false,
    })
}

fn cookie() -> Incoming {
    Incoming::Key(key('a'))
}

#[test]
fn nothing_loaded_nothing_happens() {
    let cfg = Config::default();
    for incoming in [Incoming::Absent, cookie(), Incoming::Impossible] {
        assert_eq!(run(&incoming, None, 200, &cfg), Plan::nothing());
    }
}

#[test]
fn a_too_short_cookie_is_removed_even_untouched() {
    let cfg = Config::default();
    assert_eq!(
        run(&Incoming::TooShort, None, 200, &cfg),
        Plan::remove_cookie()
    );
    assert_eq!(
        run(&Incoming::TooShort, None, 500, &cfg),
        Plan::remove_cookie()
    );
}

#[test]
fn a_loaded_but_unused_session_is_untouched() {
    let cfg = Config::default();
    let origin = stored(Some(NOW));
    let v = view(Identity::Key(key('a')), false, false, true);
    assert_eq!(
        run(&cookie(), Some((v, &origin)), 200, &cfg),
        Plan::nothing()
    );
}

#[test]
fn a_read_sends_vary_and_writes_nothing() {
    let cfg = Config::default();
    let origin = stored(Some(NOW));
    let v = view(Identity::Key(key('a')), true, false, true);
    let plan = run(&cookie(), Some((v, &origin)), 200, &cfg);
    assert_eq!((plan.vary, &plan.action), (true, &Action::None));
    assert!(!plan.cookie_removal);
}

#[test]
fn a_write_saves_with_the_loaded_token() {
    let cfg = Config::default();
    let origin = stored(Some(NOW));
    let v = view(Identity::Key(key('a')), true, true, true);
    let plan = run(&cookie(), Some((v, &origin)), 200, &cfg);
    assert_eq!(
        plan.action,
        Action::Save {
            key: key('a'),
            token: Token::version(7),
            created_at: Some(datetime!(2026-01-01 00:00 UTC)),
        }
    );
    assert!(plan.vary && !plan.multi_step() && plan.needs_io());
}

#[test]
fn a_new_session_is_created_and_a_clients_key_never_adopted() {
    let cfg = Config::default();
    for incoming in [Incoming::Absent, cookie(), Incoming::Impossible] {
        let v = view(Identity::None, true, true, true);
        let plan = run(&incoming, Some((v, &Origin::Fresh)), 200, &cfg);
        assert_eq!(plan.action, Action::Create);
        assert!(plan.vary);
    }
}

#[test]
fn a_5xx_writes_nothing_but_still_deletes() {
    let cfg = Config::default();
    let origin = stored(Some(NOW));
    let v = view(Identity::Key(key('a')), true, true, true);
    let plan = run(&cookie(), Some((v, &origin)), 503, &cfg);
    assert_eq!(plan.action, Action::None);
    assert!(plan.vary, "accessed");
    // A logout on a 5xx still happens.
    let mut flushed = view(Identity::None, true, true, false);
    flushed.flushed = true;
    let plan = run(&cookie(), Some((flushed, &origin)), 500, &cfg);
    assert_eq!(plan.delete, Some(key('a')));
    assert!(plan.cookie_removal && plan.vary);
}

#[test]
fn a_flush_deletes_and_removes_the_cookie() {
    let cfg = Config::default();
    let origin = stored(Some(NOW));
    let mut v = view(Identity::None, true, true, false);
    v.flushed = true;
    let plan = run(&cookie(), Some((v, &origin)), 200, &cfg);
    assert_eq!(plan.delete, Some(key('a')));
    assert!(plan.cookie_removal && plan.vary);
    assert_eq!(plan.action, Action::None);
    // Flush then write: delete, then a new session; two writes that must not be cut apart.
    v.data_empty = false;
    let plan = run(&cookie(), Some((v, &origin)), 200, &cfg);
    assert_eq!(
        (plan.delete, &plan.action),
        (Some(key('a')), &Action::Create)
    );
    assert!(!plan.cookie_removal && plan.multi_step());
}

#[test]
fn cycle_key_rotates_and_keeps_the_creation_time_unless_a_login() {
    let cfg = Config::default();
    let origin = stored(Some(NOW));
    let mut v = view(Identity::Key(key('b')), true, true, true);
    v.cycled = true;
    let plan = run(&cookie(), Some((v, &origin)), 200, &cfg);
    assert_eq!(
        plan.action,
        Action::Rotate {
            new_key: key('b'),
            old_key: Some(key('a')),
            created_at: Some(datetime!(2026-01-01 00:00 UTC)),
        }
    );
    assert!(plan.multi_step());
    v.renewed = true;
    let plan = run(&cookie(), Some((v, &origin)), 200, &cfg);
    assert!(matches!(
        plan.action,
        Action::Rotate {
            created_at: None,
            ..
        }
    ));
    // Not on a 5xx.
    assert_eq!(
        run(&cookie(), Some((v, &origin)), 500, &cfg).action,
        Action::None
    );
}

#[test]
fn a_rotated_away_key_gets_no_removal_cookie_within_the_grace_window() {
    let cfg = Config::default();
    let in_grace = Origin::Retired {
        until: NOW + Duration::from_secs(30),
    };
    let past = Origin::Retired {
        until: NOW - Duration::from_secs(1),
    };
    let read = view(Identity::None, true, false, false);
    let plan = run(&cookie(), Some((read, &in_grace)), 200, &cfg);
    assert!(!plan.cookie_removal && plan.vary);
    let plan = run(&cookie(), Some((read, &past)), 200, &cfg);
    assert!(plan.cookie_removal && plan.vary);
    // A write through the old key within the window is dropped, not a new session.
    let write = view(Identity::None, true, true, true);
    let plan = run(&cookie(), Some((write, &in_grace)), 200, &cfg);
    assert_eq!(plan.action, Action::None);
    assert!(plan.write_dropped);
    let plan = run(&cookie(), Some((write, &past)), 200, &cfg);
    assert_eq!(plan.action, Action::Create);
}

#[test]
fn save_every_request_refreshes_untouched_stored_sessions_only() {
    let cfg = Config::builder().save_every_request(true).build().unwrap();
    let origin = stored(Some(NOW));
    let untouched = view(Identity::Key(key('a')), false, false, true);
    let plan = run(&cookie(), Some((untouched, &origin)), 200, &cfg);
    assert!(matches!(plan.action, Action::Touch { .. }) && plan.vary);
    assert_eq!(
        run(&cookie(), Some((untouched, &origin)), 500, &cfg),
        Plan::nothing()
    );
    // An unknown key is not stored on a read: the cookie goes instead.
    let fresh = view(Identity::None, false, false, false);
    assert_eq!(
        run(&cookie(), Some((fresh, &Origin::Fresh)), 200, &cfg),
        Plan::remove_cookie()
    );
    // It needs the session loaded first, unless there is nothing to refresh.
    assert!(needs_load(&cookie(), false, 200, &cfg));
    assert!(!needs_load(&cookie(), true, 200, &cfg));
    assert!(!needs_load(&cookie(), false, 500, &cfg));
    assert!(!needs_load(&Incoming::Absent, false, 200, &cfg));
    assert!(!needs_load(&Incoming::TooShort, false, 200, &cfg));
    assert!(!needs_load(&cookie(), false, 200, &Config::default()));
}

#[test]
fn the_idle_timeout_touches_a_stale_session_on_a_read() {
    let cfg = Config::builder()
        .idle_timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let read = view(Identity::Key(key('a')), true, false, true);
    let stale = stored(Some(NOW - Duration::from_secs(60)));
    let plan = run(&cookie(), Some((read, &stale)), 200, &cfg);
    assert!(matches!(plan.action, Action::Touch { .. }) && plan.vary);
    let recent = stored(Some(NOW - Duration::from_secs(59)));
    assert_eq!(
        run(&cookie(), Some((read, &recent)), 200, &cfg).action,
        Action::None
    );
    assert_eq!(
        run(&cookie(), Some((read, &stale)), 500, &cfg).action,
        Action::None
    );
}

#[test]
fn client_side_sessions_are_encoded() {
    let cfg = Config::default();
    let v = view(Identity::None, true, true, true);
    let plan = decide(&PlanInput {
        incoming: &Incoming::Absent,
        session: Some((v, &Origin::Fresh)),
        status: 200,
        config: &cfg,
        now: NOW,
        client_side: true,
    });
    assert_eq!(plan.action, Action::Encode);
    assert!(!plan.needs_io());
}
