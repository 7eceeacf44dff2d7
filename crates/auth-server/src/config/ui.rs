//! The `[ui]` settings: how the page and every mail present the service (product name, logo,
//! accent colour, support address), the default language, and a directory whose catalogs and
//! mail templates replace the compiled-in ones. Checked once, at start and by `check-config`.

use anyhow::{Context, bail};
use auth_core::Language;
use auth_http::brand::{Accent, Ui};
use auth_i18n::{Catalog, Domain};
use auth_smtp::{Branding, MailConfig, Renderer};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// How the page and the mail present the service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiSettings {
    /// The product's name: page title and header, mail subjects and text, passkey prompts.
    pub product_name: String,
    /// A logo: an `https` URL, or a path on the public URL such as `/brand/logo.svg`.
    pub logo_url: Option<String>,
    /// Buttons and links, `#rrggbb`; it must have a contrast of 4.5:1 with the light page and
    /// with white text (the dark theme gets a lighter variant derived from it).
    pub accent_color: String,
    /// An address shown at the foot of the page and of every mail.
    pub support_email: Option<String>,
    /// A directory with `locales/<lang>/page.ftl`, `locales/<lang>/mail.ftl` and
    /// `mail/<kind>.{txt,html}` files that replace compiled-in messages and templates.
    pub templates_dir: Option<PathBuf>,
    /// The language of requests that ask for none we speak: `en` or `de`.
    pub default_language: Language,
}

impl Default for UiSettings {
    fn default() -> Self {
        Self {
            product_name: "Passwordless Auth".to_owned(),
            logo_url: None,
            accent_color: Accent::DEFAULT.to_owned(),
            support_email: None,
            templates_dir: None,
            default_language: Language::En,
        }
    }
}

/// The checked `[ui]` settings, with the overrides read.
#[derive(Debug, Clone)]
pub struct UiConfig {
    /// What the page shows.
    pub page: Arc<Ui>,
    /// The mail renderer, with the branding and the overrides.
    pub renderer: Renderer,
}

impl UiSettings {
    /// Checks every value and reads the overrides, for `sender` (the mail settings).
    ///
    /// # Errors
    /// Names the setting, or the file of `templates_dir` that cannot be used.
    pub fn validate(&self, sender: MailConfig) -> anyhow::Result<UiConfig> {
        let accent = Accent::parse(self.accent_color.trim())
            .map_err(|e| anyhow::anyhow!("ui.accent_color: {e}"))?;
        let logo_url = self.logo_url.as_ref().map(|l| l.trim().to_owned());
        let support_email = self.support_email.as_ref().map(|s| s.trim().to_owned());
        if support_email
            .as_ref()
            .is_some_and(|s| auth_core::EmailAddress::parse(s).is_err())
        {
            bail!("ui.support_email: not one valid email address");
        }
        let branding = Branding {
            logo_url: logo_url.clone(),
            accent_color: accent.light(),
            support_email: support_email.clone(),
        };
        let sender = sender.with_branding(branding).map_err(|e| {
            let setting = if e.to_string().contains("logo") {
                "ui.logo_url"
            } else {
                "ui.support_email"
            };
            anyhow::anyhow!("{setting}: {e}")
        })?;
        let (catalog, renderer) = match &self.templates_dir {
            None => (Catalog::builtin(Domain::Page), Renderer::new(sender)),
            Some(dir) => {
                if !dir.is_dir() {
                    bail!("ui.templates_dir: {} is not a directory", dir.display());
                }
                let catalog =
                    Catalog::with_overrides(Domain::Page, dir).context("ui.templates_dir")?;
                let renderer =
                    Renderer::with_templates_dir(sender, dir).context("ui.templates_dir")?;
                (catalog, renderer)
            }
        };
        let page = Ui {
            product_name: self.product_name.trim().to_owned(),
            logo_url,
            accent,
            support_email,
            default_language: self.default_language,
            catalog,
            generated: Default::default(),
        };
        Ok(UiConfig {
            page: Arc::new(page),
            renderer,
        })
    }
}
