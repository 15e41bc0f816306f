//! Topology-aware worker pool for the homomorphic linear algebra.
//!
//! [`Topology::detect`] asks hwloc (the `hwlocality` crate over the system libhwloc 2.x, cargo
//! feature `hwloc`, on by default) for the physical cores, their processing units and the L2
//! size; without the feature, or when hwloc cannot load the topology, it falls back to
//! [`std::thread::available_parallelism`] and a nominal 512 KiB L2. [`Scheduler`] builds a rayon
//! pool with one worker per physical core (or `GAZELLE_THREADS` workers), each pinned to its
//! core when hwloc is there. [`crate::linalg`] cuts every layer into tiles (one output
//! ciphertext × a run of input rotations, sized by [`Scheduler::tile_terms`] to keep the
//! accumulator and the run's operands in L2) and runs them on the pool.
//!
//! Results never depend on the worker count: every tile's sum is exact arithmetic mod q, so
//! the order of accumulation does not matter.
use std::sync::OnceLock;

/// Environment variable that sets the number of workers.
pub const THREADS_ENV: &str = "GAZELLE_THREADS";

/// Nominal L2 size used when the topology is unknown.
pub const DEFAULT_L2_BYTES: usize = 512 * 1024;

/// Errors of the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchedError {
    /// `GAZELLE_THREADS` (or the requested count) is not a positive integer.
    #[error("invalid worker count {value:?}: expected a positive integer")]
    InvalidThreads {
        /// The rejected value.
        value: String,
    },
    /// rayon could not start the pool.
    #[error("thread pool: {reason}")]
    Pool {
        /// rayon's message.
        reason: String,
    },
}

/// What the machine looks like, as far as scheduling cares.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Number of physical cores.
    pub physical_cores: usize,
    /// L2 cache size per core in bytes (the smallest L2 seen).
    pub l2_bytes: usize,
    /// Where the figures come from: `"hwloc"` or `"std"`.
    pub source: &'static str,
    #[cfg(feature = "hwloc")]
    hw: Option<std::sync::Arc<HwTopo>>,
}

#[cfg(feature = "hwloc")]
struct HwTopo {
    topo: hwlocality::Topology,
    /// One cpuset per physical core, in logical order.
    cores: Vec<hwlocality::cpu::cpuset::CpuSet>,
}

#[cfg(feature = "hwloc")]
impl std::fmt::Debug for HwTopo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HwTopo")
            .field("cores", &self.cores.len())
            .finish_non_exhaustive()
    }
}

fn std_parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Topology {
    /// Detects the topology (hwloc when available, otherwise the standard library).
    pub fn detect() -> Topology {
        #[cfg(feature = "hwloc")]
        if let Some(t) = Self::detect_hwloc() {
            return t;
        }
        Topology {
            physical_cores: std_parallelism(),
            l2_bytes: DEFAULT_L2_BYTES,
            source: "std",
            #[cfg(feature = "hwloc")]
            hw: None,
        }
    }

    #[cfg(feature = "hwloc")]
    fn detect_hwloc() -> Option<Topology> {
        use hwlocality::object::attributes::ObjectAttributes;
        use hwlocality::object::types::ObjectType;
        let topo = hwlocality::Topology::new().ok()?;
        let cores: Vec<_> = topo
            .objects_with_type(ObjectType::Core)
            .filter_map(|c| c.cpuset().map(|s| s.clone_target()))
            .collect();
        if cores.is_empty() {
            return None;
        }
        let l2 = topo
            .objects_with_type(ObjectType::L2Cache)
            .filter_map(|o| match o.attributes() {
                Some(ObjectAttributes::Cache(c)) => c.size().map(|s| s.get() as usize),
                _ => None,
            })
            .min()
            .unwrap_or(DEFAULT_L2_BYTES);
        Some(Topology {
            physical_cores: cores.len(),
            l2_bytes: l2,
            source: "hwloc",
            hw: Some(std::sync::Arc::new(HwTopo { topo, cores })),
        })
    }

    /// Pins the calling thread to physical core `index` (modulo the core count). Returns
    /// whether it was pinned (false without hwloc, or when the OS refused).
    pub fn pin_current_thread(&self, index: usize) -> bool {
        #[cfg(feature = "hwloc")]
        if let Some(hw) = &self.hw {
            use hwlocality::cpu::binding::CpuBindingFlags;
            let set = &hw.cores[index % hw.cores.len()];
            return hw.topo.bind_cpu(set, CpuBindingFlags::THREAD).is_ok();
        }
        let _ = index;
        false
    }
}

/// Parses a worker count.
pub fn parse_threads(value: &str) -> Result<usize, SchedError> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(SchedError::InvalidThreads {
            value: value.to_string(),
        }),
    }
}

/// A pinned rayon pool sized to the machine.
#[derive(Debug)]
pub struct Scheduler {
    pool: rayon::ThreadPool,
    threads: usize,
    topology: Topology,
}

impl Scheduler {
    /// A pool with `threads` workers (`None`: `GAZELLE_THREADS`, else one per physical core),
    /// worker i pinned to core i mod cores.
    pub fn new(threads: Option<usize>) -> Result<Scheduler, SchedError> {
        let topology = Topology::detect();
        let threads = match threads {
            Some(0) => {
                return Err(SchedError::InvalidThreads { value: "0".into() });
            }
            Some(t) => t,
            None => match std::env::var(THREADS_ENV) {
                Ok(v) => parse_threads(&v)?,
                Err(_) => topology.physical_cores.max(1),
            },
        };
        let pin = topology.clone();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("gazelle-linalg-{i}"))
            .start_handler(move |i| {
                pin.pin_current_thread(i);
            })
            .build()
            .map_err(|e| SchedError::Pool {
                reason: e.to_string(),
            })?;
        Ok(Scheduler {
            pool,
            threads,
            topology,
        })
    }

    /// The process-wide default scheduler (built on first use from `GAZELLE_THREADS` or the
    /// topology; an invalid `GAZELLE_THREADS` falls back to one worker per core).
    pub fn global() -> &'static Scheduler {
        static GLOBAL: OnceLock<Scheduler> = OnceLock::new();
        GLOBAL.get_or_init(|| {
            Scheduler::new(None)
                .or_else(|_| Scheduler::new(Some(Topology::detect().physical_cores.max(1))))
                .or_else(|_| Scheduler::new(Some(1)))
                .expect("a one-thread rayon pool always builds")
        })
    }

    /// Number of workers.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The detected topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Runs `f` inside the pool (rayon calls in `f` use its workers).
    pub fn install<R: Send, F: FnOnce() -> R + Send>(&self, f: F) -> R {
        self.pool.install(f)
    }

    /// How many ct×pt products one tile takes, for `total` products in `groups` groups (a
    /// group's products share one accumulator). A tile keeps one accumulator in L2 and streams
    /// its operands through it, so tiles are as long as possible: whole groups, cut further
    /// only until there are at least two tiles per worker.
    pub fn tile_terms(&self, total: usize, groups: usize) -> usize {
        let target = groups.max(2 * self.threads).max(1);
        total.div_ceil(target).max(1)
    }

    /// How many accumulators (segments) one tile updates together: their ciphertexts share
    /// the cache while each rotated input streams through once. At most
    /// [`MAX_TILE_ACCUMULATORS`], and few enough that `segments` make two tiles per worker.
    pub fn tile_accumulators(&self, segments: usize) -> usize {
        (segments / (2 * self.threads)).clamp(1, MAX_TILE_ACCUMULATORS)
    }
}

/// Upper bound of [`Scheduler::tile_accumulators`]: 8 ciphertexts of n = 4096 at two primes
/// (1 MiB) sit in L2 plus the core's share of L3.
pub const MAX_TILE_ACCUMULATORS: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_has_cores() {
        let t = Topology::detect();
        assert!(t.physical_cores >= 1);
        assert!(t.l2_bytes >= 1024);
        #[cfg(feature = "hwloc")]
        assert_eq!(t.source, "hwloc", "libhwloc is installed on CI and here");
    }

    #[test]
    fn explicit_thread_counts() {
        let s = Scheduler::new(Some(2)).unwrap();
        assert_eq!(s.threads(), 2);
        assert_eq!(s.install(rayon::current_num_threads), 2);
        assert!(Scheduler::new(Some(0)).is_err());
        assert_eq!(parse_threads(" 3 ").unwrap(), 3);
        assert!(parse_threads("x").is_err());
        assert!(parse_threads("0").is_err());
    }

    #[test]
    fn tiles_are_positive_and_balanced() {
        let s = Scheduler::new(Some(2)).unwrap();
        assert_eq!(s.tile_terms(1, 1), 1);
        // One group of 1000 products: cut into 4 tiles for 2 workers.
        assert_eq!(s.tile_terms(1000, 1), 250);
        // Many groups: whole groups.
        assert_eq!(s.tile_terms(9216, 64), 144);
    }
}
