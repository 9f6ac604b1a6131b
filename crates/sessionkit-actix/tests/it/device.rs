//! Issue 19, device metadata through actix-web: the shared checks of
//! `sessionkit_testkit::adapter::device`, on a real actix-web server (so requests have a
//! peer address).

sessionkit_testkit::adapter_device_tests!(super::Actix);
