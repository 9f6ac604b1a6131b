//! File session stores for sessionkit: one file per session in a directory.
//!
//! * [`FileStore`] — sessionkit's own layout: `<dir>/sk_<key>`, a header line (version,
//!   expiry, metadata with the client info) and the data as JSON.
//! * `DjangoFileStore` (feature `django`) — Django's `file` engine layout, to share a
//!   `SESSION_FILE_PATH` with a Django application: see the `django` module.
//!
//! Both need no database and suit one machine (or several sharing a directory on a file
//! system with working locks). Both open with `open(dir)`, or `builder(dir, ..)`, the
//! options, then `open()`; [`FileStore::location`] (and `DjangoFileStore::location`) is
//! the directory.
//!
//! # Layout
//!
//! | file | what |
//! | --- | --- |
//! | `dir.rs` | the plumbing both layouts share: file names, atomic replacement through a temporary file and a rename, owner-only permissions (mode 0600 on Unix, the platform's default elsewhere), per-key cross-process file locks on 64 lock files, listing, blocking work on tokio's blocking pool |
//! | `layout.rs` | the store operations both layouts do the same way, written once: locked read-modify-write, delete, the expiry sweep, listing, the per-user scan |
//! | `native.rs` | [`FileStore`]: sessionkit's file format |
//! | `django.rs` | `DjangoFileStore`: Django's file format and expiry rule |
//!
//! # Example
//!
//! ```
//! use sessionkit_core::{Config, Engine};
//! use sessionkit_file::FileStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let dir = tempfile::tempdir().unwrap();
//! let store = FileStore::open(dir.path()).unwrap();
//! assert_eq!(store.location(), dir.path());
//! let engine = Engine::new(store, Config::default());
//!
//! let req = engine.begin(None);
//! req.load().await.unwrap().insert("count", 1).unwrap();
//! let out = req.finish(200).await;
//! assert!(out.set_cookie[0].starts_with("sessionid="));
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod dir;
#[cfg(feature = "django")]
pub mod django;
mod layout;
mod native;

#[cfg(feature = "django")]
pub use django::{DjangoFileBuilder, DjangoFileStore};
pub use native::{FileStore, FileStoreBuilder};
