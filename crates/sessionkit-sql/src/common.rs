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

/// The error for a native session table that is missing from `place` (a URL, or "SQLite
/// database PATH") where a store opened with
/// [`Create::Never`](sessionkit_core::store::Create::Never) expected it.
pub(crate) fn table_not_found(table: &str, place: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Config,
        format!(
            "table {table} not found in {place}: nothing was created (this store was opened to use an existing one); check the path or URL and the table name, or create the table by opening the store with Create::IfMissing (as `sessionkit serve` does)"
        ),
    )
}

/// Checks a session table's recorded layout version against the one this build reads
/// (`current`). The native layouts record it per table in `sessionkit_schema`; version 1
/// is the first and, so far, the only one, so there is no upgrade to run: opening never
/// migrates (a store opened with [`Create::Never`](sessionkit_core::store::Create::Never)
/// only reads the version), and a version other than `current` is an error that says
/// which side is out of date.
pub(crate) fn check_layout_version(
    table: &str,
    found: i64,
    current: i64,
) -> Result<(), StoreError> {
    let message = match found.cmp(&current) {
        std::cmp::Ordering::Equal => return Ok(()),
        std::cmp::Ordering::Greater => format!(
            "table {table} has layout version {found}, written by a newer sessionkit than this build (which reads version {current}): use that newer sessionkit"
        ),
        std::cmp::Ordering::Less => format!(
            "table {table} has layout version {found}, older than version {current} that this build reads, and no sessionkit release wrote a version before 1, so there is no upgrade for it: check the table name"
        ),
    };
    Err(StoreError::new(StoreErrorKind::Config, message))
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
    fn layout_versions() {
        assert!(check_layout_version("t", 1, 1).is_ok());
        let newer = check_layout_version("t", 2, 1).unwrap_err();
        assert_eq!(newer.kind(), StoreErrorKind::Config);
        assert!(newer.message().contains("newer sessionkit"), "{newer}");
        let older = check_layout_version("t", 0, 1).unwrap_err();
        assert!(older.message().contains("older than version 1"), "{older}");
        assert!(older.message().contains("no upgrade"), "{older}");
    }

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
