//! What a request brings back: the answer read whole, and a signed-in session's credentials.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A signed-in session's credentials.
#[derive(Debug, Clone)]
pub struct Session {
    /// The access token.
    pub access: String,
    /// The refresh token.
    pub refresh: String,
    /// The session id.
    pub id: String,
    /// The account id.
    pub user_id: String,
    /// Whether the sign-in created the account.
    pub created: bool,
}

impl Session {
    /// The session of a verify or refresh answer.
    pub fn from_reply(r: &Reply) -> Self {
        let s = |k: &str| r.json[k].as_str().unwrap_or_default().to_owned();
        Self {
            access: s("access_token"),
            refresh: s("refresh_token"),
            id: s("session_id"),
            user_id: r.json["user"]["id"].as_str().unwrap_or_default().to_owned(),
            created: r.json["created"].as_bool().unwrap_or(false),
        }
    }
}

/// An HTTP answer, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers, lower-case names, values in order.
    pub headers: BTreeMap<String, Vec<String>>,
    /// The body.
    pub text: String,
    /// The body as JSON (`Null` if it is not JSON).
    pub json: Value,
}

impl From<ureq::http::Response<ureq::Body>> for Reply {
    fn from(mut res: ureq::http::Response<ureq::Body>) -> Self {
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in res.headers() {
            headers
                .entry(k.as_str().to_owned())
                .or_default()
                .push(v.to_str().unwrap_or("").to_owned());
        }
        let text = res.body_mut().read_to_string().unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status: res.status().as_u16(),
            headers,
            text,
            json,
        }
    }
}

impl Reply {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// `name=value` of every Set-Cookie, by name.
    pub fn cookies(&self) -> BTreeMap<String, String> {
        self.headers
            .get("set-cookie")
            .into_iter()
            .flatten()
            .filter_map(|c| {
                c.split(';')
                    .next()?
                    .split_once('=')
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            })
            .collect()
    }

    /// The full Set-Cookie line for `name`.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get("set-cookie")?
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }

    /// The header names, without the ones that differ on every answer.
    pub fn header_names(&self) -> BTreeSet<String> {
        self.headers
            .keys()
            .filter(|k| *k != "date")
            .cloned()
            .collect()
    }

    /// Asserts a `problem+json` answer with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(
            self.status, status,
            "expected {status} {code}, got: {}",
            self.text
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        assert_eq!(self.json["code"], code, "{}", self.text);
        assert_eq!(self.json["status"], status);
        assert!(
            self.json["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "a problem says what went wrong"
        );
    }
}
