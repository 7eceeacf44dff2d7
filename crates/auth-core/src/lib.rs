//! The pure domain of the passwordless authentication service.
//!
//! `auth-core` owns the rules (codes, attempts, enumeration safety, rate limits, sessions) and the
//! use cases that apply them, and defines the [`ports`] that adapters implement. It performs no I/O
//! of its own: storage, mail, token signing, time and randomness all come in through ports, so the
//! rules can be tested with a fake clock and embedded in any runtime.
#![warn(missing_docs)]

pub mod attempt;
pub mod audit;
pub mod code;
pub mod email;
pub mod ids;
pub mod language;
pub mod mail;
pub mod net;
pub mod oidc;
pub mod outbox;
pub mod passkey;
pub mod policy;
pub mod ports;
pub mod rate;
pub mod revert;
pub mod service;
pub mod session;
pub mod time;
pub mod token;
pub mod user;
pub mod useragent;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use email::EmailAddress;
pub use ids::{AttemptId, CeremonyId, PasskeyId, SessionId, UserId};
pub use language::Language;
pub use policy::Policy;
pub use service::AuthService;
pub use time::Timestamp;
