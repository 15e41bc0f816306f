//! `--config FILE`: every flag of a command from a TOML file. Top-level keys apply to the
//! command being run, a table named after a command (`[serve]`, `[infer]`, …) only to that
//! command. A key is a flag's long name (`max-sessions` or `max_sessions`); a string or number
//! is its value, `true` sets a switch (`false` leaves it unset), an array repeats the flag.
//! The file's flags come first, so the command line overrides them; an unknown key is the
//! usual unknown-flag error.
use std::ffi::OsString;
use std::path::Path;

/// The command line with the flags of its `--config` file (if any) inserted after the
/// subcommand's name.
pub fn expand(args: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let mut path = None;
    let mut rest = Vec::with_capacity(args.len());
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--config" {
            path = Some(it.next().ok_or("--config needs a file")?);
        } else if let Some(p) = s.strip_prefix("--config=") {
            path = Some(OsString::from(p));
        } else {
            rest.push(a);
        }
    }
    let Some(path) = path else {
        return Ok(rest);
    };
    // The subcommand: the first argument after the program name that is not a flag.
    let Some(pos) = rest
        .iter()
        .skip(1)
        .position(|a| !a.to_string_lossy().starts_with('-'))
        .map(|p| p + 1)
    else {
        return Ok(rest);
    };
    let command = rest[pos].to_string_lossy().to_string();
    let flags = flags_from_file(Path::new(&path), &command)?;
    let mut out = rest[..=pos].to_vec();
    out.extend(flags.into_iter().map(OsString::from));
    out.extend_from_slice(&rest[pos + 1..]);
    Ok(out)
}

fn flags_from_file(path: &Path, command: &str) -> Result<Vec<String>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--config {}: {e}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("--config {}: {e}", path.display()))?;
    let mut flags = Vec::new();
    let commands = [
        "demo", "serve", "infer", "loadtest", "import", "eval", "plan", "bench", "report",
        "profile", "cert",
    ];
    for (key, value) in &table {
        if let toml::Value::Table(sub) = value {
            if !commands.contains(&key.as_str()) {
                return Err(format!(
                    "--config {}: [{key}] is not a command ({})",
                    path.display(),
                    commands.join(", ")
                ));
            }
            if key == command {
                for (k, v) in sub {
                    push_flag(&mut flags, k, v, path)?;
                }
            }
        } else {
            push_flag(&mut flags, key, value, path)?;
        }
    }
    Ok(flags)
}

fn push_flag(
    flags: &mut Vec<String>,
    key: &str,
    v: &toml::Value,
    path: &Path,
) -> Result<(), String> {
    let name = format!("--{}", key.replace('_', "-"));
    let scalar = |v: &toml::Value| -> Result<String, String> {
        match v {
            toml::Value::String(s) => Ok(s.clone()),
            toml::Value::Integer(i) => Ok(i.to_string()),
            toml::Value::Float(f) => Ok(f.to_string()),
            _ => Err(format!(
                "--config {}: {key}: expected a string, number, boolean or array",
                path.display()
            )),
        }
    };
    match v {
        toml::Value::Boolean(true) => flags.push(name),
        toml::Value::Boolean(false) => {}
        toml::Value::Array(items) => {
            for item in items {
                flags.push(name.clone());
                flags.push(scalar(item)?);
            }
        }
        other => {
            flags.push(name);
            flags.push(scalar(other)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_file_comes_first_and_sections_apply_to_their_command() {
        let dir = std::env::temp_dir().join(format!("gazelle-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(
            &f,
            "params = \"gazelle-8192-hybrid\"\n[serve]\nmax_sessions = 8\ninsecure-plaintext = true\nreveal = \"class\"\n[infer]\ntoken = \"x\"\n",
        )
        .unwrap();
        let f = f.to_str().unwrap();
        let got = expand(os(&[
            "gazelle",
            "serve",
            "--config",
            f,
            "--max-sessions",
            "2",
        ]))
        .unwrap();
        assert_eq!(
            got,
            os(&[
                "gazelle",
                "serve",
                "--params",
                "gazelle-8192-hybrid",
                "--max-sessions",
                "8",
                "--insecure-plaintext",
                "--reveal",
                "class",
                "--max-sessions",
                "2"
            ])
        );
        std::fs::write(dir.join("bad.toml"), "[nope]\nx = 1\n").unwrap();
        let bad = dir.join("bad.toml");
        assert!(expand(os(&["gazelle", "serve", "--config", bad.to_str().unwrap()])).is_err());
        assert!(expand(os(&["gazelle", "serve", "--config"])).is_err());
        assert_eq!(
            expand(os(&["gazelle", "demo"])).unwrap(),
            os(&["gazelle", "demo"])
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
