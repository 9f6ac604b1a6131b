//! Integration tests of sessionkit-core: the memory store against the conformance suite.

mod memory {
    use sessionkit_core::MemoryStore;
    use sessionkit_testkit::Profile;

    sessionkit_testkit::conformance_tests!(Profile::full(), async { Some(MemoryStore::new()) });
}
