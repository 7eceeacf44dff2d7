//! Responses broken in many ways: every one is turned away as malformed or rejected, none panics,
//! and none is blamed on the server.

use crate::{ORIGIN, adapter, register};
use auth_core::passkey::WebAuthnError;
use auth_core::ports::WebAuthn;
use auth_core::testkit::sample_user;
use auth_testsupport::Device;
use passkey_types::Bytes;
use serde_json::{Value, json};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// How a broken response may be answered.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// A part verification depends on was broken: only `Malformed` or `Rejected` will do.
    Refused,
    /// A part the browser may leave out or that carries no security (a hint, an extension
    /// output), or a change the verification cannot see: anything but a panic or an internal error.
    Survived,
}

/// Values of the wrong kind for any field.
fn wrong_kinds() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5e300),
        json!(""),
        json!("!!!not base64!!!"),
        json!("AA"),
        json!("A"),
        json!("x".repeat(100_000)),
        json!([]),
        json!([1, 2, 3]),
        json!({}),
        json!({"nested": {"deeper": [null]}}),
    ]
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(String::from(Bytes::from(bytes)))
}

fn decoded(value: &Value) -> Vec<u8> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a string"));
    Bytes::try_from(text)
        .unwrap_or_else(|_| panic!("{text} is not base64"))
        .to_vec()
}

/// Every broken variant of `good`, named, with what may come of it. `binary` lists the base64url
/// fields, `optional` those whose breaking verification may not notice, and `flip` judges a
/// changed byte of a binary field.
fn variants(
    good: &Value,
    binary: &[&str],
    optional: &[&str],
    flip: &dyn Fn(&str, usize, &[u8]) -> Expect,
) -> Vec<(String, Value, Expect)> {
    let expect = |field: &str| {
        if optional.contains(&field) {
            Expect::Survived
        } else {
            Expect::Refused
        }
    };
    let mut out = Vec::new();
    for whole in wrong_kinds()
        .into_iter()
        .chain([json!({"publicKey": {}}), json!({"response": {}})])
    {
        out.push((
            format!("whole response {}", short(&whole)),
            whole,
            Expect::Refused,
        ));
    }
    let pointers: Vec<String> = [
        "/id",
        "/rawId",
        "/type",
        "/response",
        "/clientExtensionResults",
        "/authenticatorAttachment",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(
        good["response"]
            .as_object()
            .into_iter()
            .flat_map(|r| r.keys().map(|k| format!("/response/{k}"))),
    )
    .collect();
    for pointer in &pointers {
        let field = pointer.as_str();
        let Some(original) = good.pointer(field) else {
            continue;
        };
        let mut removed = good.clone();
        remove(&mut removed, field);
        out.push((format!("{field} removed"), removed, expect(field)));
        for wrong in wrong_kinds() {
            let mut broken = good.clone();
            *broken
                .pointer_mut(field)
                .unwrap_or_else(|| panic!("{field}")) = wrong.clone();
            out.push((
                format!("{field} = {}", short(&wrong)),
                broken,
                expect(field),
            ));
        }
        if binary.contains(&field) && original.is_string() {
            let bytes = decoded(original);
            let mut cuts = vec![0, 1, 16, 32, 33, 37, bytes.len() / 2];
            cuts.push(bytes.len().saturating_sub(1));
            for cut in cuts.into_iter().filter(|&c| c < bytes.len()) {
                let mut broken = good.clone();
                *broken
                    .pointer_mut(field)
                    .unwrap_or_else(|| panic!("{field}")) = b64(&bytes[..cut]);
                out.push((format!("{field} cut to {cut} bytes"), broken, expect(field)));
            }
            let mut longer = bytes.clone();
            longer.extend_from_slice(&[0xff; 40]);
            let mut broken = good.clone();
            *broken
                .pointer_mut(field)
                .unwrap_or_else(|| panic!("{field}")) = b64(&longer);
            out.push((format!("{field} with junk appended"), broken, expect(field)));
            for at in (0..bytes.len()).step_by((bytes.len() / 24).max(1)) {
                let mut flipped = bytes.clone();
                flipped[at] ^= 0x5a;
                let mut broken = good.clone();
                *broken
                    .pointer_mut(field)
                    .unwrap_or_else(|| panic!("{field}")) = b64(&flipped);
                let kind = if optional.contains(&field) {
                    Expect::Survived
                } else {
                    flip(field, at, &flipped)
                };
                out.push((format!("{field} byte {at} flipped"), broken, kind));
            }
        }
    }
    out
}

fn short(value: &Value) -> String {
    value.to_string().chars().take(40).collect()
}

fn remove(value: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    if let Some(map) = value.pointer_mut(parent).and_then(Value::as_object_mut) {
        map.remove(key);
    }
}

/// Runs `f`; says what went wrong if it panicked or its outcome is not one `expect` allows.
fn check<T: std::fmt::Debug>(
    name: &str,
    expect: Expect,
    f: impl FnOnce() -> Result<T, WebAuthnError>,
) -> Option<String> {
    let Ok(outcome) = catch_unwind(AssertUnwindSafe(f)) else {
        return Some(format!("{name}: panicked"));
    };
    match (&outcome, expect) {
        (Err(WebAuthnError::Malformed | WebAuthnError::Rejected), _)
        | (Ok(_), Expect::Survived) => None,
        (Ok(_), Expect::Refused) => Some(format!("{name}: accepted")),
        (Err(e), _) => Some(format!("{name}: {e:?}")),
    }
}

#[tokio::test]
async fn broken_registration_responses_are_refused_without_panicking() {
    let webauthn = adapter();
    let ceremony = webauthn
        .start_registration(&sample_user("broken-registration"), &[])
        .unwrap();
    let good = Device::synced(ORIGIN)
        .create(&ceremony.options)
        .await
        .unwrap();
    assert!(
        webauthn.finish_registration(&ceremony.state, &good).is_ok(),
        "the unbroken response verifies"
    );

    let binary = [
        "/rawId",
        "/response/clientDataJSON",
        "/response/attestationObject",
        "/response/authenticatorData",
    ];
    // `id` is the text form of `rawId`, which is what is read; `authenticatorData` repeats what the
    // attestation object holds; the rest are hints and extension outputs.
    let optional = [
        "/id",
        "/clientExtensionResults",
        "/authenticatorAttachment",
        "/response/transports",
        "/response/publicKeyAlgorithm",
        "/response/authenticatorData",
    ];
    // Attestation "none" signs nothing, so a changed byte is caught only where it changes what is
    // checked. The authenticator's initial counter and its AAGUID are not checked, and neither is
    // client data that still says the same type, challenge and origin.
    let auth_data = decoded(&good["response"]["authenticatorData"]);
    let attestation = decoded(&good["response"]["attestationObject"]);
    let at = attestation
        .windows(auth_data.len())
        .position(|w| w == auth_data.as_slice())
        .expect("authenticator data in the attestation object");
    let unchecked = at + 33..at + 53;
    let client_data: Value =
        serde_json::from_slice(&decoded(&good["response"]["clientDataJSON"])).unwrap();
    let same_claims = |flipped: &[u8]| {
        serde_json::from_slice::<Value>(flipped).is_ok_and(|c| {
            ["type", "challenge", "origin"]
                .iter()
                .all(|k| c.get(k).is_some() && c.get(k) == client_data.get(k))
        })
    };
    let flip = |field: &str, byte: usize, flipped: &[u8]| match field {
        "/response/attestationObject" if unchecked.contains(&byte) => Expect::Survived,
        "/response/clientDataJSON" if same_claims(flipped) => Expect::Survived,
        _ => Expect::Refused,
    };
    let all = variants(&good, &binary, &optional, &flip);
    assert!(all.len() > 200, "{} variants", all.len());
    let failures: Vec<String> = all
        .iter()
        .filter_map(|(name, response, expect)| {
            check(name, *expect, || {
                webauthn.finish_registration(&ceremony.state, response)
            })
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn broken_sign_in_responses_are_refused_without_panicking() {
    let webauthn = adapter();
    let user = sample_user("broken-sign-in");
    let mut device = Device::synced(ORIGIN);
    let passkey = register(&webauthn, &user, &mut device).await;
    let ceremony = webauthn.start_login().unwrap();
    let good = device.get(&ceremony.options).await.unwrap();
    assert!(
        webauthn
            .finish_login(&ceremony.state, &good, &passkey)
            .is_ok(),
        "the unbroken response verifies"
    );

    let binary = [
        "/rawId",
        "/response/clientDataJSON",
        "/response/authenticatorData",
        "/response/signature",
        "/response/userHandle",
    ];
    let optional = ["/id", "/clientExtensionResults", "/authenticatorAttachment"];
    // Everything that matters is signed, so every changed byte must be refused.
    let all = variants(&good, &binary, &optional, &|_, _, _| Expect::Refused);
    assert!(all.len() > 200, "{} variants", all.len());
    let mut failures = Vec::new();
    for (name, response, expect) in &all {
        failures.extend(check(
            &format!("identify: {name}"),
            Expect::Survived,
            || webauthn.identify(response),
        ));
        failures.extend(check(&format!("finish: {name}"), *expect, || {
            webauthn.finish_login(&ceremony.state, response, &passkey)
        }));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn a_user_handle_that_is_not_an_account_id_names_nobody() {
    let webauthn = adapter();
    let mut device = Device::synced(ORIGIN);
    let passkey = register(&webauthn, &sample_user("user-handle"), &mut device).await;
    let ceremony = webauthn.start_login().unwrap();
    let good = device.get(&ceremony.options).await.unwrap();
    for handle in [
        json!(null),
        b64(b""),
        b64(b"abc"),
        b64(&[7; 15]),
        b64(&[7; 17]),
        b64(&[7; 64]),
        json!("%%%"),
    ] {
        let mut response = good.clone();
        response["response"]["userHandle"] = handle.clone();
        assert_eq!(
            webauthn.identify(&response),
            Err(WebAuthnError::Malformed),
            "{handle}"
        );
        assert!(
            matches!(
                webauthn.finish_login(&ceremony.state, &response, &passkey),
                Err(WebAuthnError::Malformed | WebAuthnError::Rejected)
            ),
            "{handle}"
        );
    }
    let mut response = good.clone();
    remove(&mut response, "/response/userHandle");
    assert_eq!(
        webauthn.identify(&response),
        Err(WebAuthnError::Malformed),
        "no user handle at all"
    );
    // Another well-formed account id is not this passkey's account.
    let mut response = good.clone();
    response["response"]["userHandle"] = b64(&[7; 16]);
    assert!(webauthn.identify(&response).is_ok());
    assert_eq!(
        webauthn.finish_login(&ceremony.state, &response, &passkey),
        Err(WebAuthnError::Rejected)
    );
}
