//! Measurements behind `gazelle bench ot`: base OT time, OT-extension throughput and bytes per
//! OT offline, and the online derandomisation, each with both parties running on their own
//! thread over a TCP loopback connection (one core each on a 2-core machine).
use std::fmt;
use std::thread;
use std::time::Instant;

use kernels::Block;

use super::ext::{CotReceiver, CotSender, ExtParams, ReceiverCots, SenderCots, BASE_OTS};
use super::io::{
    extend_receiver, extend_receiver_into, extend_sender, extend_sender_into, receive_labels_into,
    send_labels_with, setup_receiver, setup_sender, IoBuffers,
};
use super::rng::OtRng;
use super::{OtError, Result};
use crate::channel::{Channel, TcpChannel};

/// One measured figure.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchRow {
    /// What was measured, e.g. `offline/softspoken-4`.
    pub name: String,
    /// Number of OTs in the measurement.
    pub ots: usize,
    /// Wall-clock seconds (both parties finished).
    pub seconds: f64,
    /// OTs per second (`ots / seconds`), wall clock.
    pub ots_per_second: f64,
    /// CPU seconds of the sender's and the receiver's thread (Linux `schedstat`, which the
    /// kernel updates at scheduler ticks and switches: exact for runs of hundreds of
    /// milliseconds, off by up to a tick for short ones; `None` off Linux). On a machine shared with other work the wall clock measures the contention;
    /// `ots / max(cpu)` is the rate with one free core per party.
    pub cpu_seconds: Option<(f64, f64)>,
    /// Bytes sent by both parties together, per OT.
    pub bytes_per_ot: f64,
}

impl BenchRow {
    /// OTs per second with one core per party: `ots / max(sender CPU, receiver CPU)`.
    pub fn ots_per_cpu_second(&self) -> Option<f64> {
        self.cpu_seconds
            .map(|(s, r)| self.ots as f64 / s.max(r).max(1e-9))
    }
}

impl fmt::Display for BenchRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<22} {:>9} OTs {:>9.2} ms {:>8.2} M OT/s",
            self.name,
            self.ots,
            self.seconds * 1e3,
            self.ots_per_second / 1e6,
        )?;
        match (self.cpu_seconds, self.ots_per_cpu_second()) {
            (Some((s, r)), Some(rate)) => write!(
                f,
                " | cpu S {:>8.2} ms R {:>8.2} ms {:>8.2} M OT/s/core-pair",
                s * 1e3,
                r * 1e3,
                rate / 1e6
            )?,
            _ => write!(f, " | cpu n/a")?,
        }
        write!(f, " | {:>7.3} B/OT", self.bytes_per_ot)
    }
}

/// CPU time of the calling thread in nanoseconds (`/proc/thread-self/schedstat`), if known.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Measures the CPU seconds `f` takes on this thread.
fn cpu_timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Option<f64>)> {
    let before = thread_cpu_ns();
    let out = f()?;
    let cpu = match (before, thread_cpu_ns()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 * 1e-9),
        _ => None,
    };
    Ok((out, cpu))
}

fn joined<T>(h: thread::JoinHandle<Result<T>>) -> Result<T> {
    h.join()
        .map_err(|_| OtError::BadParams("benchmark party thread panicked".into()))?
}

fn row(
    name: String,
    ots: usize,
    seconds: f64,
    cpu: (Option<f64>, Option<f64>),
    bytes: u64,
) -> BenchRow {
    BenchRow {
        name,
        ots,
        seconds,
        ots_per_second: ots as f64 / seconds,
        cpu_seconds: cpu.0.zip(cpu.1),
        bytes_per_ot: bytes as f64 / ots as f64,
    }
}

/// Base OTs plus extension setup (128 base OTs, GGM trees, seed message).
pub fn bench_setup(params: ExtParams) -> Result<BenchRow> {
    let delta = OtRng::from_entropy()?.block().with_lsb(true);
    let (mut cs, mut cr) = TcpChannel::loopback_pair()?;
    let start = Instant::now();
    let handle = thread::spawn(move || {
        cpu_timed(|| {
            let mut rng = OtRng::from_entropy()?;
            setup_sender(&mut cs, params, delta, &mut rng)?;
            Ok(cs)
        })
    });
    let (_, rcpu) = cpu_timed(|| {
        let mut rng = OtRng::from_entropy()?;
        setup_receiver(&mut cr, params, &mut rng)
    })?;
    let (cs, scpu) = joined(handle)?;
    let secs = start.elapsed().as_secs_f64();
    let bytes = cs.bytes_sent() + cr.bytes_sent();
    Ok(row(
        format!("setup/{}", params.name()),
        BASE_OTS,
        secs,
        (scpu, rcpu),
        bytes,
    ))
}

/// Both parties set up over a fresh loopback connection.
fn connected(params: ExtParams) -> Result<(TcpChannel, CotSender, TcpChannel, CotReceiver)> {
    let delta = OtRng::from_entropy()?.block().with_lsb(true);
    let (mut cs, mut cr) = TcpChannel::loopback_pair()?;
    let handle = thread::spawn(move || -> Result<(TcpChannel, CotSender)> {
        let mut rng = OtRng::from_entropy()?;
        let s = setup_sender(&mut cs, params, delta, &mut rng)?;
        Ok((cs, s))
    });
    let mut rng = OtRng::from_entropy()?;
    let receiver = setup_receiver(&mut cr, params, &mut rng)?;
    let (cs, sender) = joined(handle)?;
    Ok((cs, sender, cr, receiver))
}

/// Which party a process or thread plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The OT-extension sender (garbler, holds `Δ`).
    Sender,
    /// The OT-extension receiver (evaluator).
    Receiver,
}

/// What one party measured of an offline run.
#[derive(Clone, Debug, PartialEq)]
pub struct PartyReport {
    /// The party.
    pub role: Role,
    /// OTs extended.
    pub ots: usize,
    /// Wall-clock seconds of the extension (setup excluded).
    pub seconds: f64,
    /// CPU seconds of the extension on this party's thread, where known.
    pub cpu_seconds: Option<f64>,
    /// Payload bytes this party sent during the extension.
    pub bytes_sent: u64,
}

/// One party of the offline benchmark over any channel: setup (not timed), then `total`
/// random correlated OTs in extension calls of `batch`. Run the two roles in two threads or
/// two processes connected by `ch`.
pub fn offline_party<C: Channel>(
    ch: &mut C,
    role: Role,
    params: ExtParams,
    total: usize,
    batch: usize,
) -> Result<PartyReport> {
    let mut rng = OtRng::from_entropy()?;
    enum Party {
        S(Box<CotSender>),
        R(Box<CotReceiver>),
    }
    let mut party = match role {
        Role::Sender => {
            let delta = rng.block().with_lsb(true);
            Party::S(Box::new(setup_sender(ch, params, delta, &mut rng)?))
        }
        Role::Receiver => Party::R(Box::new(setup_receiver(ch, params, &mut rng)?)),
    };
    let sent0 = ch.bytes_sent();
    let start = Instant::now();
    // One pool per party, refilled batch after batch: the steady state of an offline phase
    // that keeps its buffers.
    let mut spool = SenderCots::default();
    let mut rpool = ReceiverCots::default();
    let mut bufs = IoBuffers::default();
    let ((), cpu) = cpu_timed(|| {
        let mut done = 0;
        while done < total {
            let n = batch.min(total - done);
            match &mut party {
                Party::S(s) => {
                    extend_sender_into(ch, s, n, &mut spool, &mut bufs)?;
                    std::hint::black_box(spool.messages());
                }
                Party::R(r) => {
                    extend_receiver_into(ch, r, n, &mut rpool, &mut bufs)?;
                    std::hint::black_box(rpool.messages());
                }
            }
            done += n;
        }
        Ok(())
    })?;
    Ok(PartyReport {
        role,
        ots: total,
        seconds: start.elapsed().as_secs_f64(),
        cpu_seconds: cpu,
        bytes_sent: ch.bytes_sent() - sent0,
    })
}

/// Combines the two parties' reports of one run into a row (wall clock: the slower party).
pub fn combine(name: String, a: &PartyReport, b: &PartyReport) -> BenchRow {
    let (s, r) = if a.role == Role::Sender {
        (a, b)
    } else {
        (b, a)
    };
    row(
        name,
        s.ots,
        s.seconds.max(r.seconds),
        (s.cpu_seconds, r.cpu_seconds),
        s.bytes_sent + r.bytes_sent,
    )
}

/// Offline extension of `total` random correlated OTs in calls of `batch`, the two parties
/// on two threads over TCP loopback (setup excluded; the receiver runs ahead by what the
/// socket buffers, so the parties overlap).
pub fn bench_offline(params: ExtParams, total: usize, batch: usize) -> Result<BenchRow> {
    let (mut cs, mut cr) = TcpChannel::loopback_pair()?;
    let handle = thread::spawn(move || offline_party(&mut cs, Role::Sender, params, total, batch));
    let r = offline_party(&mut cr, Role::Receiver, params, total, batch)?;
    let s = joined(handle)?;
    Ok(combine(format!("offline/{}", params.name()), &s, &r))
}

/// Online derandomisation of `n` label transfers, twice from one offline pool of `2n`:
/// first with fresh buffers (`online/labels-cold`: the first touch of the message and output
/// memory is paid), then reusing them (`online/labels-warm`: the steady state of an online
/// phase that keeps its buffers). Setup and offline extension are not timed.
pub fn bench_online(n: usize) -> Result<Vec<BenchRow>> {
    let params = ExtParams::default();
    let (mut cs, mut sender, mut cr, mut receiver) = connected(params)?;
    let mut rng = OtRng::from_entropy()?;
    let mut zero = vec![Block::ZERO; n];
    rng.fill_blocks(&mut zero);
    let mut bits = vec![0u8; n];
    rng.fill_bytes(&mut bits);
    let choices: Vec<bool> = bits.iter().map(|b| b & 1 == 1).collect();
    let handle = thread::spawn(move || -> Result<(TcpChannel, SenderCots)> {
        let pool = extend_sender(&mut cs, &mut sender, 2 * n)?;
        Ok((cs, pool))
    });
    let mut rpool = extend_receiver(&mut cr, &mut receiver, 2 * n)?;
    let (mut cs, mut spool) = joined(handle)?;
    let mut rows = Vec::new();
    let mut sbufs = IoBuffers::default();
    let mut rbufs = IoBuffers::default();
    let mut labels = Vec::new();
    for name in ["online/labels-cold", "online/labels-warm"] {
        let (s0, r0) = (cs.bytes_sent(), cr.bytes_sent());
        let start = Instant::now();
        let handle = thread::spawn(move || {
            cpu_timed(|| {
                send_labels_with(&mut cs, &mut spool, &zero, &mut sbufs)?;
                Ok((cs, spool, zero, sbufs))
            })
        });
        let ((), rcpu) = cpu_timed(|| {
            receive_labels_into(&mut cr, &mut rpool, &choices, &mut rbufs, &mut labels)
        })?;
        let ((c, p, z, b), scpu) = joined(handle)?;
        (cs, spool, zero, sbufs) = (c, p, z, b);
        let secs = start.elapsed().as_secs_f64();
        std::hint::black_box(&labels);
        let bytes = cs.bytes_sent() - s0 + cr.bytes_sent() - r0;
        rows.push(row(name.into(), n, secs, (scpu, rcpu), bytes));
    }
    Ok(rows)
}

/// The rows of `gazelle bench ot`: `quick` runs small counts (about a second in all).
pub fn run(quick: bool) -> Result<Vec<BenchRow>> {
    let (total, online) = if quick {
        (1 << 20, 1 << 16)
    } else {
        (1 << 24, 1 << 20)
    };
    let mut rows = Vec::new();
    for params in [ExtParams::IKNP, ExtParams::SOFTSPOKEN_4] {
        rows.push(bench_setup(params)?);
    }
    let mut list = vec![
        ExtParams::IKNP,
        ExtParams::SOFTSPOKEN_2,
        ExtParams::SOFTSPOKEN_4,
    ];
    if !quick {
        list.push(ExtParams::SOFTSPOKEN_8);
    }
    for params in list {
        rows.push(bench_offline(params, total, 1 << 18)?);
    }
    rows.extend(bench_online(online)?);
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_rows_are_sane() {
        let r = bench_offline(ExtParams::SOFTSPOKEN_4, 1 << 14, 1 << 12).unwrap();
        assert!(r.bytes_per_ot > 3.8 && r.bytes_per_ot < 4.0, "{r}");
        assert!(r.ots_per_second > 0.0);
        for o in bench_online(1000).unwrap() {
            assert!(o.bytes_per_ot > 16.0 && o.bytes_per_ot < 17.5, "{o}");
        }
        let s = bench_setup(ExtParams::IKNP).unwrap();
        assert_eq!(s.ots, 128);
    }
}
