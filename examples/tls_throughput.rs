//! Loopback throughput of `TcpChannel` with and without TLS 1.3 (the throwaway certificate of
//! `gazelle demo`): one thread sends `MB` frames of 1 MiB (argument, default 256), the other
//! receives them; two alternations. What the garbled tables of the offline phase pay for TLS.
//! `cargo run --release --example tls_throughput -- 512`
use gazelle::channel::{Channel, TcpChannel};
use gazelle::net::tls;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .map_or(256, |s| s.parse().expect("megabytes"));
    let frame = vec![7u8; 1 << 20];
    let timeout = Duration::from_secs(30);
    for use_tls in [false, true, false, true] {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let (server_cfg, client_cfg) = tls::throwaway().unwrap();
        let client = std::thread::spawn(move || {
            let stream = TcpStream::connect(addr).unwrap();
            let mut ch = if use_tls {
                let name = tls::server_name("localhost").unwrap();
                TcpChannel::tls_client(stream, client_cfg, name, timeout).unwrap()
            } else {
                TcpChannel::new(stream, timeout).unwrap()
            };
            let mut buf = Vec::new();
            for _ in 0..mb {
                ch.recv_into(1 << 21, &mut buf).unwrap();
            }
        });
        let (stream, _) = listener.accept().unwrap();
        let mut ch = if use_tls {
            TcpChannel::tls_server(stream, server_cfg, timeout).unwrap()
        } else {
            TcpChannel::new(stream, timeout).unwrap()
        };
        let t0 = Instant::now();
        for _ in 0..mb {
            ch.send(&frame).unwrap();
        }
        ch.flush().unwrap();
        client.join().unwrap();
        let s = t0.elapsed().as_secs_f64();
        let what = if use_tls { "TLS 1.3" } else { "plain TCP" };
        println!(
            "{what}: {mb} MiB in {:.1} ms = {:.2} GiB/s",
            s * 1e3,
            mb as f64 / 1024.0 / s
        );
    }
}
