//! The last touches to the options the browser gets, on their standard JSON form.
//!
//! The library's passkey registration leaves the resident-key choice to the authenticator; this
//! service signs in without a username, so it needs a discoverable credential and says so. The
//! browser enforces these options, not the server: an authenticator that cannot keep a discoverable
//! credential is not offered at all.

use crate::config::Attachment;
use auth_core::passkey::WebAuthnError;
use serde_json::{Map, Value, json};

/// Registration options for `navigator.credentials.create()`: a discoverable credential and user
/// verification are required, and `attachment` steers which authenticators are offered.
pub(crate) fn registration(
    mut options: Value,
    attachment: Attachment,
) -> Result<Value, WebAuthnError> {
    let public_key = object(&mut options, "publicKey")?;
    let selection = object_entry(public_key, "authenticatorSelection")?;
    selection.insert("residentKey".into(), json!("required"));
    // The Level 1 spelling, for browsers that predate `residentKey`.
    selection.insert("requireResidentKey".into(), json!(true));
    selection.insert("userVerification".into(), json!("required"));
    match attachment {
        Attachment::PreferPlatform => {
            public_key.insert("hints".into(), json!(["client-device"]));
        }
        Attachment::PlatformOnly => {
            selection.insert("authenticatorAttachment".into(), json!("platform"));
        }
        Attachment::Any => {
            selection.remove("authenticatorAttachment");
        }
    }
    Ok(options)
}

/// Sign-in options for `navigator.credentials.get()`: no credential list (the authenticator
/// offers what it holds for this RP), user verification required.
///
/// `mediation` is left out: the same options serve the autofill request
/// (`mediation: "conditional"`) and a modal one behind a button, and the page says which it makes.
pub(crate) fn login(mut options: Value) -> Result<Value, WebAuthnError> {
    let top = options
        .as_object_mut()
        .ok_or_else(|| WebAuthnError::Internal("sign-in options are not an object".into()))?;
    top.remove("mediation");
    let public_key = object(&mut options, "publicKey")?;
    public_key.insert("userVerification".into(), json!("required"));
    public_key.insert("allowCredentials".into(), json!([]));
    Ok(options)
}

fn object<'a>(
    value: &'a mut Value,
    key: &str,
) -> Result<&'a mut Map<String, Value>, WebAuthnError> {
    value
        .get_mut(key)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| WebAuthnError::Internal(format!("ceremony options have no {key} object")))
}

fn object_entry<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Result<&'a mut Map<String, Value>, WebAuthnError> {
    map.entry(key)
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| WebAuthnError::Internal(format!("ceremony option {key} is not an object")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created() -> Value {
        json!({"publicKey": {
            "challenge": "AAAA",
            "authenticatorSelection": {"residentKey": "discouraged", "requireResidentKey": false, "userVerification": "preferred"}
        }})
    }

    #[test]
    fn registration_requires_a_discoverable_verified_credential() {
        for attachment in [
            Attachment::PreferPlatform,
            Attachment::PlatformOnly,
            Attachment::Any,
        ] {
            let options = registration(created(), attachment).unwrap();
            let selection = &options["publicKey"]["authenticatorSelection"];
            assert_eq!(selection["residentKey"], "required");
            assert_eq!(selection["requireResidentKey"], true);
            assert_eq!(selection["userVerification"], "required");
            assert_eq!(
                options["publicKey"]["challenge"], "AAAA",
                "the rest is untouched"
            );
        }
    }

    #[test]
    fn attachment_becomes_a_hint_or_a_restriction() {
        let preferred = registration(created(), Attachment::PreferPlatform).unwrap();
        assert_eq!(preferred["publicKey"]["hints"], json!(["client-device"]));
        assert!(
            preferred["publicKey"]["authenticatorSelection"]
                .get("authenticatorAttachment")
                .is_none()
        );

        let only = registration(created(), Attachment::PlatformOnly).unwrap();
        assert_eq!(
            only["publicKey"]["authenticatorSelection"]["authenticatorAttachment"],
            "platform"
        );
        assert!(only["publicKey"].get("hints").is_none());

        let any = registration(created(), Attachment::Any).unwrap();
        assert!(any["publicKey"].get("hints").is_none());
        assert!(
            any["publicKey"]["authenticatorSelection"]
                .get("authenticatorAttachment")
                .is_none()
        );
    }

    #[test]
    fn a_missing_selection_is_created_and_a_shapeless_one_is_our_fault() {
        let options = registration(json!({"publicKey": {}}), Attachment::Any).unwrap();
        assert_eq!(
            options["publicKey"]["authenticatorSelection"]["residentKey"],
            "required"
        );
        assert!(matches!(
            registration(json!({}), Attachment::Any),
            Err(WebAuthnError::Internal(_))
        ));
        assert!(matches!(
            registration(
                json!({"publicKey": {"authenticatorSelection": 1}}),
                Attachment::Any
            ),
            Err(WebAuthnError::Internal(_))
        ));
    }

    #[test]
    fn login_leaves_mediation_to_the_page() {
        let options = login(json!({"publicKey": {"challenge": "AAAA", "allowCredentials": []}, "mediation": "conditional"})).unwrap();
        assert!(options.get("mediation").is_none());
        assert_eq!(options["publicKey"]["userVerification"], "required");
        assert_eq!(options["publicKey"]["allowCredentials"], json!([]));
        assert!(matches!(login(json!([])), Err(WebAuthnError::Internal(_))));
    }
}
