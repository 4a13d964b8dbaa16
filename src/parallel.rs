//! Work spread over threads in the threaded build, run in order in the single-thread one.
//!
//! With the `threads` feature (the threaded wasm build, `pkg/threads/`, whose pool of Web
//! Workers wasm-bindgen-rayon starts; natively rayon's own pool) the pieces of a loop run on
//! rayon's pool; without it they run one after the other on the calling thread, so the
//! single-thread build has no pool, no atomics and no extra code. Every piece does exactly the
//! arithmetic it would do alone, in the same order, and writes only its own part of the output:
//! only which thread runs it changes, so a threaded result equals the single-thread one bit for
//! bit (the kernels' tests compare them).
//!
//! A loop is split only when its work (multiply-adds, as the callers count it) is at least
//! [`MIN_PARALLEL_WORK`]: below that, waking the workers costs more than it saves, and the
//! small models stay on one thread.
//!
//! Natively only the convolutions use these helpers (the matrix products are matrixmultiply's),
//! so the ones only the sgemm calls are compiled there for its tests and the `threads` feature.

/// Multiply-adds below which a loop runs on the calling thread (about 0.1 ms of one thread's
/// SIMD work; a round trip through the pool's workers costs tens of microseconds).
#[cfg(any(target_arch = "wasm32", test, feature = "threads"))]
pub(crate) const MIN_PARALLEL_WORK: usize = 1 << 18;

/// Threads the loops may use: the pool's size with `threads`, otherwise 1.
#[cfg(any(target_arch = "wasm32", test, feature = "threads"))]
pub(crate) fn threads() -> usize {
    #[cfg(feature = "threads")]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "threads"))]
    {
        1
    }
}

/// How many pieces a loop of `units` independent units and `work` multiply-adds in all is
/// split into: 1 on one thread or below [`MIN_PARALLEL_WORK`], else up to four per thread (so
/// that a slow worker does not hold the rest), never more than `units`.
#[cfg(any(target_arch = "wasm32", test, feature = "threads"))]
pub(crate) fn pieces(units: usize, work: usize) -> usize {
    let threads = threads();
    if threads <= 1 || work < MIN_PARALLEL_WORK {
        1
    } else {
        (threads * 4).min(units).max(1)
    }
}

/// Calls `piece(index)` for every `index` in `0..count`, on the pool with `threads` (in any
/// order, all done on return), in order otherwise. (The sgemm's split; natively the products
/// are matrixmultiply's, so only the tests use it there.)
#[cfg(any(target_arch = "wasm32", test))]
pub(crate) fn for_each_index(count: usize, piece: impl Fn(usize) + Sync + Send) {
    #[cfg(feature = "threads")]
    {
        use rayon::prelude::*;
        if count > 1 {
            (0..count).into_par_iter().for_each(piece);
            return;
        }
    }
    (0..count).for_each(piece)
}

/// Calls `work(scratch, index, chunk)` for each `chunk_len`-long chunk of `out` (the last may be
/// shorter) and its index; `scratch` comes from `init`, once per thread that takes part (once
/// in all without threads), for buffers a chunk may reuse. `work_per_chunk` (multiply-adds)
/// decides whether the pool is used (see [`pieces`]).
pub(crate) fn for_each_chunk<T: Send, S>(
    out: &mut [T],
    chunk_len: usize,
    work_per_chunk: usize,
    init: impl Fn() -> S + Sync + Send,
    work: impl Fn(&mut S, usize, &mut [T]) + Sync + Send,
) {
    let chunk_len = chunk_len.max(1);
    #[cfg(feature = "threads")]
    {
        use rayon::prelude::*;
        let chunks = out.len().div_ceil(chunk_len);
        if pieces(chunks, chunks.saturating_mul(work_per_chunk)) > 1 {
            out.par_chunks_mut(chunk_len)
                .enumerate()
                .for_each_init(init, |scratch, (index, chunk)| work(scratch, index, chunk));
            return;
        }
    }
    #[cfg(not(feature = "threads"))]
    let _ = work_per_chunk;
    let mut scratch = init();
    for (index, chunk) in out.chunks_mut(chunk_len).enumerate() {
        work(&mut scratch, index, chunk);
    }
}

/// Calls `work(index, a_chunk, b_chunk)` for the `index`-th `a_len`-long chunk of `a` together
/// with the `index`-th `b_len`-long chunk of `b` (two outputs cut alike, e.g. per-point vectors
/// and per-point sums), for as many chunks as both have. `work_per_chunk` (multiply-adds)
/// decides whether the pool is used (see [`pieces`]).
pub(crate) fn for_each_chunk_pair<A: Send, B: Send>(
    a: &mut [A],
    a_len: usize,
    b: &mut [B],
    b_len: usize,
    work_per_chunk: usize,
    work: impl Fn(usize, &mut [A], &mut [B]) + Sync + Send,
) {
    let (a_len, b_len) = (a_len.max(1), b_len.max(1));
    #[cfg(feature = "threads")]
    {
        use rayon::prelude::*;
        let chunks = a.len().div_ceil(a_len).min(b.len().div_ceil(b_len));
        if pieces(chunks, chunks.saturating_mul(work_per_chunk)) > 1 {
            a.par_chunks_mut(a_len)
                .zip(b.par_chunks_mut(b_len))
                .enumerate()
                .for_each(|(index, (a, b))| work(index, a, b));
            return;
        }
    }
    #[cfg(not(feature = "threads"))]
    let _ = work_per_chunk;
    for (index, (a, b)) in a.chunks_mut(a_len).zip(b.chunks_mut(b_len)).enumerate() {
        work(index, a, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn small_work_stays_in_one_piece() {
        assert_eq!(pieces(1000, MIN_PARALLEL_WORK - 1), 1);
        assert_eq!(pieces(1, usize::MAX), 1);
        let many = pieces(1000, MIN_PARALLEL_WORK);
        assert_eq!(many, if threads() > 1 { threads() * 4 } else { 1 });
    }

    #[test]
    fn every_index_runs_once() {
        let counts: Vec<AtomicUsize> = (0..37).map(|_| AtomicUsize::new(0)).collect();
        for_each_index(counts.len(), |i| {
            counts[i].fetch_add(1, Ordering::Relaxed);
        });
        assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn chunk_pairs_are_cut_alike() {
        for work in [1, MIN_PARALLEL_WORK] {
            let (mut vectors, mut sums) = (vec![0.0f64; 2 * 25], vec![0.0f64; 25]);
            for_each_chunk_pair(&mut vectors, 2 * 4, &mut sums, 4, work, |index, v, s| {
                assert_eq!(v.len(), 2 * s.len());
                v.fill(index as f64);
                s.fill(-(index as f64));
            });
            assert!(
                (0..25).all(|p| vectors[2 * p] == (p / 4) as f64 && sums[p] == -((p / 4) as f64))
            );
        }
    }

    #[test]
    fn every_chunk_is_written_by_its_index_with_scratch_reused() {
        for work in [1, MIN_PARALLEL_WORK] {
            let mut out = vec![0.0f32; 103];
            let inits = AtomicUsize::new(0);
            for_each_chunk(
                &mut out,
                10,
                work,
                || {
                    inits.fetch_add(1, Ordering::Relaxed);
                    Vec::<usize>::new()
                },
                |seen, index, chunk| {
                    seen.push(index);
                    assert_eq!(chunk.len(), if index == 10 { 3 } else { 10 });
                    chunk.fill(index as f32);
                },
            );
            let want: Vec<f32> = (0..103).map(|i| (i / 10) as f32).collect();
            assert_eq!(out, want, "work {work}");
            assert!(inits.load(Ordering::Relaxed) <= 11);
        }
    }
}
