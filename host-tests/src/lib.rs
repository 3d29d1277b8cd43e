//! host-tests (skeleton)
