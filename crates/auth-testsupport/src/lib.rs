//! Test support for the whole workspace, in one dev-only crate: what more than one package's tests
//! need, so that nothing is copied between test files or included across packages by path.
//!
//! - [`device`]: a software passkey device (1Password's `passkey` authenticator behind their
//!   WebAuthn client) speaking the browser's JSON, for real ceremonies without a browser.
//! - [`net`]: a server that accepts connections and never answers, and an outage proxy in front
//!   of a real service that a test takes down and brings back on the same port.
//! - [`postgres`]: a PostgreSQL database of a test's own, dropped when its guard goes.
//!
//! Only tests depend on this crate (as a dev-dependency); `deny.toml` keeps it that way.
#![warn(missing_docs)]

pub mod device;
pub mod net;
pub mod postgres;

pub use device::Device;
pub use net::{Proxy, SilentServer};
pub use postgres::TestDb;
