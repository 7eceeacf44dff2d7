//! `cargo xtask browser-deps`: Chromium and the npm packages of the browser tests and of the
//! example app they drive (`examples/oidc-app`).

use std::path::Path;

use anyhow::Result;

use crate::{cmd, run};

/// Where Debian's `chromium` package puts the browser the tests drive.
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
const BROWSER_TESTS: &str = "tests/browser";
/// The OpenID Connect example app, which the browser test starts as the app that signs in.
const EXAMPLE_APP: &str = "examples/oidc-app";

/// Whether there are browser tests to prepare for.
pub(crate) fn tests_exist(root: &Path) -> bool {
    root.join(BROWSER_TESTS).join("package.json").is_file()
}

pub(crate) fn install(root: &Path) -> Result<()> {
    if Path::new(CHROMIUM).exists() {
        eprintln!("chromium: already installed");
    } else {
        run(cmd("apt-get", ["update"]))?;
        run(cmd("apt-get", ["install", "-y", "chromium"]).env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    if !tests_exist(root) {
        eprintln!("npm: no {BROWSER_TESTS}/package.json, nothing to install");
        return Ok(());
    }
    for dir in [BROWSER_TESTS, EXAMPLE_APP] {
        let dir = root.join(dir);
        if !dir.join("package.json").is_file() {
            continue;
        }
        // The lock file pins every package, so CI installs exactly what was tested.
        let install = if dir.join("package-lock.json").is_file() {
            "ci"
        } else {
            "install"
        };
        run(cmd("npm", [install, "--no-audit", "--no-fund"]).current_dir(dir))?;
    }
    Ok(())
}
