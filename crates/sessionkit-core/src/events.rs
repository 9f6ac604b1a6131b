//! Lifecycle events: what happened to sessions, for audit logs, "new sign-in" e-mails and
//! dashboards.
//!
//! An [`EventListener`] given to the engine
//! ([`EngineBuilder::with_events`](crate::EngineBuilder::with_events)) receives an
//! [`EventRecord`] for each of these, **after the store confirmed the write** (a failed
//! write sends nothing):
//!
//! | event | when |
//! | --- | --- |
//! | `created` | a new session was stored |
//! | `rotated` | its key was rotated (`cycle_key`, or a login): old and new fingerprints |
//! | `logged_in` / `logged_out` | `Session::login` / `Session::logout`, with the user |
//! | `flushed` | `Session::flush` without a logout |
//! | `revoked` | sessions revoked: by their user, by an admin command, or by the per-user cap |
//! | `expired` | expired sessions removed by a cleanup, with how many |
//! | `interrupted` | a save found its session deleted meanwhile (the 400) |
//! | `replayed` | a save met concurrent changes and replayed its operations |
//!
//! Events never carry a session key — only its [`Fingerprint`], which cannot be turned
//! back into a cookie. They never hold the request either: the engine puts them on a
//! bounded queue that one thread drains into the listener; when the queue is full (a slow
//! listener), the event is dropped and counted (`StatsSnapshot::events_dropped`, metric
//! `sessionkit_events_dropped_total`), and the request goes on.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use sessionkit_core::events::{EventListener, EventRecord};
//! use sessionkit_core::{Config, Engine, MemoryStore};
//!
//! #[derive(Default)]
//! struct Audit(Mutex<Vec<String>>);
//!
//! impl EventListener for Audit {
//!     fn on_event(&self, record: &EventRecord) {
//!         self.0.lock().unwrap().push(record.event.name().to_owned());
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let audit = Arc::new(Audit::default());
//! let engine = Engine::builder(MemoryStore::new())
//!     .with_events(Arc::clone(&audit))
//!     .build();
//! let req = engine.begin(None);
//! req.load().await.unwrap().login("alice");
//! req.finish(200).await;
//! engine.flush_events();
//! assert_eq!(*audit.0.lock().unwrap(), ["created", "logged_in"]);
//! # }
//! ```

use std::fmt;
use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use crate::json;
use crate::key::Fingerprint;
use crate::pytime;
use crate::value::{Map, Value};

/// Why sessions were revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevokeCause {
    /// The user revoked them (e.g. "sign out my other sessions").
    User,
    /// An administrator (e.g. `sessionkit revoke`).
    Admin,
    /// The per-user cap (`max_sessions_per_user`) made room for a new login.
    Cap,
}

impl RevokeCause {
    /// The name in event logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeCause::User => "user",
            RevokeCause::Admin => "admin",
            RevokeCause::Cap => "cap",
        }
    }
}

/// What happened. Fields named `key` are fingerprints, never keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A new session was stored.
    Created {
        /// Its key's fingerprint (none for a client-side store).
        key: Option<Fingerprint>,
        /// The user it belongs to, if any.
        user: Option<String>,
    },
    /// A session's key was rotated.
    Rotated {
        /// The old key's fingerprint.
        old: Option<Fingerprint>,
        /// The new key's fingerprint.
        new: Fingerprint,
        /// The user, if any.
        user: Option<String>,
    },
    /// A user logged in (`Session::login`).
    LoggedIn {
        /// The session's key fingerprint.
        key: Option<Fingerprint>,
        /// The user.
        user: String,
    },
    /// A user logged out (`Session::logout`).
    LoggedOut {
        /// The ended session's key fingerprint.
        key: Option<Fingerprint>,
        /// The user who was logged in, if any.
        user: Option<String>,
    },
    /// A session was flushed (`Session::flush`, not a logout).
    Flushed {
        /// Its key's fingerprint.
        key: Option<Fingerprint>,
        /// The user, if any.
        user: Option<String>,
    },
    /// Sessions were revoked.
    Revoked {
        /// Why.
        cause: RevokeCause,
        /// Whose, when revoked by user.
        user: Option<String>,
        /// The revoked session's fingerprint, when one was revoked by key.
        key: Option<Fingerprint>,
        /// How many.
        count: u64,
    },
    /// Expired sessions were removed.
    Expired {
        /// How many.
        count: u64,
    },
    /// A save found its session deleted by a concurrent request (a 400).
    Interrupted {
        /// The session's key fingerprint.
        key: Fingerprint,
    },
    /// A save met concurrent changes and replayed this request's operations.
    Replayed {
        /// The session's key fingerprint.
        key: Fingerprint,
        /// How many times it replayed before its save went through.
        times: u32,
    },
}

impl Event {
    /// The event's name (`created`, `rotated`, ...), as logs and metrics spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Created { .. } => "created",
            Event::Rotated { .. } => "rotated",
            Event::LoggedIn { .. } => "logged_in",
            Event::LoggedOut { .. } => "logged_out",
            Event::Flushed { .. } => "flushed",
            Event::Revoked { .. } => "revoked",
            Event::Expired { .. } => "expired",
            Event::Interrupted { .. } => "interrupted",
            Event::Replayed { .. } => "replayed",
        }
    }

    /// The user the event concerns, if any.
    pub fn user(&self) -> Option<&str> {
        match self {
            Event::Created { user, .. }
            | Event::Rotated { user, .. }
            | Event::LoggedOut { user, .. }
            | Event::Flushed { user, .. }
            | Event::Revoked { user, .. } => user.as_deref(),
            Event::LoggedIn { user, .. } => Some(user),
            Event::Expired { .. } | Event::Interrupted { .. } | Event::Replayed { .. } => None,
        }
    }
}

/// An event and when it happened (the engine's clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// What happened.
    pub event: Event,
    /// When.
    pub time: OffsetDateTime,
}

impl EventRecord {
    /// The record as one JSON object: `event`, `time` (ISO 8601), and the event's fields.
    ///
    /// ```
    /// use sessionkit_core::events::{Event, EventRecord};
    /// use time::macros::datetime;
    ///
    /// let r = EventRecord {
    ///     event: Event::Expired { count: 3 },
    ///     time: datetime!(2026-01-01 00:00 UTC),
    /// };
    /// assert_eq!(
    ///     r.to_json(),
    ///     r#"{"event":"expired","time":"2026-01-01T00:00:00+00:00","count":3}"#
    /// );
    /// ```
    pub fn to_json(&self) -> String {
        let mut m = Map::new();
        m.insert("event".into(), Value::from(self.event.name()));
        m.insert("time".into(), Value::String(pytime::isoformat(self.time)));
        let fp = |f: &Option<Fingerprint>| f.map_or(Value::Null, |f| Value::String(f.to_string()));
        let user = |u: &Option<String>| u.clone().map_or(Value::Null, Value::String);
        match &self.event {
            Event::Created { key, user: u }
            | Event::LoggedOut { key, user: u }
            | Event::Flushed { key, user: u } => {
                m.insert("key".into(), fp(key));
                m.insert("user".into(), user(u));
            }
            Event::Rotated { old, new, user: u } => {
                m.insert("old".into(), fp(old));
                m.insert("new".into(), Value::String(new.to_string()));
                m.insert("user".into(), user(u));
            }
            Event::LoggedIn { key, user: u } => {
                m.insert("key".into(), fp(key));
                m.insert("user".into(), Value::String(u.clone()));
            }
            Event::Revoked {
                cause,
                user: u,
                key,
                count,
            } => {
                m.insert("cause".into(), Value::from(cause.as_str()));
                m.insert("user".into(), user(u));
                m.insert("key".into(), fp(key));
                m.insert("count".into(), Value::from(*count));
            }
            Event::Expired { count } => {
                m.insert("count".into(), Value::from(*count));
            }
            Event::Interrupted { key } => {
                m.insert("key".into(), Value::String(key.to_string()));
            }
            Event::Replayed { key, times } => {
                m.insert("key".into(), Value::String(key.to_string()));
                m.insert("times".into(), Value::from(*times));
            }
        }
        json::to_string(&Value::Map(m))
    }
}

/// Receives the engine's events, one at a time, on the engine's event thread. It may take
/// its time (write a file, call a service): the requests never wait for it, but while it
/// is busy, events queue up, and past the queue's capacity they are dropped and counted.
pub trait EventListener: Send + Sync + 'static {
    /// One event.
    fn on_event(&self, record: &EventRecord);
}

impl<L: EventListener + ?Sized> EventListener for Arc<L> {
    fn on_event(&self, record: &EventRecord) {
        (**self).on_event(record);
    }
}

/// Both listeners, in order.
impl<A: EventListener, B: EventListener> EventListener for (A, B) {
    fn on_event(&self, record: &EventRecord) {
        self.0.on_event(record);
        self.1.on_event(record);
    }
}

/// A listener that writes each event as one line of JSON ([`EventRecord::to_json`]) and
/// flushes it (`sessionkit serve --events-log FILE`). A write error is logged, once per
/// run of failures, and the event is lost.
pub struct JsonLines<W> {
    out: Mutex<(W, bool)>,
}

impl<W> fmt::Debug for JsonLines<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLines").finish_non_exhaustive()
    }
}

impl<W: Write + Send + 'static> JsonLines<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> JsonLines<W> {
        JsonLines {
            out: Mutex::new((out, false)),
        }
    }
}

impl<W: Write + Send + 'static> EventListener for JsonLines<W> {
    fn on_event(&self, record: &EventRecord) {
        let mut line = record.to_json();
        line.push('\n');
        let mut g = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let (out, failing) = &mut *g;
        match out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => *failing = false,
            Err(e) => {
                if !*failing {
                    tracing::error!(error = %e, "cannot write the events log; events are lost until it works again");
                }
                *failing = true;
            }
        }
    }
}

/// The engine's end of the event queue.
pub(crate) struct EventSink {
    tx: SyncSender<Message>,
}

enum Message {
    Event(EventRecord),
    /// Answered once every event queued before it was delivered.
    Flush(std::sync::mpsc::Sender<()>),
}

impl EventSink {
    /// A queue of `capacity` events drained by a new thread into `listener`.
    pub(crate) fn start(listener: Arc<dyn EventListener>, capacity: usize) -> EventSink {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity.max(1));
        let spawned = std::thread::Builder::new()
            .name("sessionkit-events".to_owned())
            .spawn(move || deliver(&rx, &*listener));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the event thread; events are dropped");
        }
        EventSink { tx }
    }

    /// Queues an event; `false` when the queue was full (or the thread gone): dropped.
    pub(crate) fn send(&self, record: EventRecord) -> bool {
        match self.tx.try_send(Message::Event(record)) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// Waits until every event queued so far was delivered.
    pub(crate) fn flush(&self) {
        let (done, wait) = std::sync::mpsc::channel();
        if self.tx.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }
}

fn deliver(rx: &Receiver<Message>, listener: &dyn EventListener) {
    while let Ok(m) = rx.recv() {
        match m {
            Message::Event(record) => {
                // A panicking listener must not stop the delivery of later events.
                let delivered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    listener.on_event(&record);
                }));
                if delivered.is_err() {
                    tracing::error!(event = record.event.name(), "the event listener panicked");
                }
            }
            Message::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}
