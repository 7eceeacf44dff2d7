//! House rules that a compiler does not check, run by plain `cargo test` (as `cargo test -p xtask`):
//! every Rust file says what it is for, no package reaches into another's files, async code never
//! blocks its thread with a sleep, and ARCHITECTURE.md names exactly the crates that exist.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    crate::project_root()
}

/// Every `.rs` file of the repository outside `target/` and `node_modules/`.
fn rust_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !matches!(name.as_ref(), "target" | "node_modules" | ".git") {
                    walk(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for top in ["crates", "tests", "xtask"] {
        walk(&root().join(top), &mut files);
    }
    files.sort();
    assert!(files.len() > 50, "found only {} Rust files", files.len());
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_rust_file_opens_with_a_module_doc_comment() {
    let missing: Vec<String> = rust_files()
        .into_iter()
        .filter(|f| {
            let text = fs::read_to_string(f).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| relative(&f))
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` line saying what they are for:\n{}",
        missing.join("\n")
    );
}

#[test]
fn no_file_includes_another_package_by_path() {
    let offenders: Vec<String> = rust_files()
        .into_iter()
        .filter_map(|f| {
            let text = fs::read_to_string(&f).ok()?;
            let hit = text.lines().any(|l| {
                let l = l.trim_start();
                l.starts_with("#[path") && l.contains("..")
            });
            hit.then(|| relative(&f))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "a `#[path]` reaching outside its package; share code through a crate instead:\n{}",
        offenders.join("\n")
    );
}

/// The function a line belongs to, as far as a line scan can tell: the nearest `fn` above it.
fn enclosing_fn<'a>(lines: &[&'a str], at: usize) -> Option<&'a str> {
    lines[..at]
        .iter()
        .rev()
        .find(|l| {
            let l = l.trim_start();
            l.contains("fn ") && !l.starts_with("//")
        })
        .copied()
}

#[test]
fn async_code_never_sleeps_its_thread() {
    let mut offenders = Vec::new();
    for f in rust_files() {
        let text = fs::read_to_string(&f).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.contains("thread::sleep(") || line.trim_start().starts_with("//") {
                continue;
            }
            if enclosing_fn(&lines, i).is_some_and(|f| f.contains("async fn")) {
                offenders.push(format!("{}:{}", relative(&f), i + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "`thread::sleep` inside an async fn blocks the runtime; use a manual clock or tokio's sleep:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn architecture_md_names_exactly_the_crates_that_exist() {
    let text = fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let documented: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("### `crates/"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    let mut existing: Vec<String> = fs::read_dir(root().join("crates"))
        .expect("crates/")
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    existing.sort();
    let mut sorted = documented.clone();
    sorted.sort();
    assert_eq!(
        sorted, existing,
        "ARCHITECTURE.md's code map (`### \\`crates/NAME\\``) must list every crate in crates/, and only those"
    );
}

#[test]
fn every_crate_folder_is_named_after_its_package() {
    for entry in fs::read_dir(root().join("crates"))
        .expect("crates/")
        .flatten()
    {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = fs::read_to_string(&manifest) else {
            continue;
        };
        let folder = entry.file_name().to_string_lossy().into_owned();
        assert!(
            text.contains(&format!("name = \"{folder}\"")),
            "crates/{folder}/Cargo.toml must name its package `{folder}`"
        );
    }
}

#[test]
fn request_bodies_are_read_only_through_the_object_checking_extractor() {
    // serde's derived structs accept a JSON array of the fields; `JsonBody` refuses anything but
    // an object, so no route may read a body with `web::Json`.
    let routes = root().join("crates/auth-http/src/routes");
    let mut offenders = Vec::new();
    for entry in fs::read_dir(&routes).expect("routes").flatten() {
        let text = fs::read_to_string(entry.path()).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            if line.contains(": web::Json<") {
                offenders.push(format!("{}:{}", relative(&entry.path()), i + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "read request bodies with `JsonBody`, not `web::Json`:\n{}",
        offenders.join("\n")
    );
}

/// `auth_core::contract_tests!` runs the rules its lists name; a rule function that no list names
/// would compile and never run. Every `pub async fn` of a port's file in `testkit/` (but `all`)
/// must appear in that port's list, and every listed rule must exist.
#[test]
fn every_contract_rule_is_listed() {
    let dir = root().join("crates/auth-core/src/testkit");
    let macros = fs::read_to_string(dir.join("mod.rs")).expect("testkit/mod.rs");
    let mut ports = 0;
    for entry in fs::read_dir(&dir).expect("testkit/").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(port) = name.strip_suffix(".rs").filter(|p| *p != "mod") else {
            continue;
        };
        ports += 1;
        let text = fs::read_to_string(entry.path()).expect("a port's rules");
        let mut defined: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("pub async fn "))
            .filter_map(|l| l.split(['(', '<']).next())
            .filter(|f| *f != "all")
            .collect();
        let head = format!("(@rules {port} @");
        let start = macros
            .find(&head)
            .unwrap_or_else(|| panic!("contract_tests! has no rule list for {port}"));
        let list = &macros[start..];
        let list = &list[list.find('[').expect("a list")..list.find(']').expect("a list")];
        let mut listed: Vec<&str> = list
            .split([',', '[', '\n', ' '])
            .filter(|s| !s.is_empty())
            .collect();
        defined.sort_unstable();
        listed.sort_unstable();
        assert_eq!(
            listed, defined,
            "the rules listed for {port} in contract_tests! and the rule functions of testkit/{port}.rs differ"
        );
    }
    assert!(ports >= 9, "found the rules of only {ports} ports");
}

/// Every Rust file stays small enough to read: a concern per file, none over 600 lines.
#[test]
fn no_rust_file_is_over_600_lines() {
    let long: Vec<String> = rust_files()
        .into_iter()
        .filter_map(|f| {
            let lines = fs::read_to_string(&f).unwrap_or_default().lines().count();
            (lines > 600).then(|| format!("{}: {lines} lines", relative(&f)))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these by concern:\n{}",
        long.join("\n")
    );
}
