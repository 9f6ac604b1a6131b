//! What the engine counts: one list of events, from which the counters, their metric names
//! and [`StatsSnapshot`] are all generated (nothing to keep in step by hand).

use std::sync::atomic::{AtomicU64, Ordering};

/// Writes the event enum, its metric names and [`StatsSnapshot`] from one list:
/// `snapshot_field / Variant = "metric name"`.
macro_rules! events {
    ($( $(#[$doc:meta])* $field:ident / $variant:ident = $name:literal; )*) => {
        /// The events the engine counts.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Ev {
            $( $variant, )*
        }

        impl Ev {
            /// Every event, in declaration order.
            pub(crate) const ALL: &'static [Ev] = &[$( Ev::$variant, )*];

            /// The `event` label of `sessionkit_events_total`.
            #[cfg(test)]
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $( Ev::$variant => $name, )*
                }
            }

            /// `sessionkit_events_total{event}`, its key a compile-time `static`.
            fn emit(self) {
                match self {
                    $( Ev::$variant => metrics::counter!("sessionkit_events_total", "event" => $name).increment(1), )*
                }
            }
        }

        /// A copy of the engine's counters.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct StatsSnapshot {
            $( $(#[$doc])* pub $field: u64, )*
        }

        impl Stats {
            /// The counters now.
            pub(crate) fn snapshot(&self) -> StatsSnapshot {
                StatsSnapshot {
                    $( $field: self.get(Ev::$variant), )*
                }
            }
        }
    };
}

events! {
    /// Store reads for loading a session.
    loads / Loads = "loaded";
    /// Sessions created (including rotations).
    creates / Creates = "created";
    /// Sessions saved.
    saves / Saves = "saved";
    /// Expiry-only refreshes.
    touches / Touches = "touched";
    /// Sessions deleted (flush).
    deletes / Deletes = "deleted";
    /// Key rotations.
    rotations / Rotations = "rotated";
    /// Compare-and-set conflicts met.
    conflicts / Conflicts = "conflict";
    /// Reload-and-replay rounds after a conflict.
    replays / Replays = "replayed";
    /// Keys a request overwrote after another request changed them (plain read-then-write,
    /// last writer wins on that key).
    overwrites / Overwrites = "overwritten";
    /// Saves refused because the session was deleted meanwhile (400).
    interrupted / Interrupted = "interrupted";
    /// Saves that ran out of attempts (503).
    exhausted / Exhausted = "retries_exhausted";
    /// Sessions found expired by the engine's checks.
    expired / Expired = "expired";
    /// Store failures and timeouts.
    store_errors / StoreErrors = "store_error";
    /// Lifecycle events dropped because the listener fell behind (its queue was full).
    events_dropped / EventsDropped = "event_dropped";
}

/// Counters of the engine's work, for tests and diagnostics; each event is also a
/// `metrics` counter (`sessionkit_events_total{event=...}`, a no-op without a recorder).
pub(crate) struct Stats {
    counts: [AtomicU64; Ev::ALL.len()],
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Stats {
    pub(crate) fn add(&self, ev: Ev) {
        self.counts[ev as usize].fetch_add(1, Ordering::Relaxed);
        ev.emit();
    }

    fn get(&self, ev: Ev) -> u64 {
        self.counts[ev as usize].load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_has_its_own_counter_and_name() {
        let stats = Stats::default();
        for (i, ev) in Ev::ALL.iter().enumerate() {
            assert_eq!(*ev as usize, i);
            for _ in 0..=i {
                stats.add(*ev);
            }
        }
        let s = stats.snapshot();
        assert_eq!((s.loads, s.events_dropped), (1, Ev::ALL.len() as u64));
        let mut names: Vec<_> = Ev::ALL.iter().map(|e| e.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Ev::ALL.len());
    }
}
