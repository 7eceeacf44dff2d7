//! [`AttemptStore`] on Redis: one hash per attempt, found by its id alone, and how an attempt is
//! stored as the fields of that hash.

use crate::RedisStore;
use crate::errors::{corrupt, unexpected, unexpected_kind};
use async_trait::async_trait;
use auth_core::EmailAddress;
use auth_core::attempt::{Attempt, AttemptState, Purpose, Subject};
use auth_core::code::CodeHash;
use auth_core::ids::{AttemptId, UserId};
use auth_core::ports::{AttemptStore, StoreError};
use auth_core::time::Timestamp;
use auth_core::user::DisplayName;
use redis::Value;
use std::collections::HashMap;
use std::fmt::Write as _;

#[async_trait]
impl AttemptStore for RedisStore {
    async fn create(
        &self,
        attempt: &Attempt,
        replaces: Option<AttemptId>,
    ) -> Result<(), StoreError> {
        // A start without limits: the same script, so an attempt is written in one place.
        self.open_attempt(&[], attempt.created_at, attempt, replaces)
            .await
            .map(|_| ())
    }

    async fn get(&self, id: &AttemptId) -> Result<Option<Attempt>, StoreError> {
        let mut read = redis::cmd("HGETALL");
        read.arg(self.inner.keys.attempt(id));
        let fields = fields(self.query(&read).await?)?;
        if fields.is_empty() {
            return Ok(None);
        }
        decode(*id, &fields).map(Some)
    }

    async fn take_guess(
        &self,
        id: &AttemptId,
        now: Timestamp,
        max_guesses: u32,
    ) -> Result<Option<Attempt>, StoreError> {
        let mut guess = self.inner.scripts.attempt_take_guess.prepare_invoke();
        guess
            .key(self.inner.keys.attempt(id))
            .arg(now.as_millis())
            .arg(max_guesses);
        match self.eval(&guess).await? {
            Value::Nil => Ok(None),
            found => decode(*id, &fields(found)?).map(Some),
        }
    }

    async fn consume(&self, id: &AttemptId, now: Timestamp) -> Result<bool, StoreError> {
        let mut consume = self.inner.scripts.attempt_consume.prepare_invoke();
        consume
            .key(self.inner.keys.attempt(id))
            .arg(now.as_millis());
        match self.eval(&consume).await? {
            Value::Int(1) => Ok(true),
            Value::Int(0) => Ok(false),
            other => Err(unexpected("the consume script", &other)),
        }
    }
}

/// The fields of an attempt as stored.
pub(crate) fn encode(a: &Attempt) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("purpose", a.purpose.as_str().to_owned()),
        ("email", a.email.as_str().to_owned()),
        ("code_hash", hex(&a.code_hash.0)),
        ("created_at", a.created_at.as_millis().to_string()),
        ("expires_at", a.expires_at.as_millis().to_string()),
        ("guesses", a.guesses.to_string()),
        ("state", a.state.as_str().to_owned()),
        ("account_epoch", a.account_epoch.to_string()),
    ];
    match &a.subject {
        Subject::Account { user_id } => {
            fields.push(("subject", "account".to_owned()));
            fields.push(("user_id", user_id.to_string()));
        }
        Subject::NewAccount { display_name } => {
            fields.push(("subject", "new_account".to_owned()));
            fields.push(("display_name", display_name.as_str().to_owned()));
        }
        Subject::Decoy => fields.push(("subject", "decoy".to_owned())),
    }
    fields
}

/// The attempt `id` from its stored fields. Error messages name fields, never their values, which
/// may be personal data.
pub(crate) fn decode(id: AttemptId, f: &HashMap<String, String>) -> Result<Attempt, StoreError> {
    let field = |name: &str| {
        f.get(name)
            .map(String::as_str)
            .ok_or_else(|| corrupt(format!("an attempt lacks {name}")))
    };
    let bad = |name: &str| corrupt(format!("an attempt has an unusable {name}"));
    let millis = |name: &str| {
        field(name)?
            .parse::<i64>()
            .map(Timestamp::from_millis)
            .map_err(|_| bad(name))
    };

    let subject = match field("subject")? {
        "account" => Subject::Account {
            user_id: UserId::parse(field("user_id")?).ok_or_else(|| bad("user_id"))?,
        },
        "new_account" => Subject::NewAccount {
            display_name: DisplayName::parse(field("display_name")?)
                .map_err(|_| bad("display_name"))?,
        },
        "decoy" => Subject::Decoy,
        _ => return Err(bad("subject")),
    };
    Ok(Attempt {
        id,
        purpose: Purpose::parse(field("purpose")?).ok_or_else(|| bad("purpose"))?,
        email: EmailAddress::parse(field("email")?).map_err(|_| bad("email"))?,
        subject,
        code_hash: CodeHash(unhex32(field("code_hash")?).ok_or_else(|| bad("code_hash"))?),
        created_at: millis("created_at")?,
        expires_at: millis("expires_at")?,
        guesses: field("guesses")?.parse().map_err(|_| bad("guesses"))?,
        state: AttemptState::parse(field("state")?).ok_or_else(|| bad("state"))?,
        // Attempts stored before epochs existed have none; they began in epoch 0.
        account_epoch: f
            .get("account_epoch")
            .map_or(Ok(0), |e| e.parse())
            .map_err(|_| bad("account_epoch"))?,
    })
}

/// The field-value pairs of a hash, as HGETALL (or a script passing its result on) answers them:
/// a flat array under RESP2, a map under RESP3.
pub(crate) fn fields(v: Value) -> Result<HashMap<String, String>, StoreError> {
    let pairs: Vec<(Value, Value)> = match v {
        Value::Map(pairs) => pairs,
        Value::Array(items) if items.len() % 2 == 0 => {
            let mut items = items.into_iter();
            let mut pairs = Vec::with_capacity(items.len() / 2);
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                pairs.push((k, v));
            }
            pairs
        }
        other => {
            return Err(corrupt(format!(
                "expected the fields of a hash, got {}",
                unexpected_kind(&other)
            )));
        }
    };
    pairs
        .into_iter()
        .map(|(k, v)| Ok((text(k)?, text(v)?)))
        .collect()
}

/// A string reply as text.
fn text(v: Value) -> Result<String, StoreError> {
    match v {
        Value::BulkString(bytes) => {
            String::from_utf8(bytes).map_err(|_| corrupt("a stored field is not UTF-8"))
        }
        Value::SimpleString(s) => Ok(s),
        other => Err(corrupt(format!(
            "expected a string, got {}",
            unexpected_kind(&other)
        ))),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    let digits = s.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::ports::OsRng;
    use auth_core::testkit::sample_attempt;

    #[test]
    fn every_subject_round_trips_through_the_stored_fields() {
        let email = EmailAddress::parse("a@example.test").unwrap();
        let subjects = [
            Subject::Decoy,
            Subject::Account {
                user_id: UserId::random(&OsRng),
            },
            Subject::NewAccount {
                display_name: DisplayName::parse("Zoë ✓").unwrap(),
            },
        ];
        for subject in subjects {
            let (a, _) = sample_attempt(
                &email,
                Purpose::EmailChange,
                subject,
                Timestamp::from_millis(1_700_000_000_000),
            );
            let stored: HashMap<String, String> = encode(&a)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            assert_eq!(decode(a.id, &stored).unwrap(), a);
        }
    }

    #[test]
    fn damaged_fields_are_corrupt_and_the_message_holds_no_address() {
        let email = EmailAddress::parse("secret.person@example.test").unwrap();
        let (a, _) = sample_attempt(
            &email,
            Purpose::Login,
            Subject::Decoy,
            Timestamp::from_millis(0),
        );
        let good: HashMap<String, String> = encode(&a)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        for (name, value) in [
            ("state", "lost"),
            ("guesses", "-1"),
            ("code_hash", "zz"),
            ("expires_at", "soon"),
            ("email", "a,b@x.test"),
        ] {
            let mut damaged = good.clone();
            damaged.insert(name.to_owned(), value.to_owned());
            let Err(StoreError::Corrupt(msg)) = decode(a.id, &damaged) else {
                panic!("a damaged {name} must be corrupt");
            };
            assert!(msg.contains(name) && !msg.contains("secret"), "{msg}");
        }
        let mut missing = good;
        missing.remove("purpose");
        assert!(matches!(
            decode(a.id, &missing),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn hashes_are_read_from_resp2_arrays_and_resp3_maps() {
        let s = |x: &str| Value::BulkString(x.as_bytes().to_vec());
        let flat = fields(Value::Array(vec![s("a"), s("1"), s("b"), s("2")])).unwrap();
        let map = fields(Value::Map(vec![(s("a"), s("1")), (s("b"), s("2"))])).unwrap();
        assert_eq!(flat, map);
        assert_eq!(flat.get("b").map(String::as_str), Some("2"));
        assert!(fields(Value::Array(vec![s("odd")])).is_err());
        assert_eq!(unhex32(&hex(&[0xab; 32])), Some([0xab; 32]));
    }
}
