//! Test support for the whole workspace, in one dev-only crate: what more than one package's tests
//! need, so that nothing is copied between test files or included across packages by path.
//!
//! - [`device`]: a software passkey device (1Password's `passkey` authenticator behind their
//!   WebAuthn client) speaking the browser's JSON, for real ceremonies without a browser.
//!
//! Only tests depend on this crate (as a dev-dependency); `deny.toml` keeps it that way.
#![warn(missing_docs)]

pub mod device;

pub use device::Device;
