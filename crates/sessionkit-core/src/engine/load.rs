//! The load: at most one store read per request, and the engine's own expiry checks.
//!
//! Stores check expiry too, but a store bug must not serve an expired session: after every
//! load the engine checks the record's expiry, the idle timeout (from `last_seen`) and the
//! absolute timeout (from `created_at`) itself.

use std::sync::Arc;

use time::OffsetDateTime;

use super::Backend;
use super::RequestSession;
use super::failure::LoadError;
use super::plan::Incoming;
use super::stats::Ev;
use crate::config::{Concurrency, Config};
use crate::data::Data;
use crate::device::device_label;
use crate::expiry;
use crate::session::{Ctx, Identity, Session};
use crate::store::{Lookup, Metadata, Record, Token};

/// Where the loaded session came from.
pub(crate) enum Origin {
    /// No stored session: no cookie, an unknown or expired key, a bad client cookie.
    Fresh,
    /// A stored session.
    Stored {
        key: crate::key::SessionKey,
        token: Token,
        meta: Metadata,
    },
    /// A key retired by a recent rotation.
    Retired { until: OffsetDateTime },
    /// A valid client-side session.
    Client,
}

/// A loaded session and where it came from.
pub(crate) struct Loaded {
    pub(crate) session: Session,
    pub(crate) origin: Origin,
}

impl Loaded {
    fn fresh(ctx: Arc<Ctx>) -> Loaded {
        Loaded {
            session: Session::new(ctx, Data::new(), Identity::None),
            origin: Origin::Fresh,
        }
    }
}

impl RequestSession {
    pub(super) async fn load_uncached(&self) -> Result<Loaded, LoadError> {
        let engine = &self.inner.engine;
        let ctx = Arc::clone(engine.ctx());
        let cfg = &ctx.config;
        match (&self.inner.incoming, &engine.inner.backend) {
            (Incoming::Key(key), Backend::Server(client)) => {
                if cfg.concurrency() == Concurrency::Lock {
                    let held = engine.inner.locks.lock_session(client, cfg, *key).await?;
                    *self.inner.lock.lock().unwrap_or_else(|e| e.into_inner()) = Some(held);
                }
                let now = ctx.clock.now();
                Ok(match client.load(key, now).await? {
                    Lookup::Found { record, token } if live(cfg, &record, now) => {
                        let bound = self.user_agent_changed(&record.meta);
                        let loaded = Loaded {
                            session: Session::new(ctx, record.data, Identity::Key(*key)),
                            origin: Origin::Stored {
                                key: *key,
                                token,
                                meta: record.meta,
                            },
                        };
                        if let Some((recorded, now_seen)) = bound {
                            tracing::warn!(
                                key = %key.fingerprint(),
                                recorded,
                                request = %now_seen,
                                "the request's user agent differs from the one recorded with its session (bind_user_agent): session flushed"
                            );
                            loaded.session.flush();
                        }
                        loaded
                    }
                    Lookup::Found { .. } => {
                        engine.inner.stats.add(Ev::Expired);
                        tracing::debug!(key = %key.fingerprint(), "session expired");
                        Loaded::fresh(ctx)
                    }
                    Lookup::Missing => {
                        tracing::debug!(key = %key.fingerprint(), "unknown session key");
                        Loaded::fresh(ctx)
                    }
                    Lookup::Retired { until } => Loaded {
                        session: Session::new(ctx, Data::new(), Identity::None),
                        origin: Origin::Retired { until },
                    },
                })
            }
            (Incoming::Client(value), Backend::Client(store)) => {
                let now = ctx.clock.now();
                engine.inner.stats.add(Ev::Loads);
                let Some(contents) = store.decode(value, now) else {
                    return Ok(Loaded::fresh(ctx));
                };
                let expires = contents
                    .data
                    .expiry_date(contents.issued_at, cfg.cookie_age());
                let issued_abs_ok = cfg
                    .absolute_timeout()
                    .is_none_or(|abs| expiry::add(contents.issued_at, abs) > now);
                // Django's signed cookies stay valid for exactly cookie_age seconds
                // (inclusive); beyond Django, the session's own expiry counts too.
                if now > expires || !issued_abs_ok {
                    engine.inner.stats.add(Ev::Expired);
                    tracing::debug!("client-side session expired");
                    return Ok(Loaded::fresh(ctx));
                }
                Ok(Loaded {
                    session: Session::new(ctx, contents.data, Identity::Client),
                    origin: Origin::Client,
                })
            }
            _ => Ok(Loaded::fresh(ctx)),
        }
    }
}

impl RequestSession {
    /// With [`bind_user_agent`](Config::bind_user_agent): whether this request's user
    /// agent differs from the one recorded with the session, as the two device labels
    /// (for the log line; the user agents themselves stay out of logs). Only a session
    /// with recorded client info, and a request whose adapter reported its client, are
    /// compared.
    fn user_agent_changed(&self, meta: &Metadata) -> Option<(String, String)> {
        if !self.engine().config().bind_user_agent() {
            return None;
        }
        let request = self.inner.client.as_ref()?;
        let recorded = meta.client.as_ref()?;
        let ua = request.user_agent.as_deref();
        (recorded.user_agent() != ua).then(|| (recorded.device().to_owned(), device_label(ua)))
    }
}

/// Whether a record loaded at `now` is still valid by the engine's own rules: the store's
/// expiry, plus the idle and absolute timeouts.
fn live(cfg: &Config, record: &Record, now: OffsetDateTime) -> bool {
    if record.expires_at <= now {
        return false;
    }
    if let (Some(idle), Some(seen)) = (cfg.idle_timeout(), record.meta.last_seen)
        && expiry::add(seen, idle) <= now
    {
        return false;
    }
    if let (Some(abs), Some(created)) = (cfg.absolute_timeout(), record.meta.created_at)
        && expiry::add(created, abs) <= now
    {
        return false;
    }
    true
}
