//! Link shim for the opt-in `hwloc` feature (nothing happens without it).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_HWLOC").is_some() {
        udev_link_shim();
    }
}
/// hwlocality-sys asks pkg-config for hwloc's static link line, which names `-ludev` (hwloc's
/// private dependency) even though the shared libhwloc is what gets linked. Debian's
/// libhwloc-dev does not pull in libudev-dev, so the linker finds no `libudev.so`. When only the
/// runtime `libudev.so.1` is present, point the linker at a directory holding a `libudev.so`
/// symlink to it.
fn udev_link_shim() {
    let dirs = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/lib/x86_64-linux-gnu",
        "/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
    ];
    let exists = |name: &str| {
        dirs.iter()
            .map(|d| std::path::Path::new(d).join(name))
            .find(|p| p.exists())
    };
    if exists("libudev.so").is_some() {
        return;
    }
    let (Some(runtime), Some(out)) = (exists("libudev.so.1"), std::env::var_os("OUT_DIR")) else {
        return;
    };
    let dir = std::path::Path::new(&out).join("udev-shim");
    let link = dir.join("libudev.so");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::remove_file(&link);
    #[cfg(unix)]
    if std::os::unix::fs::symlink(&runtime, &link).is_ok() {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
}
