//! Unit tests of the cached_db rules' arithmetic.
use time::macros::datetime;

use super::*;

#[test]
fn ttls_round_down_and_times_saturate() {
    let now = datetime!(2026-01-01 00:00 UTC);
    assert_eq!(
        ttl_ms_floor(now + time::Duration::microseconds(1999), now),
        1
    );
    assert_eq!(
        ttl_ms_floor(now + time::Duration::microseconds(999), now),
        0
    );
    assert_eq!(ttl_ms_floor(now - time::Duration::seconds(1), now), -1000);
    assert_eq!(plus_millis(now, 1500), datetime!(2026-01-01 00:00:01.5 UTC));
    assert_eq!(
        plus_millis(now, i64::MAX),
        PrimitiveDateTime::MAX.assume_utc()
    );
    assert_eq!(
        plus_millis(now, i64::MIN),
        PrimitiveDateTime::MIN.assume_utc()
    );
}
