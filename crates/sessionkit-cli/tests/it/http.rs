//! The test HTTP client lives in sessionkit-testkit (shared with the interop tests).

pub(crate) use sessionkit_testkit::http::{Jar, get};
