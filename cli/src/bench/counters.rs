//! Hardware counters (cycles, instructions) through Linux `perf_event_open`. Where the kernel
//! refuses (containers, `perf_event_paranoid`, no PMU in a VM) every reading is `None`.
use perf_event::events::Hardware;
use perf_event::{Builder, Group};

/// A cycles + instructions counter group for the calling thread.
pub struct Counters {
    group: Group,
    cycles: perf_event::Counter,
    instructions: perf_event::Counter,
}

impl Counters {
    /// Opens the counters, or `None` where Linux does not let us read them.
    pub fn open() -> Option<Self> {
        let mut group = Group::new().ok()?;
        let cycles = group
            .add(Builder::new(Hardware::CPU_CYCLES).exclude_kernel(true))
            .ok()?;
        let instructions = group
            .add(Builder::new(Hardware::INSTRUCTIONS).exclude_kernel(true))
            .ok()?;
        let mut c = Self {
            group,
            cycles,
            instructions,
        };
        // Some hypervisors accept the open but never count: treat zero counts as unavailable.
        let (cy, ins) = c.count(|| {
            std::hint::black_box((0..1000u64).sum::<u64>());
        })?;
        (cy > 0 && ins > 0).then_some(c)
    }

    /// Whether counters work on this machine.
    pub fn available() -> bool {
        Self::open().is_some()
    }

    /// (cycles, instructions) spent in `f`.
    pub fn count<F: FnMut()>(&mut self, mut f: F) -> Option<(u64, u64)> {
        self.group.reset().ok()?;
        self.group.enable().ok()?;
        f();
        self.group.disable().ok()?;
        let data = self.group.read().ok()?;
        Some((data[&self.cycles], data[&self.instructions]))
    }

    /// (cycles, instructions) per unit of work: `f` run `iters` times, doing `units` each.
    pub fn per_unit<F: FnMut()>(&mut self, mut f: F, iters: u64, units: f64) -> Option<(f64, f64)> {
        let (c, i) = self.count(|| {
            for _ in 0..iters {
                f();
            }
        })?;
        let d = iters as f64 * units;
        Some((c as f64 / d, i as f64 / d))
    }
}
