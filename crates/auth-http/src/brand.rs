//! How the page looks and speaks: the product's name, logo, accent colour and support address,
//! the page's catalog, and the choice of a language for each request.
//!
//! The accent colour is checked against the page's own colours (WCAG AA, 4.5:1 for text): the
//! light theme uses it as it is (white text on buttons, links on the light background), the dark
//! theme uses a lighter variant derived from it until it reads on the dark card and background.

use actix_web::HttpRequest;
use actix_web::http::header;
use auth_core::Language;
use auth_i18n::{Catalog, Domain};
use std::sync::OnceLock;

/// The contrast WCAG AA asks of normal text.
pub const MIN_CONTRAST: f64 = 4.5;

/// Page colours the accent meets (see `static/app.css`): light background and card, the text
/// on accent buttons, dark card and background.
const LIGHT_BG: Rgb = Rgb(0xf5, 0xf6, 0xf8);
const LIGHT_FG_ON_ACCENT: Rgb = Rgb(0xff, 0xff, 0xff);
const DARK_CARD: Rgb = Rgb(0x1b, 0x1e, 0x25);
const DARK_BG: Rgb = Rgb(0x11, 0x13, 0x18);
const DARK_FG_ON_ACCENT: Rgb = Rgb(0x0b, 0x12, 0x20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rgb(u8, u8, u8);

impl Rgb {
    fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }

    fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (hi, lo) = if a > b { (a, b) } else { (b, a) };
        (hi + 0.05) / (lo + 0.05)
    }

    /// `share` (0..=20, in twentieths) of the way to white.
    fn towards_white(self, share: u8) -> Rgb {
        let mix = |c: u8| {
            let c = u16::from(c);
            let out = c + (255 - c) * u16::from(share) / 20;
            u8::try_from(out).unwrap_or(u8::MAX)
        };
        Rgb(mix(self.0), mix(self.1), mix(self.2))
    }

    fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// Why an accent colour cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AccentError {
    /// Not `#rrggbb`.
    #[error("the accent colour must be #rrggbb")]
    Format,
    /// Too light for white text on buttons and links on the light background.
    #[error(
        "the accent colour {color} has a contrast of {contrast:.2}:1 with the light page (white text on buttons, links on the background); WCAG AA needs 4.5:1, so choose a darker colour"
    )]
    Contrast {
        /// The colour.
        color: String,
        /// Its worst contrast.
        contrast: f64,
    },
}

/// An accent colour that reads in both themes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accent {
    light: Rgb,
    dark: Rgb,
}

impl Accent {
    /// The accent when none is configured.
    pub const DEFAULT: &'static str = "#1f5fd1";

    /// Checks `#rrggbb` against the light theme and derives the dark theme's variant.
    ///
    /// # Errors
    /// [`AccentError`].
    pub fn parse(color: &str) -> Result<Self, AccentError> {
        let hex = color.strip_prefix('#').ok_or(AccentError::Format)?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AccentError::Format);
        }
        let byte =
            |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| AccentError::Format);
        let light = Rgb(byte(0)?, byte(2)?, byte(4)?);
        let worst = light
            .contrast(LIGHT_BG)
            .min(light.contrast(LIGHT_FG_ON_ACCENT));
        if worst < MIN_CONTRAST {
            return Err(AccentError::Contrast {
                color: light.hex(),
                contrast: worst,
            });
        }
        let reads_dark = |c: Rgb| {
            c.contrast(DARK_CARD) >= MIN_CONTRAST
                && c.contrast(DARK_BG) >= MIN_CONTRAST
                && c.contrast(DARK_FG_ON_ACCENT) >= MIN_CONTRAST
        };
        // White itself reads on both dark colours, so the search always ends.
        let dark = (0..=20)
            .map(|share| light.towards_white(share))
            .find(|c| reads_dark(*c))
            .unwrap_or(Rgb(0xff, 0xff, 0xff));
        Ok(Self { light, dark })
    }

    /// The colour as configured, for the light theme and mail.
    pub fn light(&self) -> String {
        self.light.hex()
    }

    /// The dark theme's variant.
    pub fn dark(&self) -> String {
        self.dark.hex()
    }

    /// The stylesheet that gives the page this accent.
    pub fn stylesheet(&self) -> String {
        format!(
            ":root {{ --accent: {}; }}\n@media (prefers-color-scheme: dark) {{\n  :root {{ --accent: {}; }}\n}}\n",
            self.light(),
            self.dark()
        )
    }
}

impl Default for Accent {
    fn default() -> Self {
        Self::parse(Self::DEFAULT).expect("the default accent reads in both themes")
    }
}

/// The page's branding and catalog.
#[derive(Debug)]
pub struct Ui {
    /// The product's name: title, header, and mail.
    pub product_name: String,
    /// The logo shown in the header: an `https` URL or a path on our host.
    pub logo_url: Option<String>,
    /// The accent colour.
    pub accent: Accent,
    /// The support address shown at the foot of the page.
    pub support_email: Option<String>,
    /// The language when the request names none we speak.
    pub default_language: Language,
    /// The page's messages.
    pub catalog: Catalog,
    /// The generated answers (document, messages, stylesheet, CSP), made from the fields above
    /// on first use; construct it with `Default::default()`.
    pub generated: Generated,
}

/// A generated answer and its ETag.
#[derive(Debug)]
pub struct Made {
    /// The body.
    pub body: String,
    /// Its ETag.
    pub tag: String,
}

/// The page's generated answers: they depend on the branding and the language only, never on the
/// request, so each is made once and served from here.
#[derive(Debug, Default)]
pub struct Generated {
    pub(crate) documents: [OnceLock<Made>; Language::ALL.len()],
    pub(crate) messages: [OnceLock<Made>; Language::ALL.len()],
    pub(crate) stylesheet: OnceLock<Made>,
    pub(crate) csp: OnceLock<String>,
}

impl Generated {
    /// The slot of `language` in a per-language array.
    pub(crate) fn slot(language: Language) -> usize {
        Language::ALL
            .iter()
            .position(|l| *l == language)
            .unwrap_or_default()
    }
}

impl Default for Ui {
    fn default() -> Self {
        Self {
            product_name: "Passwordless Auth".to_owned(),
            logo_url: None,
            accent: Accent::default(),
            support_email: None,
            default_language: Language::En,
            catalog: Catalog::builtin(Domain::Page),
            generated: Generated::default(),
        }
    }
}

/// The name of the cookie the page's language chooser sets.
pub const LANG_COOKIE: &str = "lang";

/// The language of a request: `?lang=`, then the `lang` cookie, then `Accept-Language`, then the
/// default. Unknown values are skipped, never refused.
pub fn request_language(req: &HttpRequest, default: Language) -> Language {
    let query = req
        .query_string()
        .split('&')
        .find_map(|p| p.strip_prefix("lang="))
        .and_then(|v| Language::parse(v).ok());
    query
        .or_else(|| {
            req.cookie(LANG_COOKIE)
                .and_then(|c| Language::parse(c.value()).ok())
        })
        .or_else(|| {
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Language::from_accept_language)
        })
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_accent_reads_in_both_themes() {
        let a = Accent::default();
        assert_eq!(a.light(), "#1f5fd1");
        assert_ne!(a.dark(), a.light(), "the dark theme gets a lighter variant");
    }

    #[test]
    fn too_light_colours_are_refused_and_dark_variants_read_on_dark() {
        for bad in ["#ffcc00", "#7aa7ff", "#ffffff", "#888888"] {
            assert!(
                matches!(Accent::parse(bad), Err(AccentError::Contrast { .. })),
                "{bad}"
            );
        }
        for bad in ["1f5fd1", "#1f5fd", "#1f5fdz", "#1f5fd1ff", "blue"] {
            assert_eq!(Accent::parse(bad), Err(AccentError::Format), "{bad}");
        }
        for good in ["#000000", "#7a1f5c", "#1d4ed8", "#0b6e4f"] {
            let a = Accent::parse(good).unwrap();
            let dark = Rgb(
                u8::from_str_radix(&a.dark()[1..3], 16).unwrap(),
                u8::from_str_radix(&a.dark()[3..5], 16).unwrap(),
                u8::from_str_radix(&a.dark()[5..7], 16).unwrap(),
            );
            assert!(
                dark.contrast(DARK_CARD) >= MIN_CONTRAST,
                "{good} on the dark card"
            );
            assert!(
                dark.contrast(DARK_BG) >= MIN_CONTRAST,
                "{good} on the dark page"
            );
            assert!(
                dark.contrast(DARK_FG_ON_ACCENT) >= MIN_CONTRAST,
                "{good} under dark button text"
            );
            assert!(a.stylesheet().contains(&format!("--accent: {good};")));
        }
    }
}
