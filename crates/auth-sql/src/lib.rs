//! What the SQL adapters (`auth-sqlite`, `auth-postgres`) share, so that each keeps only its
//! dialect: the SQL text, how it binds values and which database codes mean what.
//!
//! [`rows`] holds one row type per table, generic over how the dialect stores ids ([`IdColumn`]:
//! text in SQLite, `uuid` in PostgreSQL), and the one mapping from its plain column values to
//! the domain's types, which refuses any value the domain would not accept. [`error`] turns
//! sqlx's failures into the port errors, given the dialect's judgement of its database codes.
//!
//! Nothing here opens a connection or names a driver: the row types derive `sqlx::FromRow` for
//! any row whose columns decode, and the helpers work on `sqlx::Error` alone.
#![warn(missing_docs)]

pub mod error;
mod ids;
pub mod rows;

pub use error::{corrupt, count, hash32, migrate_error, refused_by, schema_ready, store_error};
pub use ids::{DomainId, IdColumn};
