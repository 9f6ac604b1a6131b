//! Carrying out a [`Plan`]: the writes, each through the store client, and the cookies
//! they produce.
//!
//! * **create** — a fresh random key, insert-if-absent (a collision retries with another
//!   key);
//! * **rotate** — `cycle_key`: the new record is written first, then the old key retired
//!   (a marker that keeps late requests from removing the new cookie);
//! * **save** — compare-and-set; on a conflict the session is reloaded, this request's
//!   operations are replayed on the fresh data and the save retried (the retry policy:
//!   docs/DESIGN.md, "Concurrency and the retry policy");
//! * **touch** — the expiry only; **encode** — a client-side store's cookie.

use std::time::Duration;

use time::OffsetDateTime;

use super::failure::{Failure, Outcome, SessionHeader, Vary};
use super::load::Origin;
use super::plan::{Action, Plan};
use super::stats::{Ev, Stats};
use super::store_client::StoreClient;
use super::{Backend, RequestSession};
use crate::cookie;
use crate::data::Data;
use crate::device::ClientInfo;
use crate::events::Event;
use crate::expiry;
use crate::key::{Fingerprint, SessionKey};
use crate::session::{AuthChange, Before, Op, Session};
use crate::store::{
    CreateOutcome, Lookup, Metadata, Record, SaveOutcome, Token, check_cookie_size,
};

/// How many fresh keys `create` tries before giving up (a collision of 165-bit random
/// keys means a broken random source, not bad luck).
const CREATE_ATTEMPTS: usize = 8;

/// How many compare-and-set retries happen at once, before the backoff starts.
const IMMEDIATE_RETRIES: u32 = 4;

/// A write's result: the id to hand the client, if any.
type Written = Result<Option<Issue>, Failure>;

/// An id to hand the client after a write, with what its cookie's lifetime depends on.
pub(crate) struct Issue {
    /// The session key, or a client-side store's token.
    value: String,
    /// The data as written (the cookie's Max-Age follows its expiry).
    data: Data,
    /// When it was written.
    now: OffsetDateTime,
    /// The session's creation time (the absolute timeout caps the cookie's lifetime).
    created: OffsetDateTime,
}

impl RequestSession {
    /// Carries out `plan`, decided at `now` (the time the writes use: one clock reading
    /// per request's commit; a retry after a conflict reads the clock again).
    pub(super) async fn commit(&self, plan: Plan, mut now: OffsetDateTime) -> Outcome {
        let engine = self.engine();
        if plan.needs_io()
            && let Some(d) = engine.inner.save_delay
        {
            tokio::time::sleep(d).await;
            now = engine.clock().now();
        }
        let cfg = engine.config();
        let vary = Vary::of(cfg, plan.vary);
        let mut outcome = Outcome::default();
        vary.clone().apply(&mut outcome);
        if let (Some(key), Some(client)) = (plan.delete, engine.server()) {
            // A failed logout must not look like a successful one.
            if let Err(failure) = client.delete(&key).await {
                return Outcome::failed(failure, Vary::default());
            }
            engine.inner.stats.add(Ev::Deletes);
        }
        let auth = self.session().ok().and_then(Session::take_auth_change);
        if plan.flushed {
            // The session ended (its record, if any, is gone).
            let key = plan.delete.map(|k| k.fingerprint());
            engine.emit(match &auth {
                Some(AuthChange::LoggedOut(user)) => Event::LoggedOut {
                    key,
                    user: user.clone(),
                },
                _ => Event::Flushed {
                    key,
                    user: self.session().ok().and_then(Session::loaded_user_id),
                },
            });
        }
        if plan.cookie_removal {
            // The client's copy of the id is withdrawn: the removal cookie, an empty header.
            if cfg.uses_cookie() {
                outcome.set_cookie.push(cookie::removal_cookie(cfg));
            }
            outcome.session_header = session_header(cfg, String::new());
        }
        let client_side = matches!(plan.action, Action::Encode);
        let written = match plan.action {
            Action::None => return outcome,
            Action::Create => self.create_new(now).await,
            Action::Rotate {
                new_key,
                old_key,
                created_at,
            } => self.rotate(new_key, old_key, created_at, now).await,
            Action::Save {
                key,
                token,
                created_at,
            } => self.save_existing(key, token, created_at, now).await,
            Action::Touch { key, created_at } => self.touch(key, created_at, now).await,
            Action::Encode => self.encode(now),
        };
        match written {
            Ok(Some(issue)) => {
                if let Some(AuthChange::LoggedIn(user)) = auth {
                    let key = (!client_side).then(|| Fingerprint::of(&issue.value));
                    engine.emit(Event::LoggedIn {
                        key,
                        user: user.clone(),
                    });
                    if !client_side && let Some(current) = SessionKey::parse(&issue.value) {
                        engine.enforce_session_limit(&user, &current).await;
                    }
                }
                // The id leaves the way the transport says: the cookie, the header, or both.
                if cfg.uses_cookie() {
                    let max_age =
                        expiry::cookie_max_age(cfg, &issue.data, issue.now, issue.created);
                    outcome.set_cookie.push(cookie::set_cookie(
                        cfg,
                        &issue.value,
                        max_age,
                        issue.now,
                    ));
                }
                outcome.session_header = session_header(cfg, issue.value);
                outcome
            }
            Ok(None) => outcome,
            Err(failure) => Outcome::failed(failure, vary),
        }
    }

    /// The loaded session (writes happen only for loaded sessions).
    fn session(&self) -> Result<&Session, Failure> {
        self.inner
            .loaded
            .get()
            .map(|l| &l.session)
            .ok_or_else(Failure::internal)
    }

    fn client(&self) -> Result<&StoreClient, Failure> {
        self.engine().server().ok_or_else(Failure::internal)
    }

    /// The record to store for `data` written at `now`.
    fn record(
        &self,
        data: Data,
        now: OffsetDateTime,
        created_at: Option<OffsetDateTime>,
        client: Option<ClientInfo>,
    ) -> Record {
        let cfg = self.engine().config();
        let created_at = created_at.unwrap_or(now);
        Record {
            expires_at: expiry::record_expiry(cfg, &data, now, created_at),
            meta: Metadata {
                created_at: Some(created_at),
                last_seen: Some(now),
                user_id: data.user_id(),
                client,
            },
            data,
        }
    }

    /// The client info a write records (see [`crate::device`]): none with
    /// `record_client_info` off (which erases what the session had); this request's client
    /// when its adapter reported it; else, when `inherit`, what the loaded session had.
    fn client_info(&self, inherit: bool) -> Option<ClientInfo> {
        if !self.engine().config().record_client_info() {
            return None;
        }
        let stored = match self.inner.loaded.get().map(|l| &l.origin) {
            Some(Origin::Stored { meta, .. }) => meta.client.as_ref(),
            _ => None,
        };
        match &self.inner.client {
            // The request's user agent was sanitized by `begin`.
            Some(c) => Some(ClientInfo::of_request(
                c.ip,
                c.user_agent.as_deref(),
                stored,
            )),
            None if inherit => stored.cloned(),
            None => None,
        }
    }

    /// The id to hand the client for a record written at `now`.
    fn issue(value: &str, record: &Record, now: OffsetDateTime) -> Issue {
        Issue {
            value: value.to_owned(),
            data: record.data.clone(),
            now,
            created: record.meta.created_at.unwrap_or(now),
        }
    }

    async fn create_new(&self, now: OffsetDateTime) -> Written {
        let session = self.session()?;
        let record = self.record(session.data(), now, None, self.client_info(false));
        let key = self.insert_fresh(&record, now).await?;
        session.set_stored_key(key);
        self.engine().emit(Event::Created {
            key: Some(key.fingerprint()),
            user: record.meta.user_id.clone(),
        });
        Ok(Some(Self::issue(key.as_str(), &record, now)))
    }

    /// Stores `record` under a new random key (retrying collisions).
    async fn insert_fresh(
        &self,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<SessionKey, Failure> {
        let client = self.client()?;
        for _ in 0..CREATE_ATTEMPTS {
            let key = SessionKey::generate();
            match client.create(&key, record, now).await? {
                CreateOutcome::Created(_) => {
                    self.engine().inner.stats.add(Ev::Creates);
                    return Ok(key);
                }
                CreateOutcome::Collision => {
                    tracing::warn!("session key collision; generating another");
                }
            }
        }
        tracing::error!("could not find a free session key after {CREATE_ATTEMPTS} attempts");
        Err(client.unavailable())
    }

    /// `cycle_key`: write the new record first, then retire the old key.
    async fn rotate(
        &self,
        new_key: SessionKey,
        old_key: Option<SessionKey>,
        created_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Written {
        let engine = self.engine();
        let client = self.client()?;
        let session = self.session()?;
        let record = self.record(session.data(), now, created_at, self.client_info(true));
        let key = match client.create(&new_key, &record, now).await? {
            CreateOutcome::Created(_) => {
                engine.inner.stats.add(Ev::Creates);
                new_key
            }
            CreateOutcome::Collision => self.insert_fresh(&record, now).await?,
        };
        session.set_stored_key(key);
        engine.inner.stats.add(Ev::Rotations);
        engine.emit(Event::Rotated {
            old: old_key.map(|k| k.fingerprint()),
            new: key.fingerprint(),
            user: record.meta.user_id.clone(),
        });
        if let Some(old) = old_key {
            let until = expiry::add(now, engine.config().rotation_grace());
            // A failure is logged by the client; the new session exists and the client
            // gets it, the old key merely lingers until it expires.
            let _ = client.retire(&old, until).await;
        }
        Ok(Some(Self::issue(key.as_str(), &record, now)))
    }

    /// Compare-and-set save with reload and replay on conflict.
    async fn save_existing(
        &self,
        key: SessionKey,
        mut token: Token,
        mut created_at: Option<OffsetDateTime>,
        first_now: OffsetDateTime,
    ) -> Written {
        let engine = self.engine();
        let stats = &engine.inner.stats;
        let cfg = engine.config();
        let client = self.client()?;
        let session = self.session()?;
        let (ops, before) = session.take_ops();
        // Queue behind other saves of this session on this node (bounded by the save
        // timeout; past it, go on optimistically).
        let (_queued, waited) = engine.inner.saves.acquire(&key, cfg.save_timeout()).await;
        let first_now = if waited {
            engine.clock().now()
        } else {
            first_now
        };
        let mut data = session.data();
        let client_info = self.client_info(true);
        for attempt in 0..cfg.max_save_attempts() {
            let now = if attempt == 0 {
                first_now
            } else {
                engine.clock().now()
            };
            let record = self.record(data, now, created_at, client_info.clone());
            match client.save(&key, &record, &token, now).await? {
                SaveOutcome::Saved(_) => {
                    stats.add(Ev::Saves);
                    if attempt > 0 {
                        // Let the handler's clones see what was stored.
                        session.set_data(record.data.clone());
                        engine.emit(Event::Replayed {
                            key: key.fingerprint(),
                            times: attempt,
                        });
                    }
                    return Ok(Some(Self::issue(key.as_str(), &record, now)));
                }
                SaveOutcome::Missing => {
                    stats.add(Ev::Interrupted);
                    tracing::info!(key = %key.fingerprint(), "session deleted during the request; not resurrected");
                    engine.emit(Event::Interrupted {
                        key: key.fingerprint(),
                    });
                    return Err(Failure::interrupted());
                }
                SaveOutcome::Conflict => {
                    stats.add(Ev::Conflicts);
                    if attempt >= IMMEDIATE_RETRIES {
                        backoff(attempt).await;
                    }
                    match client.reload(&key, engine.clock().now()).await? {
                        Lookup::Found {
                            record: fresh,
                            token: t,
                        } => {
                            stats.add(Ev::Replays);
                            data = replay(fresh.data, &ops, &before, stats);
                            token = t;
                            created_at = fresh.meta.created_at.or(created_at);
                        }
                        Lookup::Missing | Lookup::Retired { .. } => {
                            stats.add(Ev::Interrupted);
                            engine.emit(Event::Interrupted {
                                key: key.fingerprint(),
                            });
                            return Err(Failure::interrupted());
                        }
                    }
                }
            }
        }
        stats.add(Ev::Exhausted);
        tracing::error!(key = %key.fingerprint(), attempts = cfg.max_save_attempts(), "session save kept conflicting; giving up");
        Err(client.unavailable())
    }

    async fn touch(
        &self,
        key: SessionKey,
        created_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Written {
        let engine = self.engine();
        let client = self.client()?;
        // The record as it stands (data unchanged), for its expiry and the cookie.
        // (A touch rewrites neither the data nor the client info.)
        let record = self.record(self.session()?.data(), now, created_at, None);
        if client.touch(&key, record.expires_at, now).await? {
            engine.inner.stats.add(Ev::Touches);
            Ok(Some(Self::issue(key.as_str(), &record, now)))
        } else {
            Ok(None)
        }
    }

    fn encode(&self, now: OffsetDateTime) -> Written {
        let engine = self.engine();
        let Backend::Client(store) = &engine.inner.backend else {
            return Err(Failure::internal());
        };
        let data = self.session()?.data();
        let encoded = store.encode(&data, now).and_then(|value| {
            check_cookie_size("the session cookie", engine.config().cookie_name(), &value)?;
            Ok(value)
        });
        match encoded {
            Ok(value) => {
                engine.inner.stats.add(Ev::Saves);
                Ok(Some(Issue {
                    value,
                    data,
                    now,
                    created: now,
                }))
            }
            Err(e) => {
                tracing::error!(error = %e.report(), store = %store.describe(), "session could not be written to its cookie");
                Err(Failure::internal())
            }
        }
    }
}

/// Re-applies a request's operations to freshly loaded data; `before` holds what the data
/// held as loaded under each key the request changed.
fn replay(fresh: Data, ops: &[Op], before: &Before, stats: &Stats) -> Data {
    let mut seen = Vec::new();
    for op in ops {
        if let Op::Set(k, _) = op
            && !seen.contains(&k)
        {
            seen.push(k);
            // Every changed key's loaded value is kept before its first change; a key
            // without one would be a bug, and counts as changed (never silent).
            let unchanged = before.get(k).is_some_and(|held| fresh.holds(k, held));
            if !unchanged {
                // Read-then-write by this request, changed meanwhile by another:
                // last writer wins on this key. Counted, so it is never silent.
                stats.add(Ev::Overwrites);
            }
        }
    }
    let mut data = fresh;
    for op in ops {
        match op {
            Op::Set(k, v) => data.insert(k.clone(), v.clone()),
            Op::Remove(k) => {
                data.remove(k);
            }
            Op::Clear => data.clear(),
            Op::UpdateWith(k, f) => match f(data.get(k)) {
                Ok(v) => data.insert(k.clone(), v),
                Err(e) => {
                    tracing::error!(error = %e, "update_with could not be re-applied to the fresh value; keeping the fresh value");
                }
            },
        }
    }
    data
}

/// A random pause before a late retry: up to 2^attempt ms, at most 64 ms.
async fn backoff(attempt: u32) {
    use rand::RngExt as _;
    let cap = 1u64 << attempt.min(6);
    let ms = rand::rng().random_range(0..=cap);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// The session header to send, when the transport has one.
fn session_header(cfg: &crate::config::Config, value: String) -> Option<SessionHeader> {
    cfg.session_header_name().map(|name| SessionHeader {
        name: std::sync::Arc::clone(name),
        value,
    })
}
