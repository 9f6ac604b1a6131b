//! Issue 19, device metadata through axum: the shared checks of
//! `sessionkit_testkit::adapter::device`, on the suite's app served with the peer address
//! in `ConnectInfo<SocketAddr>` (as `Axum::serve` does).

sessionkit_testkit::adapter_device_tests!(super::Axum);
