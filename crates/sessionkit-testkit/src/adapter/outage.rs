//! The error contract under a store outage, and the lifecycle events as an adapter
//! delivers them.

use std::time::Duration;

use sessionkit_core::{BoxStore, UNAVAILABLE_MESSAGE};

use super::checks::engine;
use super::{Adapter, Mode};
use crate::fakes::Down;
use crate::http::Response;

/// What a store outage looks like, as the suite saw it: a load failure met by the
/// extractor, the same met by a handler returning the load error, and a save failure met
/// by the middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutageResponses {
    /// The `Session` extractor's rejection.
    pub extractor: Observed,
    /// A handler returning `rs.load().await?`.
    pub handler: Observed,
    /// The middleware's failed save (a new visitor's first write).
    pub save: Observed,
}

/// The parts of a response the error contract fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Retry-After`.
    pub retry_after: Option<String>,
    /// `Vary`.
    pub vary: Option<String>,
    /// `Set-Cookie` values.
    pub set_cookie: Vec<String>,
    /// Body.
    pub body: String,
}

impl From<&Response> for Observed {
    fn from(r: &Response) -> Observed {
        Observed {
            status: r.status,
            content_type: r.header("content-type").map(str::to_owned),
            retry_after: r.header("retry-after").map(str::to_owned),
            vary: r.header("vary").map(str::to_owned),
            set_cookie: r.set_cookies().into_iter().map(str::to_owned).collect(),
            body: r.body.clone(),
        }
    }
}

/// A store outage (every call fails): 503s with the configured `Retry-After` (here 7 s)
/// and the same response wherever it is met; routes without the session keep working.
/// Returns what it saw. Every adapter is held to the same expected responses, so the
/// adapters answer an outage identically.
pub async fn store_outage_is_a_503(a: &impl Adapter, m: Mode, _store: BoxStore) -> OutageResponses {
    let id = "abcdefghijklmnopqrstuvwxyz012345";
    // The default Retry-After is one second.
    let s = a.serve(engine(Down, m.config())).await;
    let res = m.get(&s, "/s/visit", Some(id)).await;
    assert_eq!((res.status, res.header("retry-after")), (503, Some("1")));
    let s = a
        .serve(engine(Down, m.config().retry_after(Duration::from_secs(7))))
        .await;
    let extractor = Observed::from(&m.get(&s, "/s/visit", Some(id)).await);
    let handler = Observed::from(&m.get(&s, "/load/visit", Some(id)).await);
    let save = Observed::from(&m.get(&s, "/s/visit", None).await);
    let unavailable = Observed {
        status: 503,
        content_type: Some("text/plain; charset=utf-8".to_owned()),
        retry_after: Some("7".to_owned()),
        vary: None,
        set_cookie: Vec::new(),
        body: UNAVAILABLE_MESSAGE.to_owned(),
    };
    assert_eq!(extractor, unavailable);
    assert_eq!(
        handler, extractor,
        "a handler's load error renders as the extractor's"
    );
    // The save failed after the handler accessed the session: the same, plus Vary.
    assert_eq!(
        save,
        Observed {
            vary: Some(m.vary()),
            ..unavailable
        }
    );
    let res = m.get(&s, "/plain", Some(id)).await;
    assert_eq!((res.status, res.body.as_str()), (200, "plain"));
    OutageResponses {
        extractor,
        handler,
        save,
    }
}
