//! A shaped network link for measurements (`--link lan|wan|MBIT,RTT_MS`): a loopback TCP
//! relay inside the client's process that gives each direction a token-bucket rate and a
//! one-way delay of half the round trip. This kernel has tbf/htb but no netem, so the delay
//! has to be the project's own.
//!
//! Each direction reads what its sender wrote no faster than the link's rate (bytes wait
//! in the sender's socket buffer, as on a real link), and delivers every chunk one one-way
//! delay after its last bit left: a chunk of `b` bytes sent at `t` arrives at
//! `max(t, previous departure) + 8b/rate + rtt/2`. Only the bytes in flight (rate × delay)
//! are held in memory.
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A link's rate and round-trip time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkProfile {
    /// Rate of each direction, in Mbit/s (10^6 bit/s).
    pub mbit_per_s: f64,
    /// Round-trip time (each direction delays by half).
    pub rtt: Duration,
}

impl LinkProfile {
    /// OpenCheetah's LAN profile: 3 Gbit/s, 0.3 ms round trip.
    pub const LAN: LinkProfile = LinkProfile {
        mbit_per_s: 3000.0,
        rtt: Duration::from_micros(300),
    };
    /// OpenCheetah's WAN profile: 400 Mbit/s, 40 ms round trip.
    pub const WAN: LinkProfile = LinkProfile {
        mbit_per_s: 400.0,
        rtt: Duration::from_millis(40),
    };

    /// Time to put `bytes` on the link.
    pub fn serialization(&self, bytes: usize) -> Duration {
        Duration::from_secs_f64(bytes as f64 * 8.0 / (self.mbit_per_s * 1e6))
    }
}

impl std::fmt::Display for LinkProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} Mbit/s, {} ms RTT",
            self.mbit_per_s,
            self.rtt.as_secs_f64() * 1e3
        )
    }
}

impl std::str::FromStr for LinkProfile {
    type Err = String;

    /// `lan`, `wan`, or `MBIT,RTT_MS` (e.g. `100,20`).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "lan" => return Ok(LinkProfile::LAN),
            "wan" => return Ok(LinkProfile::WAN),
            _ => {}
        }
        let bad = || format!("'{s}': expected lan, wan or MBIT,RTT_MS (e.g. 100,20)");
        let (rate, rtt) = s.split_once(',').ok_or_else(bad)?;
        let rate: f64 = rate.trim().parse().map_err(|_| bad())?;
        let rtt: f64 = rtt.trim().parse().map_err(|_| bad())?;
        if !(rate.is_finite() && rate > 0.0 && rate <= 1e6) {
            return Err(format!("'{s}': the rate must be in (0, 10^6] Mbit/s"));
        }
        if !(rtt.is_finite() && (0.0..=10_000.0).contains(&rtt)) {
            return Err(format!("'{s}': the round trip must be in [0, 10000] ms"));
        }
        Ok(LinkProfile {
            mbit_per_s: rate,
            rtt: Duration::from_secs_f64(rtt / 1e3),
        })
    }
}

/// Largest chunk the relay moves at once.
const CHUNK: usize = 64 * 1024;

/// How long the relay waits for its one connection.
const ACCEPT_WAIT: Duration = Duration::from_secs(30);

/// Starts a relay to `target` shaped by `profile` for one connection; returns the loopback
/// address to connect to instead of `target`. The relay's threads end with the connection.
pub fn spawn_shaped_proxy(target: SocketAddr, profile: LinkProfile) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name("link-relay".into())
        .spawn(move || {
            let Ok(client) = accept_within(&listener, ACCEPT_WAIT) else {
                return;
            };
            let Ok(server) = TcpStream::connect(target) else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                return;
            };
            let up = std::thread::spawn(move || shape(client, server, profile));
            shape(s2, c2, profile);
            let _ = up.join();
        })?;
    Ok(addr)
}

fn accept_within(listener: &TcpListener, wait: Duration) -> std::io::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let t = Instant::now();
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                return Ok(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && t.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// Moves `from` → `to` through the link: a pacing reader and a delaying writer.
fn shape(mut from: TcpStream, mut to: TcpStream, profile: LinkProfile) {
    let delay = profile.rtt / 2;
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = std::thread::spawn(move || {
        for (due, chunk) in rx {
            sleep_until(due);
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
    // When the link is next free to start sending.
    let mut free = Instant::now();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let k = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => k,
        };
        let departed = free.max(Instant::now()) + profile.serialization(k);
        free = departed;
        if tx.send((departed + delay, buf[..k].to_vec())).is_err() {
            break;
        }
        // The sender's next bytes wait until the link has sent these.
        sleep_until(departed);
    }
    drop(tx);
    let _ = writer.join();
    let _ = from.shutdown(Shutdown::Read);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse() {
        assert_eq!("lan".parse::<LinkProfile>().unwrap(), LinkProfile::LAN);
        assert_eq!("wan".parse::<LinkProfile>().unwrap(), LinkProfile::WAN);
        let p: LinkProfile = "100,20".parse().unwrap();
        assert_eq!((p.mbit_per_s, p.rtt), (100.0, Duration::from_millis(20)));
        for bad in ["", "fast", "0,1", "-5,1", "10,-1", "10", "nan,1", "10,1e9"] {
            assert!(bad.parse::<LinkProfile>().is_err(), "{bad}");
        }
    }

    /// A ping-pong pays the round trip; a bulk transfer pays the rate.
    #[test]
    fn the_relay_delays_and_paces() {
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = echo.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = echo.accept().unwrap();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => s.write_all(&buf[..k]).unwrap(),
                }
            }
        });
        let profile: LinkProfile = "80,40".parse().unwrap();
        let addr = spawn_shaped_proxy(target, profile).unwrap();
        let mut c = TcpStream::connect(addr).unwrap();
        let t = Instant::now();
        c.write_all(b"x").unwrap();
        let mut one = [0u8; 1];
        c.read_exact(&mut one).unwrap();
        let rtt = t.elapsed();
        assert!(rtt >= Duration::from_millis(40), "{rtt:?}");
        assert!(rtt < Duration::from_millis(200), "{rtt:?}");
        // 1 MB each way at 80 Mbit/s: ≥ 100 ms (the two directions overlap).
        let data = vec![7u8; 1_000_000];
        let t = Instant::now();
        let mut c2 = c.try_clone().unwrap();
        let w = std::thread::spawn(move || c2.write_all(&data).unwrap());
        let mut back = vec![0u8; 1_000_000];
        c.read_exact(&mut back).unwrap();
        w.join().unwrap();
        let bulk = t.elapsed();
        assert!(bulk >= Duration::from_millis(100), "{bulk:?}");
        assert!(bulk < Duration::from_millis(1500), "{bulk:?}");
        assert!(back.iter().all(|&b| b == 7));
    }
}
