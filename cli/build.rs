//! Records build facts (target, compiled-in target features, compiler) for benchmark reports.
use std::process::Command;

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let profile = std::env::var("PROFILE").unwrap_or_default();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=GAZELLE_BUILD_TARGET={target}");
    println!("cargo:rustc-env=GAZELLE_BUILD_FEATURES={features}");
    println!("cargo:rustc-env=GAZELLE_BUILD_PROFILE={profile}");
    println!("cargo:rustc-env=GAZELLE_BUILD_RUSTC={version}");
    println!("cargo:rerun-if-changed=build.rs");
}
