//! Integration tests of the file stores: both layouts against the conformance suite, the
//! files on disk, and (feature `django`) the byte form Django reads and writes.

mod native;

#[cfg(feature = "django")]
mod django;
#[cfg(feature = "django")]
mod django_bad_data;
