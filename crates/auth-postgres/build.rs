//! Rebuilds the crate when a migration is added or changed, since `sqlx::migrate!` embeds them.

#[allow(
    clippy::print_stdout,
    reason = "cargo reads build-script instructions from stdout"
)]
fn main() {
    println!("cargo:rerun-if-changed=../../migrations/postgres");
}
