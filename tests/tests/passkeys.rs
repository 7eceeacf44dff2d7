//! Passkeys over the real HTTP API, on both backends, with a software authenticator (1Password's
//! `passkey` crates) playing the browser: registration, usernameless sign-in, management, the
//! security notices, and every kind of bad response answered with a clear 4xx.

use auth_testsupport::Device;
use e2e::{Reply, Server, Session, jwt_claims, unique_email};
use serde_json::{Value, json};

/// The origin the server is configured with (its default public URL).
const ORIGIN: &str = "http://localhost:8080";

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn register(s: &Server, session: &Session, device: &mut Device, name: Option<&str>) -> Reply {
    let options = s.authed(
        "POST",
        "/v1/passkeys/register/options",
        &session.access,
        None,
    );
    assert_eq!(options.status, 200, "{}", options.text);
    let credential =
        block_on(device.create(&options.json["options"])).expect("the device creates a credential");
    let mut body = json!({ "ceremony_id": options.json["ceremony_id"], "credential": credential });
    if let Some(n) = name {
        body["name"] = json!(n);
    }
    s.authed(
        "POST",
        "/v1/passkeys/register/finish",
        &session.access,
        Some(body),
    )
}

/// A sign-in ceremony: the options, and the device's answer to them.
fn assertion(s: &Server, device: &mut Device) -> (Value, Value) {
    let options = s.request("POST", "/v1/passkeys/login/options", &[], None);
    assert_eq!(options.status, 200, "{}", options.text);
    let answer = block_on(device.get(&options.json["options"])).expect("the device signs");
    (options.json["ceremony_id"].clone(), answer)
}

fn finish(s: &Server, ceremony: &Value, credential: &Value) -> Reply {
    s.post(
        "/v1/passkeys/login/finish",
        json!({ "ceremony_id": ceremony, "credential": credential }),
    )
}

macro_rules! suite {
    () => {
        #[test]
        fn register_then_sign_in_with_the_passkey_alone() {
            let s = start(&[]);
            let email = unique_email("passkey");
            let session = s.sign_up(&email, "Pat Key");
            let mut device = Device::synced(ORIGIN);
            let added = register(&s, &session, &mut device, Some("Laptop"));
            assert_eq!(added.status, 201, "{}", added.text);
            assert_eq!(added.json["name"], "Laptop");
            assert_eq!(added.json["backed_up"], true);
            let notice = s.mail_to(&email);
            assert!(notice.subject.contains("passkey was added"), "{}", notice.subject);
            assert!(notice.text.contains("Laptop"));

            let (ceremony, answer) = assertion(&s, &mut device);
            let signed = finish(&s, &ceremony, &answer);
            assert_eq!(signed.status, 200, "{}", signed.text);
            let passkey_session = Session::from_reply(&signed);
            assert_eq!(passkey_session.user_id, session.user_id, "the user handle names the account");
            assert_eq!(jwt_claims(&passkey_session.access)["amr"], json!(["hwk", "user"]));
            let me = s.authed("GET", "/v1/me", &passkey_session.access, None);
            assert_eq!(me.json["email"], email);
            let listed = s.authed("GET", "/v1/me/passkeys", &passkey_session.access, None);
            let passkeys = listed.json["passkeys"].as_array().unwrap();
            assert_eq!(passkeys.len(), 1);
            assert!(passkeys[0]["last_used_at"].is_string(), "a sign-in records when the passkey was used");

            // The ceremony is single use: the same answer again is a replay.
            finish(&s, &ceremony, &answer).assert_problem(400, "passkey_invalid");
        }

        #[test]
        fn a_disabled_account_cannot_sign_in_with_its_passkey_until_enabled() {
            let s = start(&[]);
            let email = unique_email("passkey-off");
            let session = s.sign_up(&email, "Pat Off");
            let mut device = Device::synced(ORIGIN);
            assert_eq!(register(&s, &session, &mut device, None).status, 201);
            s.mail_to(&email);
            s.operator(&["users", "disable", &email]);
            assert!(s.mail_to(&email).subject.contains("was disabled"));

            let (ceremony, answer) = assertion(&s, &mut device);
            finish(&s, &ceremony, &answer).assert_problem(400, "passkey_invalid");

            s.operator(&["users", "enable", &email]);
            let (ceremony, answer) = assertion(&s, &mut device);
            let signed = finish(&s, &ceremony, &answer);
            assert_eq!(signed.status, 200, "an enabled account signs in again: {}", signed.text);
        }

        #[test]
        fn sign_in_options_are_limited_per_client_network() {
            let s = start(&[("AUTH_POLICY__LIMITS__PASSKEY_OPTIONS_PER_IP", "{limit=10,period=\"10m\"}")]);
            for i in 0..10 {
                let options = s.request("POST", "/v1/passkeys/login/options", &[], None);
                assert_eq!(options.status, 200, "request {i}: {}", options.text);
            }
            let limited = s.request("POST", "/v1/passkeys/login/options", &[], None);
            limited.assert_problem(429, "rate_limited");
            assert_eq!(limited.header("retry-after"), Some("60"), "one interval of 10 per 10 minutes");
        }

        #[test]
        fn passkeys_are_renamed_and_deleted_and_a_deleted_one_no_longer_signs_in() {
            let s = start(&[]);
            let email = unique_email("manage");
            let session = s.sign_up(&email, "Manager");
            let mut device = Device::synced(ORIGIN);
            let added = register(&s, &session, &mut device, None);
            assert_eq!(added.status, 201, "{}", added.text);
            assert!(!added.json["name"].as_str().unwrap().is_empty(), "a default name is given");
            s.mail_to(&email);
            let id = added.json["id"].as_str().unwrap().to_owned();
            let path = format!("/v1/me/passkeys/{id}");
            assert_eq!(s.authed("PATCH", &path, &session.access, Some(json!({ "name": "Work phone" }))).status, 204);
            assert_eq!(s.authed("GET", "/v1/me/passkeys", &session.access, None).json["passkeys"][0]["name"], "Work phone");
            s.authed("PATCH", &path, &session.access, Some(json!({ "name": "" }))).assert_problem(422, "invalid_display_name");

            // Another account can neither see nor touch it.
            let stranger = s.sign_up(&unique_email("stranger"), "Stranger");
            s.authed("DELETE", &path, &stranger.access, None).assert_problem(404, "not_found");
            assert!(s.authed("GET", "/v1/me/passkeys", &stranger.access, None).json["passkeys"].as_array().unwrap().is_empty());

            assert_eq!(s.authed("DELETE", &path, &session.access, None).status, 204);
            let notice = s.mail_to(&email);
            assert!(notice.subject.contains("removed"), "{}", notice.subject);
            let (ceremony, answer) = assertion(&s, &mut device);
            finish(&s, &ceremony, &answer).assert_problem(400, "passkey_invalid");
        }

        #[test]
        fn a_device_cannot_register_the_same_credential_twice_and_existing_ones_are_excluded() {
            let s = start(&[]);
            let session = s.sign_up(&unique_email("twice"), "Twice");
            let mut device = Device::synced(ORIGIN);
            assert_eq!(register(&s, &session, &mut device, None).status, 201);
            let options = s.authed("POST", "/v1/passkeys/register/options", &session.access, None);
            let excluded = &options.json["options"]["publicKey"]["excludeCredentials"];
            assert_eq!(excluded.as_array().map(Vec::len), Some(1), "{}", options.text);
            assert_eq!(options.json["options"]["publicKey"]["authenticatorSelection"]["residentKey"], "required");
            assert_eq!(options.json["options"]["publicKey"]["authenticatorSelection"]["userVerification"], "required");
            assert!(block_on(device.create(&options.json["options"])).is_err(), "the device refuses an excluded credential");
        }

        #[test]
        fn foreign_origins_replays_and_malformed_answers_are_refused() {
            let s = start(&[]);
            let session = s.sign_up(&unique_email("negative"), "Negative");
            let mut device = Device::synced(ORIGIN);
            assert_eq!(register(&s, &session, &mut device, None).status, 201);

            // A phishing page at another origin: the device signs, the server refuses.
            let mut phished = device.at("http://localhost:9999");
            let (ceremony, answer) = assertion(&s, &mut phished);
            finish(&s, &ceremony, &answer).assert_problem(400, "passkey_invalid");

            // An answer to one ceremony presented to another (a replay).
            let (_, old_answer) = assertion(&s, &mut device);
            let (fresh, _) = assertion(&s, &mut device);
            finish(&s, &fresh, &old_answer).assert_problem(400, "passkey_invalid");

            // Unknown or made-up ceremonies.
            let (_, answer) = assertion(&s, &mut device);
            finish(&s, &json!("00000000-0000-0000-0000-000000000000"), &answer).assert_problem(400, "passkey_invalid");
            finish(&s, &json!("not-a-ceremony"), &answer).assert_problem(400, "passkey_invalid");

            // Malformed credentials of every kind: a clear 4xx, never a 5xx.
            for bad in [json!(null), json!("x"), json!({}), json!({ "id": "AAAA", "type": "public-key", "response": {} }), json!([1, 2, 3])] {
                let (ceremony, _) = assertion(&s, &mut device);
                let r = finish(&s, &ceremony, &bad);
                assert!((400..500).contains(&r.status), "{bad}: {} {}", r.status, r.text);
                assert_eq!(r.header("content-type"), Some("application/problem+json"));
            }
            let r = s.post("/v1/passkeys/login/finish", json!({ "ceremony_id": "x" }));
            r.assert_problem(400, "invalid_request");

            // A registration ceremony belongs to the account that began it.
            let other = s.sign_up(&unique_email("other"), "Other");
            let options = s.authed("POST", "/v1/passkeys/register/options", &session.access, None);
            let credential = block_on(Device::synced(ORIGIN).create(&options.json["options"])).unwrap();
            let r = s.authed(
                "POST",
                "/v1/passkeys/register/finish",
                &other.access,
                Some(json!({ "ceremony_id": options.json["ceremony_id"], "credential": credential })),
            );
            r.assert_problem(400, "passkey_invalid");
            s.request("POST", "/v1/passkeys/register/options", &[], None).assert_problem(401, "unauthorized");
        }

        #[test]
        fn a_device_bound_passkey_whose_counter_goes_back_is_refused_as_a_clone() {
            let s = start(&[]);
            let email = unique_email("clone");
            let session = s.sign_up(&email, "Cloned");
            let mut device = Device::device_bound(ORIGIN);
            assert_eq!(register(&s, &session, &mut device, None).status, 201);
            let mut clone = device.clone();
            for _ in 0..2 {
                let (ceremony, answer) = assertion(&s, &mut device);
                assert_eq!(finish(&s, &ceremony, &answer).status, 200);
            }
            let (ceremony, answer) = assertion(&s, &mut clone);
            finish(&s, &ceremony, &answer).assert_problem(400, "passkey_invalid");
            let activity = s.authed("GET", "/v1/me/activity", &session.access, None);
            assert!(activity.text.contains("passkey_clone_suspected"), "{}", activity.text);
        }

        #[test]
        fn recovery_by_code_then_a_new_passkey() {
            let s = start(&[]);
            let email = unique_email("recover");
            s.sign_up(&email, "Lost Device");
            let started = s.post("/v1/recovery", json!({ "email": email }));
            let code = s.mail_to(&email).code().unwrap();
            let recovered = s.verify(&started, &code);
            let mut device = Device::synced(ORIGIN);
            assert_eq!(register(&s, &recovered, &mut device, Some("New phone")).status, 201);
            let (ceremony, answer) = assertion(&s, &mut device);
            assert_eq!(finish(&s, &ceremony, &answer).status, 200);
        }
    };
}

/// SQLite, in-process ceremonies and limits, `.eml` outbox.
mod embedded {
    use super::*;

    fn start(env: &[(&str, &str)]) -> e2e::TestServer {
        e2e::embedded(env)
    }

    suite!();
}

/// PostgreSQL, Redis ceremonies and limits, a real SMTP server.
mod production {
    use super::*;

    fn start(env: &[(&str, &str)]) -> e2e::TestServer {
        e2e::production(env)
    }

    suite!();
}
