//! Real registration and sign-in ceremonies between the adapter and a software passkey device.

mod malformed;

use auth_core::Policy;
use auth_core::passkey::{NewCredential, Passkey, PasskeyName, WebAuthnError};
use auth_core::ports::{OsRng, WebAuthn};
use auth_core::testkit::sample_user;
use auth_core::user::User;
use auth_core::{PasskeyId, Timestamp};
use auth_testsupport::Device;
use auth_webauthn::{Attachment, ConfigError, RelyingParty, WebAuthnAdapter};
use serde_json::{Value, json};

pub const ORIGIN: &str = "http://localhost:8080";

pub fn adapter() -> WebAuthnAdapter {
    adapter_for("localhost", ORIGIN)
}

pub fn adapter_for(id: &str, origin: &str) -> WebAuthnAdapter {
    WebAuthnAdapter::new(RelyingParty {
        id: id.to_owned(),
        origin: origin.to_owned(),
        name: "Auth Test".to_owned(),
        attachment: Attachment::PreferPlatform,
        browser_timeout: Policy::default().browser_timeout(),
    })
    .unwrap_or_else(|e| panic!("relying party {id} at {origin}: {e}"))
}

/// The passkey the service would store for `user` after this registration.
pub fn stored(user: &User, new: NewCredential) -> Passkey {
    Passkey {
        id: PasskeyId::random(&OsRng),
        user_id: user.id,
        credential_id: new.credential_id,
        name: PasskeyName::or_default(None),
        created_at: Timestamp::from_millis(0),
        last_used_at: None,
        backup_eligible: new.backup_eligible,
        backed_up: new.backed_up,
        transports: new.transports,
        sign_count: new.sign_count,
        credential: new.credential,
    }
}

/// Registers `device` for `user` through a whole ceremony.
pub async fn register(webauthn: &WebAuthnAdapter, user: &User, device: &mut Device) -> Passkey {
    let ceremony = webauthn
        .start_registration(user, &[])
        .expect("registration starts");
    let response = device
        .create(&ceremony.options)
        .await
        .expect("the device registers");
    stored(
        user,
        webauthn
            .finish_registration(&ceremony.state, &response)
            .expect("registration verifies"),
    )
}

/// Signs in with `device` and records the use as the service does.
pub async fn sign_in(
    webauthn: &WebAuthnAdapter,
    device: &mut Device,
    passkey: &mut Passkey,
) -> Result<(), WebAuthnError> {
    let ceremony = webauthn.start_login().expect("sign-in starts");
    let response = device
        .get(&ceremony.options)
        .await
        .expect("the device signs");
    let used = webauthn.finish_login(&ceremony.state, &response, passkey)?;
    passkey.credential = used.credential;
    passkey.sign_count = used.sign_count;
    passkey.backed_up = used.backed_up;
    Ok(())
}

fn b64url(bytes: &[u8]) -> String {
    String::from(passkey_types::Bytes::from(bytes))
}

/// Sets `value` at a JSON pointer, as a client that does not do as it is told would.
pub fn tamper(options: &Value, pointer: &str, value: Value) -> Value {
    let mut tampered = options.clone();
    *tampered
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in {options}")) = value;
    tampered
}

#[test]
fn configuration_is_checked() {
    let rp = |id: &str, origin: &str, name: &str| RelyingParty {
        id: id.to_owned(),
        origin: origin.to_owned(),
        name: name.to_owned(),
        attachment: Attachment::default(),
        browser_timeout: Policy::default().browser_timeout(),
    };
    assert!(WebAuthnAdapter::new(rp("localhost", ORIGIN, "Auth")).is_ok());
    assert!(WebAuthnAdapter::new(rp("example.com", "https://auth.example.com", "Auth")).is_ok());
    assert!(matches!(
        WebAuthnAdapter::new(rp("localhost", "not a url", "Auth")),
        Err(ConfigError::Origin(_))
    ));
    assert!(matches!(
        WebAuthnAdapter::new(rp("localhost", ORIGIN, " ")),
        Err(ConfigError::EmptyName)
    ));
    assert!(matches!(
        WebAuthnAdapter::new(rp("example.com", "https://auth.example.org", "Auth")),
        Err(ConfigError::Mismatch { .. })
    ));
}

#[tokio::test]
async fn registration_options_require_a_discoverable_verified_passkey_and_exclude_existing_ones() {
    let webauthn = adapter();
    let user = sample_user("options");
    let ceremony = webauthn.start_registration(&user, &[]).unwrap();
    let public_key = &ceremony.options["publicKey"];
    assert_eq!(
        public_key["authenticatorSelection"]["residentKey"],
        "required"
    );
    assert_eq!(
        public_key["authenticatorSelection"]["requireResidentKey"],
        true
    );
    assert_eq!(
        public_key["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(public_key["attestation"], "none");
    assert_eq!(
        public_key["timeout"].as_u64(),
        Some(Policy::default().browser_timeout().as_secs() * 1000)
    );
    assert!(
        Policy::default().browser_timeout() < Policy::default().ceremony_ttl,
        "the browser gives up before the server forgets"
    );
    assert_eq!(
        public_key["hints"],
        json!(["client-device"]),
        "platform authenticators come first"
    );
    assert!(
        public_key["authenticatorSelection"]
            .get("authenticatorAttachment")
            .is_none(),
        "security keys stay allowed"
    );
    assert_eq!(public_key["rp"]["id"], "localhost");
    assert_eq!(
        public_key["user"]["id"],
        b64url(user.id.as_uuid().as_bytes()),
        "the user handle is the account id"
    );
    assert_eq!(public_key["user"]["name"], user.email.as_str());
    assert!(
        public_key
            .get("excludeCredentials")
            .is_none_or(|list| list == &json!([]))
    );

    let mut device = Device::synced(ORIGIN);
    let response = device.create(&ceremony.options).await.unwrap();
    let passkey = stored(
        &user,
        webauthn
            .finish_registration(&ceremony.state, &response)
            .unwrap(),
    );

    let again = webauthn
        .start_registration(&user, std::slice::from_ref(&passkey))
        .unwrap();
    let excluded = &again.options["publicKey"]["excludeCredentials"];
    assert_eq!(
        excluded,
        &json!([{"type": "public-key", "id": b64url(&passkey.credential_id)}])
    );
    assert!(
        device.create(&again.options).await.is_err(),
        "the device refuses to register twice"
    );
    let mut other = Device::synced(ORIGIN);
    assert!(
        other.create(&again.options).await.is_ok(),
        "another device may"
    );
}

#[tokio::test]
async fn attachment_settings_shape_the_registration_options() {
    for (attachment, hints, restriction) in [
        (
            Attachment::PreferPlatform,
            Some(json!(["client-device"])),
            None,
        ),
        (Attachment::PlatformOnly, None, Some(json!("platform"))),
        (Attachment::Any, None, None),
    ] {
        let webauthn = WebAuthnAdapter::new(RelyingParty {
            id: "localhost".into(),
            origin: ORIGIN.into(),
            name: "Auth".into(),
            attachment,
            browser_timeout: Policy::default().browser_timeout(),
        })
        .unwrap();
        let options = webauthn
            .start_registration(&sample_user("attachment"), &[])
            .unwrap()
            .options;
        assert_eq!(
            options["publicKey"].get("hints").cloned(),
            hints,
            "{attachment:?}"
        );
        assert_eq!(
            options["publicKey"]["authenticatorSelection"]
                .get("authenticatorAttachment")
                .cloned(),
            restriction,
            "{attachment:?}"
        );
        assert!(
            Device::synced(ORIGIN).create(&options).await.is_ok(),
            "{attachment:?}: a platform device registers"
        );
    }
}

#[tokio::test]
async fn register_then_sign_in_names_the_account_by_its_user_handle() {
    let webauthn = adapter();
    let user = sample_user("sign-in");
    let mut device = Device::synced(ORIGIN);
    let mut passkey = register(&webauthn, &user, &mut device).await;
    assert_eq!(Some(passkey.credential_id.clone()), device.credential_id());
    assert!(
        passkey.backup_eligible && passkey.backed_up,
        "the software authenticator makes synced passkeys"
    );
    assert_eq!(
        passkey.transports,
        vec!["hybrid".to_owned(), "internal".to_owned()]
    );
    assert_eq!(passkey.sign_count, 0);

    let ceremony = webauthn.start_login().unwrap();
    let public_key = &ceremony.options["publicKey"];
    assert_eq!(
        public_key["allowCredentials"],
        json!([]),
        "discoverable: the device offers what it holds"
    );
    assert_eq!(public_key["userVerification"], "required");
    assert_eq!(public_key["rpId"], "localhost");
    assert!(
        ceremony.options.get("mediation").is_none(),
        "the page chooses autofill or modal"
    );

    let response = device.get(&ceremony.options).await.unwrap();
    assert_eq!(
        webauthn.identify(&response).unwrap(),
        (user.id, passkey.credential_id.clone())
    );
    let used = webauthn
        .finish_login(&ceremony.state, &response, &passkey)
        .unwrap();
    assert_eq!(used.sign_count, 0);
    assert!(used.backed_up);
    passkey.credential = used.credential;

    // Any node can finish what another began: the state is all it takes.
    let other_node = adapter();
    let ceremony = webauthn.start_login().unwrap();
    let response = device.get(&ceremony.options).await.unwrap();
    assert!(
        other_node
            .finish_login(&ceremony.state, &response, &passkey)
            .is_ok()
    );
}

#[tokio::test]
async fn a_counting_passkey_has_its_counter_recorded() {
    let webauthn = adapter();
    let user = sample_user("counter");
    let mut device = Device::device_bound(ORIGIN);
    let mut passkey = register(&webauthn, &user, &mut device).await;
    assert!(
        !passkey.backup_eligible && !passkey.backed_up,
        "a device-bound passkey"
    );
    assert_eq!(passkey.sign_count, 0);
    for expected in 1..=3 {
        sign_in(&webauthn, &mut device, &mut passkey).await.unwrap();
        assert_eq!(passkey.sign_count, expected);
        assert_eq!(device.counter(), Some(expected));
        assert!(!passkey.backed_up);
    }
}

#[tokio::test]
async fn a_used_sign_in_response_does_not_pass_a_fresh_ceremony() {
    let webauthn = adapter();
    let user = sample_user("replay");
    for mut device in [Device::synced(ORIGIN), Device::device_bound(ORIGIN)] {
        let passkey = register(&webauthn, &user, &mut device).await;
        let first = webauthn.start_login().unwrap();
        let response = device.get(&first.options).await.unwrap();
        assert!(
            webauthn
                .finish_login(&first.state, &response, &passkey)
                .is_ok()
        );
        let fresh = webauthn.start_login().unwrap();
        assert_eq!(
            webauthn.finish_login(&fresh.state, &response, &passkey),
            Err(WebAuthnError::Rejected)
        );
    }
}

#[tokio::test]
async fn responses_made_at_another_origin_are_rejected() {
    let webauthn = adapter();
    let user = sample_user("origin");
    let mut device = Device::synced(ORIGIN);
    let passkey = register(&webauthn, &user, &mut device).await;

    for elsewhere in [
        "http://localhost:9090",
        "https://localhost:8080",
        "http://evil.localhost:8080",
    ] {
        let mut phished = device.at(elsewhere);
        let ceremony = webauthn.start_login().unwrap();
        let response = phished
            .get(&ceremony.options)
            .await
            .unwrap_or_else(|e| panic!("{elsewhere}: {e:?}"));
        assert_eq!(
            webauthn.finish_login(&ceremony.state, &response, &passkey),
            Err(WebAuthnError::Rejected),
            "{elsewhere}"
        );

        let ceremony = webauthn.start_registration(&user, &[]).unwrap();
        let response = Device::synced(elsewhere)
            .create(&ceremony.options)
            .await
            .unwrap();
        assert_eq!(
            webauthn.finish_registration(&ceremony.state, &response),
            Err(WebAuthnError::Rejected),
            "{elsewhere}"
        );
    }
}

#[tokio::test]
async fn responses_for_another_relying_party_id_are_rejected() {
    // The page is at auth.example.com and the passkeys are bound to example.com. A client that
    // signs for auth.example.com (an RP id the origin could legitimately use) is refused.
    let origin = "https://auth.example.com";
    let webauthn = adapter_for("example.com", origin);
    let user = sample_user("rp-id");
    let mut device = Device::synced(origin);
    let passkey = register(&webauthn, &user, &mut device).await;
    sign_in(&webauthn, &mut device, &mut passkey.clone())
        .await
        .unwrap();

    let ceremony = webauthn.start_login().unwrap();
    let options = tamper(
        &ceremony.options,
        "/publicKey/rpId",
        json!("auth.example.com"),
    );
    let response = device.get(&options).await.unwrap();
    assert_eq!(
        webauthn.finish_login(&ceremony.state, &response, &passkey),
        Err(WebAuthnError::Rejected)
    );

    let ceremony = webauthn.start_registration(&user, &[]).unwrap();
    let options = tamper(
        &ceremony.options,
        "/publicKey/rp/id",
        json!("auth.example.com"),
    );
    let response = Device::synced(origin).create(&options).await.unwrap();
    assert_eq!(
        webauthn.finish_registration(&ceremony.state, &response),
        Err(WebAuthnError::Rejected)
    );
}

#[tokio::test]
async fn responses_without_user_verification_are_rejected() {
    // A client that ignores `userVerification: "required"` gets a response without the UV flag.
    let webauthn = adapter();
    let user = sample_user("uv");

    let ceremony = webauthn.start_registration(&user, &[]).unwrap();
    let options = tamper(
        &ceremony.options,
        "/publicKey/authenticatorSelection/userVerification",
        json!("discouraged"),
    );
    let response = Device::synced(ORIGIN).create(&options).await.unwrap();
    assert_eq!(
        webauthn.finish_registration(&ceremony.state, &response),
        Err(WebAuthnError::Rejected)
    );

    let mut device = Device::synced(ORIGIN);
    let passkey = register(&webauthn, &user, &mut device).await;
    let ceremony = webauthn.start_login().unwrap();
    let options = tamper(
        &ceremony.options,
        "/publicKey/userVerification",
        json!("discouraged"),
    );
    let response = device.get(&options).await.unwrap();
    assert_eq!(
        webauthn.finish_login(&ceremony.state, &response, &passkey),
        Err(WebAuthnError::Rejected)
    );
}

#[tokio::test]
async fn a_cloned_device_bound_passkey_is_caught_by_its_counter() {
    let webauthn = adapter();
    let user = sample_user("clone");
    let mut device = Device::device_bound(ORIGIN);
    let mut passkey = register(&webauthn, &user, &mut device).await;
    sign_in(&webauthn, &mut device, &mut passkey).await.unwrap();
    // The key is copied while its counter is 1.
    let mut clone = device.clone();
    sign_in(&webauthn, &mut device, &mut passkey).await.unwrap();
    sign_in(&webauthn, &mut device, &mut passkey).await.unwrap();
    assert_eq!(passkey.sign_count, 3);

    // The copy signs with 2: behind the 3 on record.
    let before = passkey.clone();
    assert_eq!(
        sign_in(&webauthn, &mut clone, &mut passkey).await,
        Err(WebAuthnError::PossibleClone)
    );
    assert_eq!(passkey, before, "nothing is recorded");
    // Then with 3: equal is not enough.
    assert_eq!(
        sign_in(&webauthn, &mut clone, &mut passkey).await,
        Err(WebAuthnError::PossibleClone)
    );
    // The copy overtakes the original; now the original looks like the clone, which is the point:
    // the two cannot both be genuine.
    sign_in(&webauthn, &mut clone, &mut passkey).await.unwrap();
    assert_eq!(
        sign_in(&webauthn, &mut device, &mut passkey).await,
        Err(WebAuthnError::PossibleClone)
    );
}

#[tokio::test]
async fn synced_passkeys_are_not_judged_by_their_counter() {
    let webauthn = adapter();
    let user = sample_user("synced");

    // Counter always 0, as platform passkeys report.
    let mut device = Device::synced(ORIGIN);
    let mut passkey = register(&webauthn, &user, &mut device).await;
    for _ in 0..3 {
        sign_in(&webauthn, &mut device, &mut passkey).await.unwrap();
        assert_eq!(passkey.sign_count, 0);
    }

    // A synced passkey that counts per device: two devices hold it and their counters disagree.
    let mut phone = Device::synced_counting(ORIGIN);
    let mut passkey = register(&webauthn, &user, &mut phone).await;
    sign_in(&webauthn, &mut phone, &mut passkey).await.unwrap();
    let mut laptop = phone.clone();
    sign_in(&webauthn, &mut phone, &mut passkey).await.unwrap();
    sign_in(&webauthn, &mut phone, &mut passkey).await.unwrap();
    sign_in(&webauthn, &mut laptop, &mut passkey).await.unwrap();
    assert!(passkey.sign_count >= 2);
}

#[tokio::test]
async fn a_sign_in_for_another_account_or_passkey_is_rejected() {
    let webauthn = adapter();
    let (alice, bob) = (sample_user("alice"), sample_user("bob"));
    let mut alices_device = Device::synced(ORIGIN);
    let alices = register(&webauthn, &alice, &mut alices_device).await;
    let bobs = register(&webauthn, &bob, &mut Device::synced(ORIGIN)).await;

    let ceremony = webauthn.start_login().unwrap();
    let response = alices_device.get(&ceremony.options).await.unwrap();
    assert_eq!(
        webauthn.finish_login(&ceremony.state, &response, &bobs),
        Err(WebAuthnError::Rejected)
    );
    // Bob's record under Alice's name: still not the credential that signed.
    let mut mislabelled = bobs.clone();
    mislabelled.user_id = alice.id;
    assert_eq!(
        webauthn.finish_login(&ceremony.state, &response, &mislabelled),
        Err(WebAuthnError::Rejected)
    );
    // Alice's own credential, on record as Bob's: the user handle says otherwise.
    let mut misfiled = alices.clone();
    misfiled.user_id = bob.id;
    assert_eq!(
        webauthn.finish_login(&ceremony.state, &response, &misfiled),
        Err(WebAuthnError::Rejected)
    );
    assert!(
        webauthn
            .finish_login(&ceremony.state, &response, &alices)
            .is_ok()
    );
}

#[tokio::test]
async fn a_credential_the_browser_says_is_not_discoverable_is_refused() {
    let webauthn = adapter();
    let ceremony = webauthn
        .start_registration(&sample_user("rk"), &[])
        .unwrap();
    let response = Device::synced(ORIGIN)
        .create(&ceremony.options)
        .await
        .unwrap();
    assert_eq!(
        response["clientExtensionResults"]["credProps"]["rk"], true,
        "the client reports what it made"
    );
    let response = tamper(
        &response,
        "/clientExtensionResults/credProps/rk",
        json!(false),
    );
    assert_eq!(
        webauthn.finish_registration(&ceremony.state, &response),
        Err(WebAuthnError::Rejected)
    );
}

#[tokio::test]
async fn ceremony_states_do_not_stand_in_for_each_other() {
    let webauthn = adapter();
    let user = sample_user("states");
    let mut device = Device::synced(ORIGIN);
    let passkey = register(&webauthn, &user, &mut device).await;

    let registration = webauthn.start_registration(&user, &[]).unwrap();
    let login = webauthn.start_login().unwrap();
    let assertion = device.get(&login.options).await.unwrap();
    assert_eq!(
        webauthn.finish_login(&registration.state, &assertion, &passkey),
        Err(WebAuthnError::Rejected)
    );
    let attestation = Device::synced(ORIGIN)
        .create(&registration.options)
        .await
        .unwrap();
    assert_eq!(
        webauthn.finish_registration(&login.state, &attestation),
        Err(WebAuthnError::Rejected)
    );
    for junk in [&b""[..], b"\0", b"{}", &[0xff; 64]] {
        assert_eq!(
            webauthn.finish_login(junk, &assertion, &passkey),
            Err(WebAuthnError::Rejected)
        );
        assert_eq!(
            webauthn.finish_registration(junk, &attestation),
            Err(WebAuthnError::Rejected)
        );
    }
    // A record that is not ours is our own store's fault, not the person's.
    let mut corrupt = passkey.clone();
    corrupt.credential = b"not a record".to_vec();
    assert!(matches!(
        webauthn.finish_login(&login.state, &assertion, &corrupt),
        Err(WebAuthnError::Internal(_))
    ));
    assert!(
        webauthn
            .finish_login(&login.state, &assertion, &passkey)
            .is_ok()
    );
}
