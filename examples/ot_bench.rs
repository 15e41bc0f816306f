//! The `gazelle bench ot` measurements, runnable before the CLI wires them:
//!
//! * `cargo run --release --example ot_bench [-- --quick]` — every row, each party on its own
//!   thread over TCP loopback;
//! * `cargo run --release --example ot_bench -- --two-process [--k 4] [--ots 16777216]` — the
//!   offline extension with the two parties as two processes over loopback (this process is
//!   the receiver and starts the sender as a child).
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use gazelle::channel::TcpChannel;
use gazelle::ot::bench::{combine, offline_party, run, PartyReport, Role};
use gazelle::ot::ExtParams;

const BATCH: usize = 1 << 18;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or(format!("{name} needs a value")),
    }
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("ot_bench: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let k: u8 = arg(&args, "--k", 4)?;
    let ots: usize = arg(&args, "--ots", 1 << 24)?;
    let params = ExtParams::new(k).map_err(|e| e.to_string())?;
    if args.iter().any(|a| a == "--party-sender") {
        // Child: connect, run the sender, print one report line.
        let addr: String = arg(&args, "--connect", String::new())?;
        let addr = addr.parse().map_err(|_| "bad --connect address")?;
        let mut ch = TcpChannel::connect(addr).map_err(|e| e.to_string())?;
        let r =
            offline_party(&mut ch, Role::Sender, params, ots, BATCH).map_err(|e| e.to_string())?;
        println!(
            "report {} {} {}",
            r.seconds,
            r.cpu_seconds.unwrap_or(-1.0),
            r.bytes_sent
        );
        return Ok(());
    }
    if args.iter().any(|a| a == "--two-process") {
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(["--party-sender", "--connect", &addr.to_string()])
            .args(["--k", &k.to_string(), "--ots", &ots.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut ch = TcpChannel::accept(&listener).map_err(|e| e.to_string())?;
        let r = offline_party(&mut ch, Role::Receiver, params, ots, BATCH)
            .map_err(|e| e.to_string())?;
        let out = child.stdout.take().ok_or("no child stdout")?;
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        child.wait().map_err(|e| e.to_string())?;
        let f: Vec<f64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        let [secs, cpu, bytes] = f[..] else {
            return Err(format!("bad sender report {line:?}"));
        };
        let s = PartyReport {
            role: Role::Sender,
            ots,
            seconds: secs,
            cpu_seconds: (cpu >= 0.0).then_some(cpu),
            bytes_sent: bytes as u64,
        };
        println!(
            "{}",
            combine(format!("2proc/offline/{}", params.name()), &s, &r)
        );
        return Ok(());
    }
    let quick = args.iter().any(|a| a == "--quick");
    for row in run(quick).map_err(|e| e.to_string())? {
        println!("{row}");
    }
    Ok(())
}
