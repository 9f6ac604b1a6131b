//! What a request changed, as loaded: the record the retry policy compares a fresh load
//! with (docs/DESIGN.md, "Concurrency and the retry policy").

use super::State;
use crate::data::{Data, Held};

/// What the data held as loaded under each key a request changed (see `State::before`).
///
/// A list, searched in order while short — a request changes a key or two, and a hash
/// map cost more than the copy of the dictionary this record replaces — with an index by
/// key once it is longer than [`Before::SHORT`], so that a request that changes or clears
/// thousands of keys stays linear.
#[derive(Default)]
pub(crate) struct Before {
    list: Vec<(String, Held)>,
    /// Positions in `list` by key, once the list is long (none before: even an empty
    /// map's hasher costs a visit something).
    index: Option<std::collections::HashMap<String, usize>>,
}

impl Before {
    /// The length up to which the list is searched in order.
    const SHORT: usize = 16;

    /// What the data held under `key` as loaded, if the request changed it.
    pub(crate) fn get(&self, key: &str) -> Option<&Held> {
        match &self.index {
            None => self.list.iter().find(|(k, _)| k == key).map(|(_, h)| h),
            Some(index) => self.list.get(*index.get(key)?).map(|(_, h)| h),
        }
    }

    /// Records `held` under `key` unless the key has a record already (the first one is
    /// the loaded value).
    fn keep(&mut self, key: &str, held: impl FnOnce() -> Held) {
        if self.get(key).is_some() {
            return;
        }
        self.list.push((key.to_owned(), held()));
        let last = self.list.len() - 1;
        match &mut self.index {
            Some(index) => {
                index.insert(key.to_owned(), last);
            }
            None if self.list.len() > Self::SHORT => {
                self.index = Some(
                    self.list
                        .iter()
                        .enumerate()
                        .map(|(i, (k, _))| (k.clone(), i))
                        .collect(),
                );
            }
            None => {}
        }
    }

    /// The number of keys recorded.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }
}

impl State {
    /// The data, about to change under `key`: for a tracked session, what it holds there
    /// is kept first, once per key (see `before`).
    pub(super) fn change(&mut self, key: &str) -> &mut Data {
        if self.track {
            let State { data, before, .. } = self;
            before.keep(key, || data.held(key));
        }
        &mut self.data
    }

    /// Empties the data (a clear or a flush). For a tracked session, what each key held is
    /// kept first, as by [`State::change`]: the entries are moved there, not copied.
    pub(super) fn clear_data(&mut self) {
        if self.track {
            for (k, held) in self.data.take_all() {
                self.before.keep(&k, || held);
            }
        } else {
            self.data.clear();
        }
    }
}
