//! What every SQL store shares: table-name rules and time clamping.

use sessionkit_core::{StoreError, StoreErrorKind};

/// Checks a session table name: 1-48 ASCII letters, digits and `_`, not starting with a
/// digit. The name is spliced into SQL, so nothing else is allowed; 48 leaves room for
/// the suffixes of the index and lease tables within every database's identifier limit.
pub(crate) fn check_table_name(table: &str) -> Result<(), StoreError> {
    let ok = !table.is_empty()
        && table.len() <= 48
        && table
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !table.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(StoreError::new(
            StoreErrorKind::Config,
            format!(
                "invalid table name {table:?}: use 1-48 letters, digits and _, not starting with a digit"
            ),
        ))
    }
}

/// Clamps `t` into `[min, max]`: a time outside what a column can hold is stored as the
/// nearest one it can (an expiry in the distant past stays in the past, one in the
/// distant future stays in the future).
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn clamp_time(
    t: time::OffsetDateTime,
    min: time::OffsetDateTime,
    max: time::OffsetDateTime,
) -> time::OffsetDateTime {
    t.to_offset(time::UtcOffset::UTC).clamp(min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        for ok in [
            "sessions",
            "a",
            "S_1",
            "sktest_1767225600_abc",
            &"x".repeat(48),
        ] {
            assert!(check_table_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "a-b",
            "a b",
            "a;drop",
            "ä",
            "a\"",
            &"x".repeat(49),
        ] {
            assert!(check_table_name(bad).is_err(), "{bad}");
        }
    }
}
