//! `cargo run --release --example gc_thread_scaling`: whether two threads garbling
//! *independent* batches (no shared data, batches of 128 ReLUs into a small reused buffer) get
//! twice the throughput of one. On a machine whose cores do not share AES units they do; where
//! they do share them (SMT siblings, some VMs) no parallel garbler can scale either.
use gazelle::gc::gazelle::{NonlinearCircuit, NonlinearSpec};
use gazelle::gc::{Circuit, Garbler};
use std::time::{Duration, Instant};

fn garble(c: &Circuit, instances: usize) {
    let mut g = Garbler::new().expect("garbler");
    let mut stream = Vec::with_capacity(c.table_bytes(128, gazelle::gc::Scheme::HalfGates));
    for _ in (0..instances).step_by(128) {
        stream.clear();
        g.garble(c, 128, &mut stream).expect("garbling");
    }
}

fn main() {
    let nc = NonlinearCircuit::new(NonlinearSpec::relu(1_032_193)).expect("circuit");
    let c = nc.circuit();
    let instances = 5120;
    for _ in 0..3 {
        let t = Instant::now();
        garble(c, instances);
        let one: Duration = t.elapsed();
        let t = Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| garble(c, instances));
            s.spawn(|| garble(c, instances));
        });
        let two = t.elapsed();
        println!(
            "{instances} ReLUs: one thread {one:.1?}; two threads, {instances} each, {two:.1?}: {:.2}x the throughput",
            2.0 * one.as_secs_f64() / two.as_secs_f64()
        );
    }
}
