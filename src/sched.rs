//! Topology-aware worker pool for the homomorphic linear algebra.
//!
//! [`Topology::detect`] reads the physical cores, their logical CPUs and the L2 size from Linux
//! sysfs (`/sys/devices/system/cpu/cpu*/topology` and `cache/index*`), restricted to the CPUs
//! this process may run on; with the opt-in cargo feature `hwloc` it asks hwloc (the
//! `hwlocality` crate over the system libhwloc 2.x) first. Elsewhere, or when neither answers,
//! it falls back to [`std::thread::available_parallelism`] and a nominal 512 KiB L2.
//! [`Scheduler`] builds a rayon pool with one worker per physical core (or `GAZELLE_THREADS`
//! workers), each pinned to its core (`sched_setaffinity` through `core_affinity`) where the
//! topology is known. [`crate::linalg`] cuts every layer into tiles (one output ciphertext × a
//! run of input rotations, sized by [`Scheduler::tile_terms`] to keep the accumulator and the
//! run's operands in L2) and runs them on the pool.
//!
//! Results never depend on the worker count: every tile's sum is exact arithmetic mod q, so
//! the order of accumulation does not matter.
use std::path::Path;
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
    /// Where the figures come from: `"sysfs"`, `"hwloc"` or `"std"`.
    pub source: &'static str,
    /// Logical CPU ids of each physical core, in order (empty when unknown: no pinning).
    core_cpus: std::sync::Arc<Vec<Vec<usize>>>,
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

/// Root of the Linux CPU topology in sysfs.
pub const SYSFS_CPU_ROOT: &str = "/sys/devices/system/cpu";

/// Parses a Linux CPU list such as `0-3,8,10-11`; `None` on malformed input.
pub fn parse_cpu_list(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if b < a || b - a > 1 << 16 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    Some(out)
}

/// Parses a sysfs cache size such as `1024K`, `32M` or `512` (bytes).
fn parse_cache_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (digits, mult) = match s.as_bytes().last()? {
        b'K' => (&s[..s.len() - 1], 1024),
        b'M' => (&s[..s.len() - 1], 1024 * 1024),
        b'G' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    digits.parse::<usize>().ok()?.checked_mul(mult)
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// The physical cores and smallest L2 of a sysfs CPU tree at `root`, counting only the online
/// CPUs in `allowed` (all online CPUs when `None`). Cores are ordered by their first CPU.
/// `None` when the tree is missing or says nothing usable.
pub fn sysfs_topology(root: &Path, allowed: Option<&[usize]>) -> Option<(Vec<Vec<usize>>, usize)> {
    let online = parse_cpu_list(&read_trimmed(&root.join("online"))?)?;
    let mut cores: std::collections::BTreeMap<(u64, u64), Vec<usize>> = Default::default();
    let mut l2: Option<usize> = None;
    for cpu in online {
        if allowed.is_some_and(|a| !a.contains(&cpu)) {
            continue;
        }
        let dir = root.join(format!("cpu{cpu}"));
        let topo = dir.join("topology");
        let package = read_trimmed(&topo.join("physical_package_id"))
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0) as u64;
        // Without core_id, treat every logical CPU as its own core.
        let core = read_trimmed(&topo.join("core_id"))
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(1 << 32 | cpu as u64);
        cores.entry((package, core)).or_default().push(cpu);
        for index in 0..8 {
            let cache = dir.join(format!("cache/index{index}"));
            let Some(level) = read_trimmed(&cache.join("level")) else {
                break;
            };
            let unified_or_data =
                read_trimmed(&cache.join("type")).is_none_or(|t| t == "Unified" || t == "Data");
            if level == "2" && unified_or_data {
                if let Some(size) =
                    read_trimmed(&cache.join("size")).and_then(|s| parse_cache_size(&s))
                {
                    l2 = Some(l2.map_or(size, |m: usize| m.min(size)));
                }
            }
        }
    }
    if cores.is_empty() {
        return None;
    }
    let mut cores: Vec<Vec<usize>> = cores.into_values().collect();
    cores.sort_by_key(|c| c[0]);
    Some((cores, l2.unwrap_or(DEFAULT_L2_BYTES)))
}

impl Topology {
    /// Detects the topology: hwloc (feature `hwloc`), else Linux sysfs, else the standard
    /// library (no pinning).
    pub fn detect() -> Topology {
        #[cfg(feature = "hwloc")]
        if let Some(t) = Self::detect_hwloc() {
            return t;
        }
        if let Some(t) = Self::detect_sysfs(Path::new(SYSFS_CPU_ROOT)) {
            return t;
        }
        Topology {
            physical_cores: std_parallelism(),
            l2_bytes: DEFAULT_L2_BYTES,
            source: "std",
            core_cpus: Default::default(),
            #[cfg(feature = "hwloc")]
            hw: None,
        }
    }

    /// The topology read from a sysfs CPU tree at `root`, restricted to this process's
    /// affinity mask where the OS reports one.
    pub fn detect_sysfs(root: &Path) -> Option<Topology> {
        let allowed: Option<Vec<usize>> =
            core_affinity::get_core_ids().map(|ids| ids.into_iter().map(|c| c.id).collect());
        let (cores, l2) = sysfs_topology(root, allowed.as_deref())?;
        Some(Topology {
            physical_cores: cores.len(),
            l2_bytes: l2,
            source: "sysfs",
            core_cpus: std::sync::Arc::new(cores),
            #[cfg(feature = "hwloc")]
            hw: None,
        })
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
            core_cpus: Default::default(),
            hw: Some(std::sync::Arc::new(HwTopo { topo, cores })),
        })
    }

    /// Logical CPU ids of each physical core (empty when the topology is unknown).
    pub fn core_cpus(&self) -> &[Vec<usize>] {
        &self.core_cpus
    }

    /// Pins the calling thread to physical core `index` (modulo the core count): to the whole
    /// core with hwloc, to the core's first logical CPU otherwise. Returns whether it was
    /// pinned (false when the topology is unknown or the OS refused).
    pub fn pin_current_thread(&self, index: usize) -> bool {
        #[cfg(feature = "hwloc")]
        if let Some(hw) = &self.hw {
            use hwlocality::cpu::binding::CpuBindingFlags;
            let set = &hw.cores[index % hw.cores.len()];
            return hw.topo.bind_cpu(set, CpuBindingFlags::THREAD).is_ok();
        }
        match self.core_cpus.get(index % self.core_cpus.len().max(1)) {
            Some(cpus) => core_affinity::set_for_current(core_affinity::CoreId { id: cpus[0] }),
            None => false,
        }
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

    /// The worker pool (for layers that take one explicitly, e.g. parallel garbling).
    pub fn pool(&self) -> &rayon::ThreadPool {
        &self.pool
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
        assert_eq!(
            t.source, "hwloc",
            "libhwloc is installed wherever the feature is built"
        );
        #[cfg(all(not(feature = "hwloc"), target_os = "linux"))]
        assert_eq!(t.source, "sysfs", "Linux has /sys/devices/system/cpu");
        if t.source == "sysfs" {
            assert_eq!(t.core_cpus().len(), t.physical_cores);
            assert!(
                t.pin_current_thread(0),
                "pinning to an allowed CPU succeeds"
            );
        }
    }

    #[test]
    fn cpu_lists_and_sizes() {
        assert_eq!(
            parse_cpu_list("0-3,8,10-11\n"),
            Some(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpu_list("5"), Some(vec![5]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(parse_cache_size("1024K"), Some(1 << 20));
        assert_eq!(parse_cache_size("32M"), Some(32 << 20));
        assert_eq!(parse_cache_size("K"), None);
    }

    /// A fake sysfs tree: 2 packages × 2 cores × 2 hyperthreads, cpu7 offline, L2 of 1 MiB
    /// and 2 MiB.
    #[test]
    fn sysfs_tree_groups_hyperthreads_into_cores() {
        let root = std::env::temp_dir().join(format!("gazelle-sysfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("online"), "0-6\n").unwrap();
        for cpu in 0..8usize {
            let (package, core) = (cpu / 4, (cpu % 4) / 2);
            let topo = root.join(format!("cpu{cpu}/topology"));
            std::fs::create_dir_all(&topo).unwrap();
            std::fs::write(topo.join("physical_package_id"), format!("{package}\n")).unwrap();
            std::fs::write(topo.join("core_id"), format!("{core}\n")).unwrap();
            for (i, (level, kind, size)) in [
                ("1", "Instruction", "32K"),
                ("2", "Unified", if package == 0 { "2048K" } else { "1024K" }),
            ]
            .into_iter()
            .enumerate()
            {
                let c = root.join(format!("cpu{cpu}/cache/index{i}"));
                std::fs::create_dir_all(&c).unwrap();
                std::fs::write(c.join("level"), level).unwrap();
                std::fs::write(c.join("type"), kind).unwrap();
                std::fs::write(c.join("size"), size).unwrap();
            }
        }
        let (cores, l2) = sysfs_topology(&root, None).unwrap();
        assert_eq!(cores, vec![vec![0, 1], vec![2, 3], vec![4, 5], vec![6]]);
        assert_eq!(l2, 1 << 20);
        let (cores, l2) = sysfs_topology(&root, Some(&[1, 2, 3])).unwrap();
        assert_eq!(cores, vec![vec![1], vec![2, 3]]);
        assert_eq!(l2, 2 << 20);
        assert!(sysfs_topology(&root.join("missing"), None).is_none());
        std::fs::remove_dir_all(&root).unwrap();
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
