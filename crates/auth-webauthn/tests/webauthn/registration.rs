//! Registration: the relying party's configuration, and the options a browser gets to create a
//! passkey.

use super::*;

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
