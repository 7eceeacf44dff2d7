//! The numbers behind the rules, with safe defaults and the bounds configuration may not cross.

use crate::code::{MAX_CODE_LEN, MIN_CODE_LEN};
use crate::rate::{Backoff, Quota};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Every tunable number of the service. `Policy::default()` is the documented default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Symbols per code (8 to 16; each symbol is 5 bits, so 8 is 40 bits).
    pub code_length: usize,
    /// How long a code is valid.
    #[serde(with = "duration_serde")]
    pub code_ttl: Duration,
    /// Guesses evaluated per attempt before it is dead.
    pub max_guesses: u32,
    /// How long an attempt token is accepted (it can ask for a new code after the old one expires).
    #[serde(with = "duration_serde")]
    pub attempt_token_ttl: Duration,
    /// Access-token lifetime.
    #[serde(with = "duration_serde")]
    pub access_ttl: Duration,
    /// A session ends if its refresh token is not used for this long.
    #[serde(with = "duration_serde")]
    pub session_idle_ttl: Duration,
    /// A session ends this long after sign-in, whatever happens.
    #[serde(with = "duration_serde")]
    pub session_max_ttl: Duration,
    /// How recent a sign-in must be for sensitive changes (adding or removing a passkey, email
    /// change, account deletion).
    #[serde(with = "duration_serde")]
    pub recent_auth: Duration,
    /// How long after a refresh token is rotated presenting it again returns the same successor
    /// instead of revoking the session: two tabs that refresh at once both stay signed in. `0s`
    /// turns it off.
    #[serde(with = "duration_serde")]
    pub refresh_grace: Duration,
    /// How long security activity (audit events) is kept before it is purged.
    #[serde(with = "duration_serde")]
    pub audit_retention: Duration,
    /// How long a WebAuthn ceremony (passkey registration or sign-in) may take, server side.
    #[serde(with = "duration_serde")]
    pub ceremony_ttl: Duration,
    /// Rate limits.
    pub limits: Limits,
}

/// Rate limits. Every one applies the same whether or not an address has an account.
///
/// Nobody who only knows an address may lock its owner out, so every limit an outsider can
/// exhaust for an address is kept per client network (an IPv4 address or an IPv6 /64): an
/// outsider spends only their own network's share. Only `send_per_address_total` is kept per
/// address alone, and it is high enough that only a large distributed attack reaches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Codes sent on behalf of one client network.
    pub send_per_ip: Quota,
    /// Codes sent to one address on behalf of one client network.
    pub send_per_address: Quota,
    /// Codes sent to one address, whoever asks: the absolute cap against mail bombing by many
    /// networks. At least `send_per_address`.
    pub send_per_address_total: Quota,
    /// The minimum gap between two codes to one address for one client network (`0s` turns it
    /// off).
    #[serde(with = "duration_serde")]
    pub send_gap_per_address: Duration,
    /// All mail the service sends: a guard against mail bombing and cost.
    pub send_global: Quota,
    /// The most of `send_global` one client network may take, in percent (1 to 50): a flood
    /// from one network leaves the rest of the budget to everyone else.
    pub send_global_share_percent: u32,
    /// Code guesses from one client network.
    pub guesses_per_ip: Quota,
    /// Passkey sign-in options (each keeps a ceremony server side) for one client network. The
    /// page asks for them on every visit, for autofill, so this is generous.
    pub passkey_options_per_ip: Quota,
    /// Wrong codes for one address from one client network, across all its attempts. A new code
    /// does not reset it; a success does.
    pub address_failures: Backoff,
}

impl Limits {
    /// The part of `send_global` one client network may take: `send_global_share_percent` of its
    /// limit (at least 1), over the same period.
    pub fn send_global_per_network(&self) -> Quota {
        let limit =
            u64::from(self.send_global.limit) * u64::from(self.send_global_share_percent) / 100;
        Quota::new(
            u32::try_from(limit).unwrap_or(u32::MAX).max(1),
            self.send_global.period,
        )
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            code_length: MIN_CODE_LEN,
            code_ttl: Duration::from_secs(10 * 60),
            max_guesses: 5,
            attempt_token_ttl: Duration::from_secs(30 * 60),
            access_ttl: Duration::from_secs(15 * 60),
            session_idle_ttl: Duration::from_secs(30 * 86_400),
            session_max_ttl: Duration::from_secs(90 * 86_400),
            recent_auth: Duration::from_secs(10 * 60),
            refresh_grace: Duration::from_secs(10),
            audit_retention: Duration::from_secs(90 * 86_400),
            ceremony_ttl: Duration::from_secs(5 * 60),
            limits: Limits::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            send_per_ip: Quota::new(20, Duration::from_secs(3600)),
            send_per_address: Quota::new(5, Duration::from_secs(3600)),
            send_per_address_total: Quota::new(100, Duration::from_secs(3600)),
            send_gap_per_address: Duration::from_secs(30),
            send_global: Quota::new(1000, Duration::from_secs(60)),
            send_global_share_percent: 10,
            guesses_per_ip: Quota::new(60, Duration::from_secs(600)),
            passkey_options_per_ip: Quota::new(600, Duration::from_secs(600)),
            address_failures: Backoff {
                budget: 20,
                window: Duration::from_secs(86_400),
                free: 3,
                base: Duration::from_secs(2),
                max: Duration::from_secs(300),
            },
        }
    }
}

/// A setting outside its safe bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting} {problem}")]
pub struct PolicyError {
    /// The setting's name.
    pub setting: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl Policy {
    /// The lifetimes a refresh applies.
    pub fn lifetimes(&self) -> crate::ports::Lifetimes {
        crate::ports::Lifetimes {
            idle: self.session_idle_ttl,
            max: self.session_max_ttl,
            grace: self.refresh_grace,
        }
    }

    /// What the durable stores keep, and for how long.
    pub fn retention(&self) -> crate::ports::Retention {
        crate::ports::Retention {
            spent_tokens: self.session_idle_ttl,
            audit: self.audit_retention,
        }
    }

    /// How long the browser waits for the person during a WebAuthn ceremony: shorter than the
    /// server keeps the ceremony, so the browser gives up before the server forgets the challenge.
    pub fn browser_timeout(&self) -> Duration {
        self.ceremony_ttl * 4 / 5
    }

    /// Checks every bound. Codes may be lengthened but never below about 40 bits.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let err = |setting, problem: &str| {
            Err(PolicyError {
                setting,
                problem: problem.to_owned(),
            })
        };
        let min = Duration::from_secs(60);
        if !(MIN_CODE_LEN..=MAX_CODE_LEN).contains(&self.code_length) {
            return err("code_length", "must be between 8 and 16");
        }
        if self.code_ttl < min || self.code_ttl > Duration::from_secs(3600) {
            return err("code_ttl", "must be between 1 minute and 1 hour");
        }
        if !(1..=10).contains(&self.max_guesses) {
            return err("max_guesses", "must be between 1 and 10");
        }
        // Stores keep an attempt for `ATTEMPT_GRACE` after its code expires; a token that outlived
        // that would ask for a new code of an attempt no store remembers.
        if self.attempt_token_ttl < self.code_ttl
            || self.attempt_token_ttl > self.code_ttl + crate::attempt::ATTEMPT_GRACE
        {
            return err(
                "attempt_token_ttl",
                "must be at least code_ttl and at most code_ttl plus 1 hour",
            );
        }
        if self.access_ttl < min || self.access_ttl > Duration::from_secs(3600) {
            return err("access_ttl", "must be between 1 minute and 1 hour");
        }
        if self.session_idle_ttl < self.access_ttl || self.session_idle_ttl > self.session_max_ttl {
            return err(
                "session_idle_ttl",
                "must be at least access_ttl and at most session_max_ttl",
            );
        }
        if self.session_max_ttl > Duration::from_secs(400 * 86_400) {
            return err("session_max_ttl", "must be at most 400 days");
        }
        if self.recent_auth < min || self.recent_auth > Duration::from_secs(86_400) {
            return err("recent_auth", "must be between 1 minute and 1 day");
        }
        if self.ceremony_ttl < min || self.ceremony_ttl > Duration::from_secs(600) {
            return err("ceremony_ttl", "must be between 1 minute and 10 minutes");
        }
        // Longer than a minute would let a stolen refresh token ride along unnoticed.
        if self.refresh_grace > min {
            return err("refresh_grace", "must be at most 1 minute");
        }
        if self.audit_retention < Duration::from_secs(86_400)
            || self.audit_retention > Duration::from_secs(3650 * 86_400)
        {
            return err("audit_retention", "must be between 1 day and 3650 days");
        }
        let l = &self.limits;
        for (name, q) in [
            ("limits.send_per_ip", l.send_per_ip),
            ("limits.send_per_address", l.send_per_address),
            ("limits.send_per_address_total", l.send_per_address_total),
            ("limits.send_global", l.send_global),
            ("limits.guesses_per_ip", l.guesses_per_ip),
            ("limits.passkey_options_per_ip", l.passkey_options_per_ip),
        ] {
            if q.limit == 0 || q.period.is_zero() {
                return err(name, "needs a limit and a period above zero");
            }
        }
        // Fewer would break autofill for a household or an office behind one address.
        if l.passkey_options_per_ip.limit < 10
            || l.passkey_options_per_ip.period > Duration::from_secs(86_400)
        {
            return err(
                "limits.passkey_options_per_ip",
                "needs a limit of at least 10 and a period of at most 1 day",
            );
        }
        // The absolute cap must not be easier to reach than one network's own limit, or a single
        // network could exhaust it for everyone.
        if l.send_per_address_total.limit < l.send_per_address.limit
            || l.send_per_address_total.interval_us() > l.send_per_address.interval_us()
        {
            return err(
                "limits.send_per_address_total",
                "must allow at least as many codes as limits.send_per_address, as fast",
            );
        }
        if !(1..=50).contains(&l.send_global_share_percent) {
            return err(
                "limits.send_global_share_percent",
                "must be between 1 and 50",
            );
        }
        let b = &l.address_failures;
        if b.budget == 0 || b.window.is_zero() || b.max < b.base {
            return err(
                "limits.address_failures",
                "needs a budget and window above zero and max >= base",
            );
        }
        Ok(())
    }
}

/// Durations as text: `"500ms"`, `"30s"`, `"10m"`, `"2h"`, `"30d"`, or a bare number of seconds.
pub mod duration_serde {
    use serde::{Deserialize, Deserializer, Serializer, de};
    use std::time::Duration;

    /// Writes the shortest exact form.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    /// Reads text or a number of seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(s) => Ok(Duration::from_secs(s)),
            Raw::Text(t) => parse(&t).ok_or_else(|| {
                de::Error::custom(format!("`{t}` is not a duration like 30s, 10m, 2h or 7d"))
            }),
        }
    }

    /// Parses one duration.
    pub fn parse(t: &str) -> Option<Duration> {
        let t = t.trim();
        let split = t.find(|c: char| !c.is_ascii_digit())?;
        let (num, unit) = t.split_at(split);
        let n: u64 = num.parse().ok()?;
        let ms = match unit.trim() {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        Some(Duration::from_millis(n.checked_mul(ms)?))
    }

    /// Formats one duration.
    pub fn format(d: Duration) -> String {
        let ms = d.as_millis();
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if ms >= size && ms.is_multiple_of(size) {
                return format!("{}{unit}", ms / size);
            }
        }
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_valid_and_round_trips() {
        let p = Policy::default();
        p.validate().unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains("\"code_ttl\":\"10m\""), "{json}");
        assert_eq!(serde_json::from_str::<Policy>(&json).unwrap(), p);
    }

    #[test]
    fn codes_can_be_lengthened_but_not_weakened() {
        let mut p = Policy {
            code_length: 12,
            ..Policy::default()
        };
        p.validate().unwrap();
        p.code_length = 7;
        assert_eq!(p.validate().unwrap_err().setting, "code_length");
        p = Policy {
            max_guesses: 0,
            ..Policy::default()
        };
        assert_eq!(p.validate().unwrap_err().setting, "max_guesses");
        p = Policy::default();
        p.limits.guesses_per_ip.limit = 0;
        assert_eq!(
            p.validate().unwrap_err().to_string(),
            "limits.guesses_per_ip needs a limit and a period above zero"
        );
    }

    #[test]
    fn grace_retention_and_the_options_limit_have_bounds() {
        let p = Policy::default();
        assert_eq!(p.refresh_grace, Duration::from_secs(10));
        assert_eq!(p.audit_retention, Duration::from_secs(90 * 86_400));
        for (bad, setting) in [
            (
                Policy {
                    refresh_grace: Duration::from_secs(61),
                    ..Policy::default()
                },
                "refresh_grace",
            ),
            (
                Policy {
                    audit_retention: Duration::from_secs(3600),
                    ..Policy::default()
                },
                "audit_retention",
            ),
            (
                Policy {
                    audit_retention: Duration::from_secs(3651 * 86_400),
                    ..Policy::default()
                },
                "audit_retention",
            ),
        ] {
            assert_eq!(bad.validate().unwrap_err().setting, setting);
        }
        let off = Policy {
            refresh_grace: Duration::ZERO,
            ..Policy::default()
        };
        off.validate().expect("0s turns the grace off");
        let mut few = Policy::default();
        few.limits.passkey_options_per_ip.limit = 9;
        assert_eq!(
            few.validate().unwrap_err().setting,
            "limits.passkey_options_per_ip"
        );
        let p: Policy = serde_json::from_str(
            r#"{"refresh_grace": "5s", "audit_retention": "30d",
                "limits": {"passkey_options_per_ip": {"limit": 100, "period": "1m"}}}"#,
        )
        .unwrap();
        p.validate().unwrap();
        assert_eq!(p.refresh_grace, Duration::from_secs(5));
        assert_eq!(p.limits.passkey_options_per_ip.limit, 100);
    }

    #[test]
    fn one_network_may_take_only_its_share_of_the_global_budget() {
        let mut p = Policy::default();
        assert_eq!(
            p.limits.send_global_per_network(),
            Quota::new(100, Duration::from_secs(60)),
            "10 % of 1000 a minute"
        );
        p.limits.send_global = Quota::new(5, Duration::from_secs(60));
        assert_eq!(p.limits.send_global_per_network().limit, 1, "never zero");
        for bad in [0, 51, 100] {
            p.limits.send_global_share_percent = bad;
            assert_eq!(
                p.validate().unwrap_err().setting,
                "limits.send_global_share_percent",
                "{bad} %"
            );
        }
        p.limits.send_global_share_percent = 50;
        p.validate().unwrap();
    }

    #[test]
    fn the_absolute_per_address_cap_is_at_least_one_networks_limit() {
        let mut p = Policy::default();
        p.limits.send_per_address_total.limit = 4;
        assert_eq!(
            p.validate().unwrap_err().setting,
            "limits.send_per_address_total"
        );
        p.limits.send_per_address_total = Quota::new(5, Duration::from_secs(7200));
        assert_eq!(
            p.validate().unwrap_err().setting,
            "limits.send_per_address_total",
            "as many, but slower, is still easier to reach"
        );
        p.limits.send_per_address_total = Quota::new(5, Duration::from_secs(3600));
        p.validate().unwrap();
    }

    #[test]
    fn a_misspelt_field_inside_a_limit_is_refused() {
        let quota = r#"{"limits": {"send_per_ip": {"limit": 3, "period": "1h", "perod": "2h"}}}"#;
        assert!(serde_json::from_str::<Policy>(quota).is_err());
        let backoff = r#"{"limits": {"address_failures": {"budget": 3, "window": "1h",
            "free": 1, "base": "1s", "max": "1m", "maximum": "2m"}}}"#;
        assert!(serde_json::from_str::<Policy>(backoff).is_err());
    }

    #[test]
    fn an_attempt_token_never_outlives_the_attempt_the_stores_keep() {
        let mut p = Policy::default();
        p.attempt_token_ttl = p.code_ttl + crate::attempt::ATTEMPT_GRACE;
        p.validate().unwrap();
        p.attempt_token_ttl += Duration::from_secs(1);
        assert_eq!(p.validate().unwrap_err().setting, "attempt_token_ttl");
    }

    #[test]
    fn durations_parse_from_text_and_numbers() {
        use duration_serde::{format, parse};
        assert_eq!(parse("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse("10 m"), Some(Duration::from_secs(600)));
        assert_eq!(parse("ten minutes"), None);
        assert_eq!(parse("10y"), None);
        assert_eq!(parse("99999999999999999999d"), None);
        assert_eq!(format(Duration::from_secs(90)), "90s");
        assert_eq!(format(Duration::from_millis(1500)), "1500ms");
        let p: Policy = serde_json::from_str(r#"{"code_ttl": 300}"#).unwrap();
        assert_eq!(p.code_ttl, Duration::from_secs(300));
        assert!(serde_json::from_str::<Policy>(r#"{"code_tl": 300}"#).is_err());
    }
}
