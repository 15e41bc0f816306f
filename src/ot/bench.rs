//! Measurements behind `gazelle bench ot`: base OT time, OT-extension throughput and bytes per
//! OT offline, and the online derandomisation, each with both parties running on their own
//! thread over a TCP loopback connection (one core each on a 2-core machine).
use std::fmt;
use std::thread;
use std::time::Instant;

use kernels::Block;

use super::ext::ExtParams;
use super::io::{
    extend_receiver, extend_sender, receive_labels, send_labels, setup_receiver, setup_sender,
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
    /// OTs per second (`ots / seconds`).
    pub ots_per_second: f64,
    /// Bytes sent by both parties together, per OT.
    pub bytes_per_ot: f64,
}

impl fmt::Display for BenchRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<28} {:>10} OTs {:>10.3} ms {:>9.2} M OT/s {:>8.3} B/OT",
            self.name,
            self.ots,
            self.seconds * 1e3,
            self.ots_per_second / 1e6,
            self.bytes_per_ot
        )
    }
}

/// What each party reports back: bytes it sent.
type PartyResult = Result<u64>;

fn two_party<S, R>(sender: S, receiver: R) -> Result<(f64, u64)>
where
    S: FnOnce(&mut TcpChannel) -> PartyResult + Send + 'static,
    R: FnOnce(&mut TcpChannel) -> PartyResult,
{
    let (mut cs, mut cr) = TcpChannel::loopback_pair()?;
    let start = Instant::now();
    let handle = thread::spawn(move || sender(&mut cs));
    let rbytes = receiver(&mut cr)?;
    let sbytes = handle
        .join()
        .map_err(|_| OtError::BadParams("sender thread panicked".into()))??;
    Ok((start.elapsed().as_secs_f64(), rbytes + sbytes))
}

fn row(name: String, ots: usize, seconds: f64, bytes: u64) -> BenchRow {
    BenchRow {
        name,
        ots,
        seconds,
        ots_per_second: ots as f64 / seconds,
        bytes_per_ot: bytes as f64 / ots as f64,
    }
}

/// Base OTs plus extension setup (128 base OTs, GGM trees, seed message).
pub fn bench_setup(params: ExtParams) -> Result<BenchRow> {
    let delta = OtRng::from_entropy()?.block().with_lsb(true);
    let (secs, bytes) = two_party(
        move |ch| {
            let mut rng = OtRng::from_entropy()?;
            setup_sender(ch, params, delta, &mut rng)?;
            Ok(ch.bytes_sent())
        },
        |ch| {
            let mut rng = OtRng::from_entropy()?;
            setup_receiver(ch, params, &mut rng)?;
            Ok(ch.bytes_sent())
        },
    )?;
    Ok(row(format!("setup/{}", params.name()), 128, secs, bytes))
}

/// Offline extension of `total` random correlated OTs in calls of `batch` (setup excluded).
pub fn bench_offline(params: ExtParams, total: usize, batch: usize) -> Result<BenchRow> {
    let delta = OtRng::from_entropy()?.block().with_lsb(true);
    let (mut cs, mut cr) = TcpChannel::loopback_pair()?;
    let handle = thread::spawn(move || -> Result<(TcpChannel, super::CotSender)> {
        let mut rng = OtRng::from_entropy()?;
        let s = setup_sender(&mut cs, params, delta, &mut rng)?;
        Ok((cs, s))
    });
    let mut rng = OtRng::from_entropy()?;
    let mut receiver = setup_receiver(&mut cr, params, &mut rng)?;
    let (mut cs, mut sender) = handle
        .join()
        .map_err(|_| OtError::BadParams("sender thread panicked".into()))??;
    let (s0, r0) = (cs.bytes_sent(), cr.bytes_sent());
    let start = Instant::now();
    let handle = thread::spawn(move || -> Result<(TcpChannel, u64)> {
        let mut done = 0;
        let mut check = Block::ZERO;
        while done < total {
            let n = batch.min(total - done);
            let cots = extend_sender(&mut cs, &mut sender, n)?;
            check ^= cots.messages()[0];
            done += n;
        }
        let _ = check;
        Ok((cs, done as u64))
    });
    let mut done = 0;
    while done < total {
        let n = batch.min(total - done);
        extend_receiver(&mut cr, &mut receiver, n)?;
        done += n;
    }
    let (cs, _) = handle
        .join()
        .map_err(|_| OtError::BadParams("sender thread panicked".into()))??;
    let secs = start.elapsed().as_secs_f64();
    let bytes = cs.bytes_sent() - s0 + cr.bytes_sent() - r0;
    Ok(row(
        format!("offline/{}", params.name()),
        total,
        secs,
        bytes,
    ))
}

/// Online derandomisation of `n` label transfers (offline extension excluded).
pub fn bench_online(n: usize) -> Result<BenchRow> {
    let params = ExtParams::default();
    let mut rng = OtRng::from_entropy()?;
    let delta = rng.block().with_lsb(true);
    let mut zero = vec![Block::ZERO; n];
    rng.fill_blocks(&mut zero);
    let mut bits = vec![0u8; n];
    rng.fill_bytes(&mut bits);
    let choices: Vec<bool> = bits.iter().map(|b| b & 1 == 1).collect();
    let (mut cs, mut cr) = TcpChannel::loopback_pair()?;
    let handle = thread::spawn(move || -> Result<(TcpChannel, super::SenderCots)> {
        let mut rng = OtRng::from_entropy()?;
        let mut s = setup_sender(&mut cs, params, delta, &mut rng)?;
        let pool = extend_sender(&mut cs, &mut s, n)?;
        Ok((cs, pool))
    });
    let mut receiver = setup_receiver(&mut cr, params, &mut rng)?;
    let mut rpool = extend_receiver(&mut cr, &mut receiver, n)?;
    let (mut cs, mut spool) = handle
        .join()
        .map_err(|_| OtError::BadParams("sender thread panicked".into()))??;
    let (s0, r0) = (cs.bytes_sent(), cr.bytes_sent());
    let start = Instant::now();
    let handle = thread::spawn(move || -> Result<TcpChannel> {
        send_labels(&mut cs, &mut spool, &zero)?;
        Ok(cs)
    });
    let labels = receive_labels(&mut cr, &mut rpool, &choices)?;
    let cs = handle
        .join()
        .map_err(|_| OtError::BadParams("sender thread panicked".into()))??;
    let secs = start.elapsed().as_secs_f64();
    debug_assert_eq!(labels.len(), n);
    let bytes = cs.bytes_sent() - s0 + cr.bytes_sent() - r0;
    Ok(row("online/labels".into(), n, secs, bytes))
}

/// The rows of `gazelle bench ot`: `quick` runs small counts (seconds in all).
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
    rows.push(bench_online(online)?);
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
        let o = bench_online(1000).unwrap();
        assert!(o.bytes_per_ot > 16.0 && o.bytes_per_ot < 17.5, "{o}");
        let s = bench_setup(ExtParams::IKNP).unwrap();
        assert_eq!(s.ots, 128);
    }
}
