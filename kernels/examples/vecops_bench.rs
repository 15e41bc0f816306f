//! `cargo run --release -p kernels --example vecops_bench`: add+sub mod q at n = 8192, the
//! baseline build of the loop against `kernels::vecops` (per-ISA builds by `multiversion`).
use std::hint::black_box;
use std::time::Instant;
fn add_base(x: &mut [u64], y: &[u64], q: u64) {
    for (x, &y) in x.iter_mut().zip(y) {
        let t = (*x + y).wrapping_sub(q);
        *x = t.wrapping_add(q & ((t as i64) >> 63) as u64);
    }
}
fn sub_base(x: &mut [u64], y: &[u64], q: u64) {
    for (x, &y) in x.iter_mut().zip(y) {
        let t = x.wrapping_sub(y);
        *x = t.wrapping_add(q & ((t as i64) >> 63) as u64);
    }
}
fn sub_mul_shoup_base(x: &mut [u64], y: &[u64], c: u64, q: u64) {
    let m = kernels::modarith::Modulus64::new(q).unwrap();
    let cs = m.shoup(c);
    for (d, &t) in x.iter_mut().zip(y) {
        *d = m.mul_shoup(m.sub(*d, t), c, cs);
    }
}
fn main() {
    let q = (1u64 << 50) - 27;
    let mut rng = kernels::testing::TestRng::new(1);
    let mut x = kernels::AlignedVec::from_slice(&rng.vec_below(8192, q));
    let y = kernels::AlignedVec::from_slice(&rng.vec_below(8192, q));
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..20000 {
            add_base(black_box(&mut x), &y, q);
            sub_base(black_box(&mut x), &y, q);
        }
        let b = t.elapsed();
        let t = Instant::now();
        for _ in 0..20000 {
            kernels::vecops::add_mod(black_box(&mut x), &y, q);
            kernels::vecops::sub_mod(black_box(&mut x), &y, q);
        }
        let m = t.elapsed();
        println!(
            "n=8192 add+sub: baseline {:.2} µs, multiversion {:.2} µs",
            b.as_secs_f64() * 1e6 / 20000.0,
            m.as_secs_f64() * 1e6 / 20000.0
        );
    }
    let q = kernels::prime::ntt_primes(50, 1 << 14, 1)[0];
    let x0 = rng.vec_below(8192, q);
    let y = rng.vec_below(8192, q);
    let c = rng.below(q);
    for _ in 0..3 {
        let mut x = kernels::AlignedVec::from_slice(&x0);
        let t = Instant::now();
        for _ in 0..20000 {
            sub_mul_shoup_base(black_box(&mut x), &y, c, q);
        }
        let b = t.elapsed();
        let t = Instant::now();
        for _ in 0..20000 {
            kernels::vecops::sub_mul_const_mod(black_box(&mut x), &y, c, q);
        }
        let m = t.elapsed();
        println!(
            "n=8192 (x - y)·c mod q (ModDown): scalar Shoup {:.2} µs, multiversion {:.2} µs",
            b.as_secs_f64() * 1e6 / 20000.0,
            m.as_secs_f64() * 1e6 / 20000.0
        );
    }
}
