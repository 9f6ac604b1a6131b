#![no_main]
//! Fuzz target `zlib`: see `checks::zlib` for what it runs and the properties it asserts.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sessionkit_fuzz::checks::zlib(data);
});
