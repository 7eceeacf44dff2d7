//! Standard Webhooks: the body (`type`, `timestamp`, `data`) and the signature headers
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "id.timestamp.body">`).

use auth_core::ports::OutboxEntry;
use auth_core::time::Timestamp;
use base64::Engine;
use hmac::{KeyInit, Mac};

/// The JSON body of `entry`.
pub fn body(entry: &OutboxEntry) -> String {
    let data: serde_json::Value =
        serde_json::from_str(&entry.payload).unwrap_or(serde_json::Value::Null);
    let when = time::OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(entry.occurred_at.as_millis()) * 1_000_000,
    )
    .ok()
    .and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .unwrap_or_default();
    serde_json::json!({ "type": entry.kind, "timestamp": when, "data": data }).to_string()
}

/// The three signature headers of one attempt, sent at `at`.
pub fn headers(secret: &[u8], id: &str, at: Timestamp, body: &str) -> Vec<(&'static str, String)> {
    let seconds = at.as_millis().div_euclid(1000).to_string();
    let signature = signature(secret, id, &seconds, body);
    vec![
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", seconds),
        ("webhook-signature", format!("v1,{signature}")),
    ]
}

fn signature(secret: &[u8], id: &str, seconds: &str, body: &str) -> String {
    // HMAC takes keys of any length.
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(seconds.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries: secret
    /// `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`, id `msg_p5jXN8AQM9LWM0D4loKWxJek`, timestamp
    /// 1614265330, body `{"test": 2432232314}`.
    #[test]
    fn the_signature_matches_the_specifications_example() {
        let secret = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        let sig = signature(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
