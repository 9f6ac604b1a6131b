//! The end-of-request decision: Django's `SessionMiddleware.process_response`, as a pure
//! function of the session's state, the incoming cookie, the response status, the
//! configuration and the time. No I/O, no clock, no locks: [`decide`] is unit-tested
//! rule by rule (`plan/tests.rs`), and `commit.rs` carries out what it returns.

use time::OffsetDateTime;

use super::load::Origin;
use crate::config::Config;
use crate::expiry;
use crate::key::SessionKey;
use crate::session::{Identity, SessionView};
use crate::store::Token;

/// What the request's cookie said.
pub(crate) enum Incoming {
    /// No session cookie.
    Absent,
    /// A value shorter than 8 characters (Django deletes it even if untouched).
    TooShort,
    /// 8+ characters no store could hold: an unknown key, decided without a store query.
    Impossible,
    /// A well-formed key.
    Key(SessionKey),
    /// A client-side store's cookie value.
    Client(Box<str>),
}

impl Incoming {
    pub(crate) fn present(&self) -> bool {
        !matches!(self, Incoming::Absent)
    }
}

/// Everything the decision depends on.
pub(crate) struct PlanInput<'a> {
    pub(crate) incoming: &'a Incoming,
    /// The session as the handler left it, and where it came from; `None` when it was
    /// never loaded.
    pub(crate) session: Option<(SessionView, &'a Origin)>,
    pub(crate) status: u16,
    pub(crate) config: &'a Config,
    pub(crate) now: OffsetDateTime,
    /// The store keeps the session in the cookie.
    pub(crate) client_side: bool,
}

/// What to do at the end of the request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Delete this stored session first (a flush).
    pub(crate) delete: Option<SessionKey>,
    /// Send the removal cookie.
    pub(crate) cookie_removal: bool,
    /// Add `Cookie` to `Vary`.
    pub(crate) vary: bool,
    /// The write, if any.
    pub(crate) action: Action,
    /// A request carrying a rotated-away key wrote to the session; the write is dropped
    /// (the caller logs it).
    pub(crate) write_dropped: bool,
    /// The session was flushed (a logout): its end is reported once the deletion held.
    pub(crate) flushed: bool,
}

/// The write a plan asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    None,
    /// Store the session under a fresh key.
    Create,
    /// `cycle_key`: store the data under `new_key`, then retire `old_key`.
    Rotate {
        new_key: SessionKey,
        old_key: Option<SessionKey>,
        /// The session's creation time to keep (`None`: now — a new session, or a login).
        created_at: Option<OffsetDateTime>,
    },
    /// Compare-and-set save of a stored session.
    Save {
        key: SessionKey,
        token: Token,
        created_at: Option<OffsetDateTime>,
    },
    /// Move the expiry without rewriting the data.
    Touch {
        key: SessionKey,
        created_at: Option<OffsetDateTime>,
    },
    /// Write the session into its cookie (client-side stores).
    Encode,
}

impl Plan {
    fn nothing() -> Plan {
        Plan {
            delete: None,
            cookie_removal: false,
            vary: false,
            action: Action::None,
            write_dropped: false,
            flushed: false,
        }
    }

    fn remove_cookie() -> Plan {
        Plan {
            cookie_removal: true,
            vary: true,
            ..Plan::nothing()
        }
    }

    fn with(action: Action) -> Plan {
        Plan {
            action,
            vary: true,
            ..Plan::nothing()
        }
    }

    /// Whether carrying it out touches the store.
    pub(crate) fn needs_io(&self) -> bool {
        self.delete.is_some() || !matches!(self.action, Action::None | Action::Encode)
    }

    /// Whether the plan takes several store writes that must not be cut apart (a rotation:
    /// create, then retire; a flush followed by new data: delete, then create). A single
    /// write is atomic in every store, so a dropped request either made it or not.
    pub(crate) fn multi_step(&self) -> bool {
        matches!(self.action, Action::Rotate { .. })
            || (self.delete.is_some() && !matches!(self.action, Action::None))
    }
}

/// Whether the session must be loaded before deciding: `save_every_request` refreshes a
/// session even when the handler never asked for it, as Django does.
pub(crate) fn needs_load(incoming: &Incoming, loaded: bool, status: u16, cfg: &Config) -> bool {
    !loaded
        && cfg.save_every_request()
        && status < 500
        && incoming.present()
        && !matches!(incoming, Incoming::TooShort)
}

/// Django's middleware rules (see the [engine docs](super)).
pub(crate) fn decide(input: &PlanInput<'_>) -> Plan {
    let cfg = input.config;
    let present = input.incoming.present();
    let every_request = cfg.save_every_request();
    let untouched = input
        .session
        .is_none_or(|(view, _)| !view.accessed && !view.modified);
    if untouched {
        return decide_untouched(input);
    }
    let Some((view, origin)) = input.session else {
        return Plan::nothing();
    };
    let empty = view.identity == Identity::None && view.data_empty;
    let mut plan = Plan::nothing();
    plan.vary = view.accessed;
    plan.flushed = view.flushed;
    if view.flushed
        && let Origin::Stored { key, .. } = origin
    {
        plan.delete = Some(*key);
    }
    // Rule 1: a cookie came in and the session ended up empty.
    if present && empty {
        let in_grace = matches!(origin, Origin::Retired { until } if input.now < *until);
        // A key rotated away moments ago: no removal cookie, which would overwrite the
        // new one in the browser.
        plan.cookie_removal = !in_grace;
        plan.vary = true;
        return plan;
    }
    // Rule 2: a modified (or save-every-request) session is saved — not on a 5xx.
    if (view.modified || every_request) && !empty {
        if input.status >= 500 {
            return plan;
        }
        plan.vary = true;
        plan.action = match (view.identity, origin) {
            // A client-side session, new or not, is written into its cookie.
            _ if input.client_side => Action::Encode,
            (Identity::Client, _) => Action::Encode,
            (Identity::Key(new_key), origin) if view.cycled => {
                let (old_key, created_at) = match origin {
                    Origin::Stored { key, meta, .. } => (Some(*key), meta.created_at),
                    _ => (None, None),
                };
                Action::Rotate {
                    new_key,
                    old_key,
                    // A login restarts the absolute timeout; a plain cycle_key keeps it.
                    created_at: created_at.filter(|_| !view.renewed),
                }
            }
            (
                Identity::Key(_),
                Origin::Stored {
                    key, token, meta, ..
                },
            ) if view.modified => Action::Save {
                key: *key,
                token: token.clone(),
                created_at: meta.created_at,
            },
            (Identity::Key(_), Origin::Stored { key, meta, .. }) => Action::Touch {
                key: *key,
                created_at: meta.created_at,
            },
            (Identity::None, Origin::Retired { until }) if input.now < *until => {
                plan.vary = view.accessed;
                plan.write_dropped = true;
                Action::None
            }
            // Rule 3: a new session gets a fresh key (a client's key is never adopted).
            (Identity::None | Identity::Key(_), _) => Action::Create,
        };
        return plan;
    }
    // The idle timeout: refresh last_seen (and the cookie's Max-Age) now and then, with a
    // touch that does not rewrite the data.
    if input.status < 500
        && let (Some(interval), Origin::Stored { key, meta, .. }, Identity::Key(k)) =
            (cfg.touch_interval(), origin, view.identity)
        && k == *key
        && !view.cycled
        && meta
            .last_seen
            .is_none_or(|seen| expiry::add(seen, interval) <= input.now)
    {
        plan.action = Action::Touch {
            key: *key,
            created_at: meta.created_at,
        };
        plan.vary = true;
    }
    plan
}

/// A session the handler never used (or never loaded) behaves as Django's unloaded session:
/// nothing happens — except a too-short cookie, which Django deletes, and
/// `save_every_request`, which refreshes a stored session.
fn decide_untouched(input: &PlanInput<'_>) -> Plan {
    if matches!(input.incoming, Incoming::TooShort) {
        return Plan::remove_cookie();
    }
    if !input.config.save_every_request() || input.status >= 500 || !input.incoming.present() {
        return Plan::nothing();
    }
    let Some((view, origin)) = input.session else {
        // The load it needed failed (logged by the caller).
        return Plan::nothing();
    };
    match origin {
        Origin::Stored { key, meta, .. } => Plan::with(Action::Touch {
            key: *key,
            created_at: meta.created_at,
        }),
        Origin::Client if !view.data_empty => Plan::with(Action::Encode),
        // Django would store a new empty session for a garbage cookie; we refuse to create
        // records on reads and remove the cookie instead.
        Origin::Fresh | Origin::Client => Plan::remove_cookie(),
        Origin::Retired { .. } => Plan::nothing(),
    }
}

#[cfg(test)]
mod tests;
