//! Process-wide allocator settings for the engine's allocation pattern.
//!
//! The engine allocates and frees buffers of 64 KiB to tens of MiB at a high rate on several
//! threads (polynomials, ciphertexts, garbling and OT scratch). With glibc's defaults such a
//! buffer goes back to the kernel when it is freed (chunks above the dynamic mmap threshold
//! are unmapped; the free top of a thread arena's heap is released with `MADV_DONTNEED` past
//! the trim threshold), so the next allocation takes a page fault per 4 KiB and the kernel
//! zeroes every page again. [`retain_freed_memory`] keeps freed memory in the process for
//! reuse instead: the resident size stays near its peak rather than following the current use.

/// Largest request served from the heap instead of its own mapping: glibc's ceiling for
/// `M_MMAP_THRESHOLD` on 64-bit targets (half its 64 MiB arena heap).
pub const MMAP_THRESHOLD_BYTES: usize = 32 << 20;

/// Free memory a heap keeps at its top before returning the excess to the kernel.
pub const TRIM_THRESHOLD_BYTES: usize = 1 << 30;

/// Tells the C allocator to keep freed memory for reuse: requests up to
/// [`MMAP_THRESHOLD_BYTES`] come from the heap (a fixed threshold, not glibc's sliding one)
/// and up to [`TRIM_THRESHOLD_BYTES`] of free heap top is kept. Call it once, early (before
/// the first threads allocate). Returns whether both settings took effect: `false` on targets
/// other than glibc, where nothing is changed.
pub fn retain_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes the allocator's parameters under its own lock; the
        // values fit a C int and are within the ranges glibc accepts (it returns 0 otherwise).
        unsafe {
            let mmap = libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES as libc::c_int);
            let trim = libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES as libc::c_int);
            mmap == 1 && trim == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn settings_take_effect_on_glibc() {
        let applied = super::retain_freed_memory();
        assert_eq!(applied, cfg!(all(target_os = "linux", target_env = "gnu")));
        // Allocation still works after the change, below and above the threshold.
        let small = vec![1u8; 1 << 20];
        let large = vec![2u8; super::MMAP_THRESHOLD_BYTES + 4096];
        assert_eq!(small[12345] + large[super::MMAP_THRESHOLD_BYTES], 3);
    }
}
