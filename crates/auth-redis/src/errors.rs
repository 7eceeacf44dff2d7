//! How Redis failures map onto [`StoreError`]: unusable data is `Corrupt`, everything else (I/O,
//! timeouts, a server that is loading, read-only or out of memory) is `Unavailable`.

use auth_core::ports::StoreError;
use redis::{ErrorKind, RedisError, Value};

/// The error code the Lua scripts use for stored data that makes no sense.
const CORRUPT_CODE: &str = "CORRUPT";

/// The [`StoreError`] for a failed request.
pub(crate) fn store_error(e: RedisError) -> StoreError {
    // WRONGTYPE: a key of ours holds another type, so what is there is not ours to read.
    if matches!(e.code(), Some(CORRUPT_CODE | "WRONGTYPE"))
        || e.kind() == ErrorKind::UnexpectedReturnType
    {
        return StoreError::Corrupt(e.to_string());
    }
    StoreError::Unavailable(Box::new(e))
}

/// A [`StoreError::Corrupt`] saying what did not make sense.
pub(crate) fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

/// A [`StoreError::Corrupt`] for a reply of the wrong shape. Only its kind is named: its content
/// may be personal data.
pub(crate) fn unexpected(what: &str, reply: &Value) -> StoreError {
    corrupt(format!("{what} answered {}", unexpected_kind(reply)))
}

/// What kind of reply `v` is, without its content.
pub(crate) fn unexpected_kind(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Int(_) => "an integer",
        Value::BulkString(_) => "a string",
        Value::SimpleString(_) | Value::Okay => "a status",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        _ => "another kind of reply",
    }
}

/// A [`StoreError::Unavailable`] for a reason that is not a Redis error (an unusable setting).
pub(crate) fn unavailable(why: String) -> StoreError {
    StoreError::Unavailable(why.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn io_failures_are_unavailable_and_bad_data_is_corrupt() {
        let refused = RedisError::from(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert!(matches!(store_error(refused), StoreError::Unavailable(_)));
        let timeout = RedisError::from(io::Error::from(io::ErrorKind::TimedOut));
        assert!(matches!(store_error(timeout), StoreError::Unavailable(_)));
        let typed = RedisError::from((ErrorKind::UnexpectedReturnType, "not a hash"));
        assert!(matches!(store_error(typed), StoreError::Corrupt(_)));
    }
}
