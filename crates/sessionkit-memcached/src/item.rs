//! What every layout does with a session's item, written once: read it (value, client
//! flags, CAS value, TTL), delete it, and the two compare-and-set loops — create (add,
//! else replace what does not own the key) and update (read, decide, write on the CAS
//! value read, read again when another write got in between).

use std::borrow::Cow;

use sessionkit_core::StoreError;

use crate::conn::{Cmd, Reply};
use crate::pool::Pool;
use crate::{ATTEMPTS, unexpected};

/// An item as read.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) value: Vec<u8>,
    /// The client flags (0 when unset).
    #[cfg_attr(not(feature = "django"), allow(dead_code))]
    pub(crate) flags: u32,
    pub(crate) cas: u64,
    /// The remaining TTL in seconds (`-1`: none).
    pub(crate) ttl: i64,
}

/// A write: the value, its client flags (none: memcached's 0) and memcached's expiration
/// time.
#[derive(Debug)]
pub(crate) struct Write<'a> {
    pub(crate) value: Cow<'a, [u8]>,
    pub(crate) flags: Option<u32>,
    pub(crate) exptime: i64,
}

/// What a write decides on the item it read.
pub(crate) enum Decision<'a, T> {
    /// The answer, without writing.
    Answer(T),
    /// Write this on the CAS value read; `T` is the answer once written.
    Write(Write<'a>, T),
}

/// How `ms` writes.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Only if the key is free (`ME`).
    Add,
    /// Only if the item still has this CAS value (`C<cas>`).
    Cas(u64),
}

/// The answers of a loop that are not the decision's.
#[derive(Debug)]
pub(crate) struct Otherwise<T> {
    /// The item went away under the write (`NF`).
    pub(crate) gone: T,
    /// Another write won every attempt.
    pub(crate) busy: T,
}

impl Pool {
    /// `mg key v f c t`: the item, if there is one.
    pub(crate) async fn get_item(&self, item: &str) -> Result<Option<Item>, StoreError> {
        let k = item.as_bytes();
        let cmd = Cmd::get(k).flag("v").flag("f").flag("c").flag("t");
        match self.call(k, &cmd).await? {
            Reply::Value(value, f) => Ok(Some(Item {
                value,
                flags: f.flags.unwrap_or(0),
                cas: f.cas.unwrap_or(0),
                ttl: f.ttl.unwrap_or(-1),
            })),
            Reply::Miss => Ok(None),
            other => Err(unexpected("mg", &other)),
        }
    }

    /// `md key` (absent: nothing to do).
    pub(crate) async fn delete_item(&self, item: &str) -> Result<(), StoreError> {
        let k = item.as_bytes();
        match self.call(k, &Cmd::delete(k)).await? {
            Reply::Done(_) | Reply::NotFound => Ok(()),
            other => Err(unexpected("md", &other)),
        }
    }

    /// `md key C<cas>`: deletes the item if it is still the one read with `cas`.
    pub(crate) async fn delete_item_if(&self, item: &str, cas: u64) -> Result<bool, StoreError> {
        let k = item.as_bytes();
        match self
            .call(k, &Cmd::delete(k).flag(format!("C{cas}")))
            .await?
        {
            Reply::Done(_) => Ok(true),
            Reply::Exists | Reply::NotFound => Ok(false),
            other => Err(unexpected("md", &other)),
        }
    }

    /// `ms` of `w`, unconditionally.
    pub(crate) async fn set_item(&self, item: &str, w: &Write<'_>) -> Result<(), StoreError> {
        match self.call(item.as_bytes(), &set_cmd(item, w, None)).await? {
            Reply::Done(_) => Ok(()),
            other => Err(unexpected("ms", &other)),
        }
    }

    /// `ms` of `w` on the CAS value `cas`: `true` if written, `false` if the item changed
    /// or went away since `cas` was read.
    pub(crate) async fn write_if_unchanged(
        &self,
        item: &str,
        w: &Write<'_>,
        cas: u64,
    ) -> Result<bool, StoreError> {
        match self.write(item, w, Mode::Cas(cas)).await? {
            Reply::Done(_) => Ok(true),
            Reply::Exists | Reply::NotFound => Ok(false),
            other => Err(unexpected("ms", &other)),
        }
    }

    async fn write(&self, item: &str, w: &Write<'_>, mode: Mode) -> Result<Reply, StoreError> {
        self.call(item.as_bytes(), &set_cmd(item, w, Some(mode)))
            .await
    }

    /// The create loop: `first` added; on a taken key, `taken` decides on the item found
    /// (a collision, or a replacement of an item that does not own the key, written on its
    /// CAS value). A replacement that loses to another write is a collision; an item that
    /// goes away meanwhile is added again.
    pub(crate) async fn create_item<'w, T>(
        &self,
        item: &str,
        first: &Write<'_>,
        created: impl Fn() -> T,
        mut taken: impl FnMut(Item) -> Result<Decision<'w, T>, StoreError>,
        collision: impl Fn() -> T,
    ) -> Result<T, StoreError> {
        for _ in 0..ATTEMPTS {
            match self.write(item, first, Mode::Add).await? {
                Reply::Done(_) => return Ok(created()),
                Reply::NotStored => {}
                other => return Err(unexpected("ms", &other)),
            }
            let Some(old) = self.get_item(item).await? else {
                continue; // evicted meanwhile: add again
            };
            let cas = old.cas;
            let (w, done) = match taken(old)? {
                Decision::Answer(answer) => return Ok(answer),
                Decision::Write(w, done) => (w, done),
            };
            match self.write(item, &w, Mode::Cas(cas)).await? {
                Reply::Done(_) => return Ok(done),
                Reply::Exists => return Ok(collision()),
                Reply::NotFound => {}
                other => return Err(unexpected("ms", &other)),
            }
        }
        Ok(collision())
    }

    /// The update loop: `decide` on the item read (`None`: no item, which it answers), and a write on its
    /// CAS value; a write that another one got ahead of reads again (it may have been a
    /// touch, which is no conflict), up to [`ATTEMPTS`] times.
    pub(crate) async fn update_item<'w, T>(
        &self,
        item: &str,
        mut decide: impl FnMut(Option<Item>) -> Result<Decision<'w, T>, StoreError>,
        otherwise: Otherwise<T>,
    ) -> Result<T, StoreError> {
        for _ in 0..ATTEMPTS {
            let current = self.get_item(item).await?;
            let cas = current.as_ref().map_or(0, |i| i.cas);
            let (w, done) = match decide(current)? {
                Decision::Answer(answer) => return Ok(answer),
                Decision::Write(w, done) => (w, done),
            };
            match self.write(item, &w, Mode::Cas(cas)).await? {
                Reply::Done(_) => return Ok(done),
                Reply::Exists => {}
                Reply::NotFound => return Ok(otherwise.gone),
                other => return Err(unexpected("ms", &other)),
            }
        }
        Ok(otherwise.busy)
    }
}

fn set_cmd<'a>(item: &'a str, w: &'a Write<'_>, mode: Option<Mode>) -> Cmd<'a> {
    let mut cmd = Cmd::set(item.as_bytes(), &w.value);
    if let Some(flags) = w.flags {
        cmd = cmd.flag(format!("F{flags}"));
    }
    cmd = cmd.flag(format!("T{}", w.exptime));
    match mode {
        Some(Mode::Add) => cmd.flag("ME"),
        Some(Mode::Cas(cas)) => cmd.flag(format!("C{cas}")),
        None => cmd,
    }
}
