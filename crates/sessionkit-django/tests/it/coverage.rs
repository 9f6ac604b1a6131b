//! Every record of the vectors file belongs to a group some module checks.

use crate::vectors;

#[test]
fn every_record_is_checked() {
    let handled: Vec<&str> = [
        crate::primitives::FUNCTIONS,
        crate::signing::FUNCTIONS,
        crate::session::FUNCTIONS,
        crate::signed_cookies::FUNCTIONS,
        crate::middleware::FUNCTIONS,
        crate::pickle::FUNCTIONS,
        crate::auth_keys::FUNCTIONS,
    ]
    .concat();
    let missing: Vec<String> = vectors::all()
        .iter()
        .filter(|r| !handled.contains(&r.func.as_str()))
        .map(|r| format!("#{} {}", r.index, r.func))
        .collect();
    assert!(missing.is_empty(), "records no test checks: {missing:?}");
    // And every claimed group exists.
    for f in handled {
        assert!(!vectors::records(f).is_empty());
    }
}
