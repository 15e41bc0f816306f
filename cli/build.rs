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
    println!("cargo:rustc-env=GAZELLE_BUILD_COMMIT={}", commit());
    println!("cargo:rerun-if-changed=build.rs");
}

/// The workspace's git commit at build time, with `+dirty` when tracked files differed from it;
/// `unknown` outside a git checkout. Re-run when HEAD, a branch or any source file changes.
fn commit() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for p in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if root.join(p).exists() {
            println!("cargo:rerun-if-changed={}", root.join(p).display());
        }
    }
    for p in [
        "src",
        "kernels/src",
        "cli/src",
        "onnx/src",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "HEAD"]) {
        Some(c) if !c.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{c}+dirty")
            } else {
                c
            }
        }
        _ => "unknown".into(),
    }
}
