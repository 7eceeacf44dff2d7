//! The security events that leave the service: which audit events are also written to the
//! outbox (for webhooks), under which event type, and with which small, secret-free payload.

use crate::audit::AuditKind;
use crate::ports::AuditEvent;
use crate::session::AuthMethod;

/// Every event type the outbox carries, as webhook settings name them in their filter.
pub const EVENT_TYPES: &[&str] = &[
    "account_created",
    "signed_in",
    "recovery_used",
    "passkey_added",
    "passkey_removed",
    "email_changed",
    "account_deleted",
    "refresh_token_reused",
    "account_disabled",
    "account_enabled",
];

/// What the outbox keeps of one event: its type and its payload (a JSON object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// One of [`EVENT_TYPES`].
    pub kind: &'static str,
    /// The `data` of the webhook: the account id, the client IP if known, and what the kind
    /// adds (sign-in method, passkey name, masked addresses, session id). Never a secret.
    pub payload: String,
}

/// The outbox event an audit event also is, if it is one. Stores call this inside the write that
/// records `event`, so the outbox row exists exactly when the change it reports does.
#[must_use]
pub fn outbox_event(event: &AuditEvent) -> Option<OutboxEvent> {
    let detail = event.detail.as_deref();
    // The detail as the one field of the kind's `data`, when there is one.
    let one = |name: &'static str| detail.map(|d| vec![(name, d)]).unwrap_or_default();
    let (kind, fields) = match event.kind {
        AuditKind::SignedUp => ("account_created", Vec::new()),
        AuditKind::SignedIn => {
            let recovery = detail == Some(AuthMethod::Recovery.as_str());
            let kind = if recovery {
                "recovery_used"
            } else {
                "signed_in"
            };
            (kind, one("method"))
        }
        // An app's sign-in through the provider is a `signed_in` event too, with the app's name
        // beside the method (the audit detail is "App name, method").
        AuditKind::AppSignedIn => {
            let detail = detail.unwrap_or_default();
            let (app, method) = detail.rsplit_once(", ").unwrap_or(("", detail));
            ("signed_in", vec![("method", method), ("app", app)])
        }
        AuditKind::PasskeyAdded => ("passkey_added", one("passkey_name")),
        AuditKind::PasskeyRemoved => ("passkey_removed", one("passkey_name")),
        AuditKind::EmailChanged => ("email_changed", one("change")),
        AuditKind::AccountDeleted => ("account_deleted", one("operator")),
        AuditKind::AccountDisabled => ("account_disabled", one("operator")),
        AuditKind::AccountEnabled => ("account_enabled", one("operator")),
        AuditKind::RefreshTokenReused => ("refresh_token_reused", one("session_id")),
        _ => return None,
    };
    let mut data = serde_json::Map::new();
    data.insert("account_id".into(), event.user_id.to_string().into());
    if let Some(ip) = &event.ip {
        data.insert("ip".into(), ip.clone().into());
    }
    for (name, value) in fields {
        data.insert(name.into(), value.into());
    }
    Some(OutboxEvent {
        kind,
        payload: serde_json::Value::Object(data).to_string(),
    })
}

/// Which webhook events a store writes to its outbox: the event types some endpoint wants. A
/// deployment without webhook endpoints writes none, so a sign-in does not leave a row that nobody
/// reads (and that would wait out the retry window); the activity rows are written either way.
/// The default is every type, for an embedder that reads the outbox itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookEvents(u32);

impl WebhookEvents {
    /// Every event type.
    pub const ALL: Self = Self((1 << EVENT_TYPES.len()) - 1);
    /// No event: nothing goes to the outbox's webhook channel.
    pub const NONE: Self = Self(0);

    /// The named event types (each one of [`EVENT_TYPES`]; other names are ignored).
    pub fn only<'a>(types: impl IntoIterator<Item = &'a str>) -> Self {
        Self(types.into_iter().fold(0, |set, t| set | bit(t)))
    }

    /// Both sets.
    #[must_use]
    pub const fn and(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether events of type `kind` are written.
    pub fn wants(self, kind: &str) -> bool {
        self.0 & bit(kind) != 0
    }

    /// The outbox event `event` is, if it is one of these types: what a store writes with it.
    #[must_use]
    pub fn event(self, event: &AuditEvent) -> Option<OutboxEvent> {
        if self == Self::NONE {
            return None;
        }
        outbox_event(event).filter(|e| self.wants(e.kind))
    }
}

/// A store that can be told which webhook events to write to its outbox.
pub trait ChooseWebhookEvents: Sized {
    /// The same store, writing only `events` to its outbox (by default every webhook event; the
    /// server writes none when no webhook endpoint is configured). The activity rows are written
    /// either way.
    #[must_use]
    fn with_webhook_events(self, events: WebhookEvents) -> Self;
}

impl Default for WebhookEvents {
    fn default() -> Self {
        Self::ALL
    }
}

/// The bit of event type `kind` (0 for a name that is not one).
fn bit(kind: &str) -> u32 {
    EVENT_TYPES
        .iter()
        .position(|&t| t == kind)
        .map_or(0, |i| 1 << i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::time::Timestamp;

    fn event(kind: AuditKind, detail: Option<&str>) -> AuditEvent {
        AuditEvent {
            user_id: UserId::from_uuid(uuid::Uuid::nil()),
            at: Timestamp::from_millis(1),
            kind,
            ip: Some("192.0.2.1".into()),
            detail: detail.map(str::to_owned),
        }
    }

    #[test]
    fn an_apps_sign_in_is_signed_in_with_the_app_and_the_method() {
        let e = outbox_event(&event(
            AuditKind::AppSignedIn,
            Some("Grafana, Inc., passkey"),
        ))
        .unwrap();
        assert_eq!(e.kind, "signed_in");
        let data: serde_json::Value = serde_json::from_str(&e.payload).unwrap();
        assert_eq!(data["method"], "passkey");
        assert_eq!(data["app"], "Grafana, Inc.");
    }

    #[test]
    fn a_recovery_sign_in_is_recovery_used_and_other_sign_ins_name_their_method() {
        let e = outbox_event(&event(AuditKind::SignedIn, Some("recovery"))).unwrap();
        assert_eq!(e.kind, "recovery_used");
        let e = outbox_event(&event(AuditKind::SignedIn, Some("passkey"))).unwrap();
        assert_eq!(e.kind, "signed_in");
        let data: serde_json::Value = serde_json::from_str(&e.payload).unwrap();
        assert_eq!(data["method"], "passkey");
        assert_eq!(data["ip"], "192.0.2.1");
        assert_eq!(
            data["account_id"],
            UserId::from_uuid(uuid::Uuid::nil()).to_string()
        );
    }

    #[test]
    fn only_the_listed_kinds_go_to_the_outbox() {
        assert!(outbox_event(&event(AuditKind::ProfileUpdated, None)).is_none());
        assert!(outbox_event(&event(AuditKind::CodeRejected, None)).is_none());
        for &kind in AuditKind::ALL {
            if let Some(e) = outbox_event(&event(kind, Some("x"))) {
                assert!(EVENT_TYPES.contains(&e.kind), "{}", e.kind);
            }
        }
    }

    #[test]
    fn a_set_of_event_types_writes_only_those() {
        let sign_in = event(AuditKind::SignedIn, Some("passkey"));
        let added = event(AuditKind::PasskeyAdded, Some("Laptop"));
        assert_eq!(WebhookEvents::default(), WebhookEvents::ALL);
        assert_eq!(
            WebhookEvents::ALL.event(&sign_in),
            outbox_event(&sign_in),
            "every type: the event as it is"
        );
        assert!(WebhookEvents::NONE.event(&sign_in).is_none());
        assert!(WebhookEvents::NONE.event(&added).is_none());
        let some = WebhookEvents::only(["passkey_added", "no_such_event"]);
        assert!(some.event(&sign_in).is_none());
        assert_eq!(some.event(&added), outbox_event(&added));
        let both = some.and(WebhookEvents::only(["signed_in"]));
        assert!(both.event(&sign_in).is_some() && both.event(&added).is_some());
        assert!(!both.wants("recovery_used"));
        for t in EVENT_TYPES {
            assert!(WebhookEvents::ALL.wants(t) && !WebhookEvents::NONE.wants(t));
            assert_eq!(WebhookEvents::only([*t]), WebhookEvents::only([*t, *t]));
        }
    }
}
