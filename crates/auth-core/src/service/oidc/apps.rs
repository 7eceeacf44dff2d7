//! The apps an account has let sign it in (its remembered consents), as the account page lists
//! them, and taking that access back: the consent is forgotten and every session the app holds
//! for the account ends, so its refresh tokens stop working at once.

use super::OidcProvider;
use crate::audit::AuditKind;
use crate::ids::UserId;
use crate::oidc::{ClientId, Scopes};
use crate::ports::StoreError;
use crate::service::ClientInfo;
use crate::time::Timestamp;

/// An app the account has consented to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentedApp {
    /// The client's id.
    pub client_id: ClientId,
    /// Its name as configured (the id, if the client is no longer configured).
    pub name: String,
    /// What the account let it read.
    pub scopes: Scopes,
    /// When the account (last) consented.
    pub granted_at: Timestamp,
}

impl OidcProvider {
    /// The apps `user` has consented to, newest consent first.
    ///
    /// # Errors
    /// Store failures.
    pub async fn consented_apps(&self, user: &UserId) -> Result<Vec<ConsentedApp>, StoreError> {
        let mut apps: Vec<ConsentedApp> = self
            .consents
            .list(user)
            .await?
            .into_iter()
            .map(|c| ConsentedApp {
                name: self
                    .registry
                    .get(c.client_id.as_str())
                    .map_or_else(|| c.client_id.as_str().to_owned(), |k| k.name.clone()),
                client_id: c.client_id,
                scopes: c.scopes,
                granted_at: c.granted_at,
            })
            .collect();
        apps.sort_by_key(|a| std::cmp::Reverse(a.granted_at));
        Ok(apps)
    }

    /// Takes back `user`'s consent for `client` and ends the app's sessions of the account (with
    /// their refresh tokens). `false` if there was no consent and no session of the app: nothing
    /// to take back.
    ///
    /// # Errors
    /// Store failures.
    pub async fn revoke_consent(
        &self,
        user: &UserId,
        client: &str,
        info: &ClientInfo,
    ) -> Result<bool, StoreError> {
        let Ok(id) = ClientId::parse(client) else {
            return Ok(false);
        };
        let now = self.auth.now();
        let had_consent = self.consents.revoke(user, &id).await?;
        let mut ended = 0usize;
        for s in self.auth.ports.sessions.list_active(user, now).await? {
            if s.client.as_ref().is_some_and(|c| c.id == id)
                && self.auth.ports.sessions.revoke(user, &s.id, now).await?
            {
                ended += 1;
            }
        }
        if !had_consent && ended == 0 {
            return Ok(false);
        }
        let name = self
            .registry
            .get(id.as_str())
            .map_or_else(|| id.as_str().to_owned(), |k| k.name.clone());
        self.auth
            .record(*user, AuditKind::AppConsentRevoked, info, Some(name))
            .await;
        Ok(true)
    }
}
