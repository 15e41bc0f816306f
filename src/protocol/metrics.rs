//! Measurements of a query: time and bytes per stage, phase (offline, online) and direction,
//! taken on the client's side of the channel.
use super::Result;
use crate::channel::Channel;
use crate::net::Meter;
use std::time::{Duration, Instant};

/// Time and bytes of one phase of one stage, from the client's side (`up`: client → server).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseMetrics {
    /// Wall-clock time.
    pub time: Duration,
    /// Bytes client → server.
    pub up: u64,
    /// Bytes server → client.
    pub down: u64,
}

impl PhaseMetrics {
    /// Sum of two measurements.
    pub fn plus(self, o: PhaseMetrics) -> PhaseMetrics {
        PhaseMetrics {
            time: self.time + o.time,
            up: self.up + o.up,
            down: self.down + o.down,
        }
    }

    /// Bytes both ways.
    pub fn bytes(&self) -> u64 {
        self.up + self.down
    }
}

/// One stage's measurements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageMetrics {
    /// Stage name.
    pub name: String,
    /// Offline phase.
    pub offline: PhaseMetrics,
    /// Online phase.
    pub online: PhaseMetrics,
}

/// The result of one secure query, with its measurements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryReport {
    /// The logits (requantised, as the fixed-point oracle gives them), when the server reveals
    /// them (`ServerConfig::reveal_logits`); `None` by default (class only).
    pub logits: Option<Vec<i64>>,
    /// The predicted class (first maximum), always.
    pub class: usize,
    /// Per stage.
    pub stages: Vec<StageMetrics>,
    /// Offline work not attributed to a stage (OT extension requests, query start).
    pub offline_other: PhaseMetrics,
}

impl QueryReport {
    /// Total offline phase.
    pub fn offline(&self) -> PhaseMetrics {
        self.stages
            .iter()
            .fold(self.offline_other, |a, s| a.plus(s.offline))
    }

    /// Total online phase.
    pub fn online(&self) -> PhaseMetrics {
        self.stages
            .iter()
            .fold(PhaseMetrics::default(), |a, s| a.plus(s.online))
    }

    /// A table of the per-stage measurements.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let kb = |b: u64| b as f64 / 1024.0;
        let _ = writeln!(
            s,
            "{:<58} {:>9} {:>10} {:>10} {:>9} {:>10} {:>10}",
            "stage", "off ms", "off up KB", "off dn KB", "on ms", "on up KB", "on dn KB"
        );
        let mut row = |name: &str, off: PhaseMetrics, on: PhaseMetrics| {
            let _ = writeln!(
                s,
                "{:<58} {:>9.1} {:>10.1} {:>10.1} {:>9.1} {:>10.1} {:>10.1}",
                name,
                ms(off.time),
                kb(off.up),
                kb(off.down),
                ms(on.time),
                kb(on.up),
                kb(on.down)
            );
        };
        row(
            "offline (OT extension, query start)",
            self.offline_other,
            PhaseMetrics::default(),
        );
        for st in &self.stages {
            row(&st.name, st.offline, st.online);
        }
        row("total", self.offline(), self.online());
        s
    }
}

/// Runs `f` on `ch` and measures its wall-clock time and the bytes it moved each way.
pub(crate) fn measure<C: Channel + ?Sized, T>(
    ch: &mut C,
    f: impl FnOnce(&mut C) -> Result<T>,
) -> Result<(T, PhaseMetrics)> {
    let m = Meter::start(ch);
    let t = Instant::now();
    let v = f(ch)?;
    let (up, down) = m.read(ch);
    Ok((
        v,
        PhaseMetrics {
            time: t.elapsed(),
            up,
            down,
        },
    ))
}
