//! `cargo xtask image`: builds the container image from the `Containerfile` with podman and tests it.
//!
//! No image registry is reached. Both base images are made here from Debian packages with
//! `debootstrap` and `podman import`, once, cached as root file systems under `target/image`: the
//! runtime base (Debian minbase with CA certificates) and the build base (the same with a C
//! compiler). The build base has no Rust: the host's toolchain is mounted read-only into the build,
//! and the host's cargo registry through an overlay (the build reads it and never changes it), with
//! cargo offline; the host fetches the crates first. The image's own cache mount keeps the release
//! target folder between builds, so a rebuild compiles only what changed.
//!
//! Podman runs with the settings in `target/image/containers.conf`, given to every podman command
//! (the test's too) through `CONTAINERS_CONF`: runc, because Debian 12's crun refuses a hybrid
//! cgroup hierarchy, and open-file and process limits below the host's hard limits, which podman
//! would otherwise try to raise and the kernel refuses.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, Result, ensure};

use crate::{cmd, run, succeeds};

/// The image `cargo xtask image` builds and tests.
const IMAGE: &str = "localhost/auth-server:latest";
/// The variable that names the image to the test.
const IMAGE_VAR: &str = "AUTH_IMAGE";

const WORK: &str = "target/image";
const SUITE: &str = "bookworm";
const MIRROR: &str = "http://deb.debian.org/debian";

/// Where the build base finds the host's toolchain and cargo home (mounted by `build`).
const TOOLCHAIN_MOUNT: &str = "/opt/rust";
const CARGO_HOME_MOUNT: &str = "/opt/cargo";

const CONTAINERS_CONF: &str = "\
# Podman settings for `cargo xtask image`, written by it.
[containers]
default_ulimits = [\"nofile=8192:8192\", \"nproc=4096:4096\"]

[engine]
runtime = \"runc\"
";

/// A base image made from Debian packages.
struct Base {
    name: &'static str,
    tag: &'static str,
    packages: &'static [&'static str],
    /// `podman import --change` instructions.
    changes: &'static [&'static str],
}

const RUNTIME_BASE: Base = Base {
    name: "runtime",
    tag: "localhost/auth-runtime-base:bookworm",
    packages: &["ca-certificates"],
    changes: &[],
};

const BUILD_BASE: Base = Base {
    name: "build",
    tag: "localhost/auth-build-base:bookworm",
    packages: &["ca-certificates", "gcc", "libc6-dev"],
    changes: &[
        "ENV PATH=/opt/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV CARGO_HOME=/opt/cargo",
        "ENV CARGO_NET_OFFLINE=true",
    ],
};

/// Installs what is missing, builds the bases once, builds the image and runs its test.
pub(crate) fn build_and_test(root: &Path) -> Result<()> {
    let started = Instant::now();
    install_tools()?;
    fs::create_dir_all(root.join(WORK))?;
    let podman = Podman {
        conf: root.join(WORK).join("containers.conf"),
    };
    fs::write(&podman.conf, CONTAINERS_CONF)
        .with_context(|| format!("cannot write {}", podman.conf.display()))?;
    for base in [&RUNTIME_BASE, &BUILD_BASE] {
        ensure_base(root, &podman, base)?;
    }
    let built = Instant::now();
    build(root, &podman)?;
    eprintln!("image: built {IMAGE} in {}s", built.elapsed().as_secs());
    let tested = Instant::now();
    test(&podman)?;
    eprintln!(
        "image: tested in {}s; {}s in all",
        tested.elapsed().as_secs(),
        started.elapsed().as_secs()
    );
    Ok(())
}

/// Podman commands, each with this task's settings.
struct Podman {
    conf: PathBuf,
}

impl Podman {
    fn cmd<'a>(&self, args: impl IntoIterator<Item = &'a str>) -> Command {
        let mut podman = cmd("podman", args);
        podman.env("CONTAINERS_CONF", &self.conf);
        podman
    }
}

/// podman, runc and debootstrap from Debian's packages, if any is missing.
fn install_tools() -> Result<()> {
    let missing: Vec<&str> = [
        ("podman", "--version"),
        ("runc", "--version"),
        ("debootstrap", "--version"),
    ]
    .into_iter()
    .filter(|(tool, flag)| !succeeds(cmd(tool, [flag])))
    .map(|(tool, _)| tool)
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    run(cmd("apt-get", ["update"]))?;
    let mut install = cmd("apt-get", ["install", "-y", "--no-install-recommends"]);
    install
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive");
    run(install)
}

/// Makes `base` unless podman has it: its root file system is kept under `target/image` and made
/// again only when its package list changes.
fn ensure_base(root: &Path, podman: &Podman, base: &Base) -> Result<()> {
    let dir = root.join(WORK).join(format!("{}-rootfs", base.name));
    let stamp = root.join(WORK).join(format!("{}-rootfs.done", base.name));
    let wanted = stamp_text(base);
    let cached = fs::read_to_string(&stamp).is_ok_and(|s| s == wanted);
    if cached && succeeds(podman.cmd(["image", "exists", base.tag])) {
        eprintln!("image: base {} is there", base.tag);
        return Ok(());
    }
    if !cached {
        // A half-made or outdated root file system is made again from scratch.
        let _ = fs::remove_file(&stamp);
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
        }
        run(cmd(
            "debootstrap",
            [
                "--variant=minbase",
                &format!("--include={}", base.packages.join(",")),
                SUITE,
                &dir.to_string_lossy(),
                MIRROR,
            ],
        ))?;
        // Downloaded packages, package lists and documentation only make the image bigger.
        for leftover in [
            "var/lib/apt/lists",
            "usr/share/doc",
            "usr/share/man",
            "usr/share/info",
        ] {
            empty_dir(&dir.join(leftover))?;
        }
        for entry in fs::read_dir(dir.join("var/cache/apt/archives"))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "deb") {
                fs::remove_file(&path)?;
            }
        }
        fs::write(&stamp, &wanted)?;
    }
    let tar = root.join(WORK).join(format!("{}-rootfs.tar", base.name));
    run(cmd("tar", ["--numeric-owner", "-C"])
        .arg(&dir)
        .arg("-cf")
        .arg(&tar)
        .arg("."))?;
    let mut import = podman.cmd(["import"]);
    for change in base.changes {
        import.args(["--change", change]);
    }
    let imported = run(import.arg(&tar).arg(base.tag));
    let _ = fs::remove_file(&tar);
    imported
}

/// What a base's root file system was made from, kept beside it.
fn stamp_text(base: &Base) -> String {
    format!(
        "{SUITE} {MIRROR} {} without docs and package lists\n",
        base.packages.join(",")
    )
}

/// Removes what `dir` holds (plain files and folders), keeping `dir`.
fn empty_dir(dir: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() && !path.is_symlink() {
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Builds the image on the local bases, with the host's toolchain and crates mounted.
fn build(root: &Path, podman: &Podman) -> Result<()> {
    // Offline inside, so every crate of the lock file must be in the host's registry first.
    run(cmd("cargo", ["fetch", "--locked"]))?;
    let toolchain = rust_sysroot()?;
    let registry = cargo_home()?.join("registry");
    ensure!(
        registry.is_dir(),
        "no cargo registry at {}",
        registry.display()
    );
    let toolchain_volume = format!("{}:{TOOLCHAIN_MOUNT}:ro", toolchain.display());
    // `:O`: an overlay, so the build may write beside the host's crates but never into them.
    let registry_volume = format!("{}:{CARGO_HOME_MOUNT}/registry:O", registry.display());
    run(podman
        .cmd([
            "build",
            // The Docker format keeps HEALTHCHECK, which the OCI format has no field for.
            "--format=docker",
            "--pull=never",
            "--build-arg",
            &format!("BUILD_IMAGE={}", BUILD_BASE.tag),
            "--build-arg",
            &format!("RUNTIME_IMAGE={}", RUNTIME_BASE.tag),
            "--volume",
            &toolchain_volume,
            "--volume",
            &registry_volume,
            "--file",
            "Containerfile",
            "--tag",
            IMAGE,
        ])
        .arg(root))?;
    // A rebuild leaves the images it replaced without a name; only this project's are removed.
    for title in ["auth-server", "auth-server-build"] {
        let filter = format!("label=org.opencontainers.image.title={title}");
        run(podman.cmd(["image", "prune", "--force", "--filter", &filter]))?;
    }
    let size = podman
        .cmd(["image", "inspect", "--format", "{{.Size}}", IMAGE])
        .output()
        .context("cannot run podman image inspect")?;
    let bytes = String::from_utf8_lossy(&size.stdout).trim().to_owned();
    eprintln!("image: {IMAGE} is {bytes} bytes");
    Ok(())
}

/// The image test of the e2e package, against the image just built.
fn test(podman: &Podman) -> Result<()> {
    run(cmd(
        "cargo",
        [
            "test",
            "--package",
            "e2e",
            "--test",
            "image",
            "--",
            "--ignored",
            "--nocapture",
        ],
    )
    .env(IMAGE_VAR, IMAGE)
    // The test's podman commands need this task's settings too.
    .env("CONTAINERS_CONF", &podman.conf))
}

/// The host's active Rust toolchain, which the build base mounts.
fn rust_sysroot() -> Result<PathBuf> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .context("cannot run rustc --print sysroot")?;
    ensure!(out.status.success(), "rustc --print sysroot failed");
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Cargo's home on the host: `CARGO_HOME`, which cargo sets for the programs it runs.
fn cargo_home() -> Result<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")
}
