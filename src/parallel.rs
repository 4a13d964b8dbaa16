//! Work spread over threads in the threaded build, run in order in the single-thread one.
//!
//! With the `threads` feature (the threaded wasm build, `pkg/threads/`, whose pool of Web
//! Workers wasm-bindgen-rayon starts; natively rayon's own pool) the pieces of a loop are shared
//! between the calling thread and rayon's pool (see `pool` below for why the caller takes part);
//! without it they run one after the other on the calling thread, so the
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
//! so `for_each_index`, which only the sgemm calls, is compiled there for its tests alone.

/// Multiply-adds below which a loop runs on the calling thread (about 0.1 ms of one thread's
/// SIMD work; a round trip through the pool's workers costs tens of microseconds).
pub(crate) const MIN_PARALLEL_WORK: usize = 1 << 18;

/// Threads the loops may use: with `threads`, the pool's workers and the calling thread when it
/// is not one of them (it takes pieces too, see [`pool::share`]); otherwise 1.
pub(crate) fn threads() -> usize {
    #[cfg(feature = "threads")]
    {
        pool::threads()
    }
    #[cfg(not(feature = "threads"))]
    {
        1
    }
}

/// How many pieces a loop of `units` independent units and `work` multiply-adds in all is
/// split into: 1 on one thread or below [`MIN_PARALLEL_WORK`], else up to four per thread (so
/// that a slow worker does not hold the rest), never more than `units`.
pub(crate) fn pieces(units: usize, work: usize) -> usize {
    let threads = threads();
    if threads <= 1 || work < MIN_PARALLEL_WORK {
        1
    } else {
        (threads * 4).min(units).max(1)
    }
}

/// Calls `piece(index)` for every `index` in `0..count`, shared between the calling thread and
/// the pool with `threads` (in any order, all done on return), in order otherwise. (The
/// sgemm's split; natively the products are matrixmultiply's, so only the tests use it there.)
#[cfg(any(target_arch = "wasm32", test))]
pub(crate) fn for_each_index(count: usize, piece: impl Fn(usize) + Sync + Send) {
    #[cfg(feature = "threads")]
    if count > 1 {
        return pool::share(count, || (), |(), index| piece(index));
    }
    (0..count).for_each(piece)
}

/// Calls `work(scratch, index, chunk)` for each `chunk_len`-long chunk of `out` (the last may be
/// shorter) and its index; `scratch` comes from `init`, once per thread that takes part (once
/// in all without threads), for buffers a chunk may reuse. `work_per_chunk` (multiply-adds)
/// decides whether the pool is used (see [`pieces`]).
pub(crate) fn for_each_chunk<T: Send, S: Send + 'static>(
    out: &mut [T],
    chunk_len: usize,
    work_per_chunk: usize,
    init: impl Fn() -> S + Sync + Send,
    work: impl Fn(&mut S, usize, &mut [T]) + Sync + Send,
) {
    let chunk_len = chunk_len.max(1);
    #[cfg(feature = "threads")]
    {
        let chunks = out.len().div_ceil(chunk_len);
        if pieces(chunks, chunks.saturating_mul(work_per_chunk)) > 1 {
            let out = pool::Disjoint::new(out);
            return pool::share(chunks, init, |scratch, index| {
                // SAFETY: `share` hands each index to one thread once, and the chunks of
                // different indices do not overlap.
                work(scratch, index, unsafe { out.chunk(index, chunk_len) })
            });
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
        let chunks = a.len().div_ceil(a_len).min(b.len().div_ceil(b_len));
        if pieces(chunks, chunks.saturating_mul(work_per_chunk)) > 1 {
            let (a, b) = (pool::Disjoint::new(a), pool::Disjoint::new(b));
            return pool::share(
                chunks,
                || (),
                |(), index| {
                    // SAFETY: as in `for_each_chunk`, for each of the two outputs.
                    unsafe { work(index, a.chunk(index, a_len), b.chunk(index, b_len)) }
                },
            );
        }
    }
    #[cfg(not(feature = "threads"))]
    let _ = work_per_chunk;
    for (index, (a, b)) in a.chunks_mut(a_len).zip(b.chunks_mut(b_len)).enumerate() {
        work(index, a, b);
    }
}

/// The threaded build's sharing of a loop between the calling thread and rayon's pool.
///
/// The calling thread takes pieces like the workers rather than waiting for them: in a browser
/// the main thread may not block, so rayon (its `web_spin_lock`, which wasm-bindgen-rayon turns
/// on) spins there while it waits, and a spinning caller keeps one of the cores from the
/// workers. Measured in Chromium 156 on this 2-core machine (ResNet-18, 224×224, batch 1):
/// with the whole loop handed to 2 workers, 82 ms called from the page and 49 ms called from a
/// Web Worker (which can block), against 82 ms on one thread; with the caller taking pieces,
/// 46 ms from the page.
///
/// Pieces are taken from a shared counter, and the caller waits only for the pieces taken, not
/// for the workers: a worker that arrives late finds nothing left, instead of holding the
/// caller until it has run.
///
/// A loop started on a thread outside the pool (the page's) is *offered*: a worker that has
/// just finished a loop lingers a little (about a hundred microseconds in wasm) for the next
/// offer and takes its pieces at once, so the back-to-back loops of a forward pass neither wait
/// for a worker to wake nor pay for waking it (on the Intel Xeon, waking the worker took 5% of
/// the page's thread in SqueezeNet 1.1's threaded pass, and the worker arrived late enough to
/// run only a fraction of each product). Only when no worker lingers does the caller spawn
/// rayon jobs that join the offered loop, then linger in turn. Workers then sleep as rayon's
/// do, so a page that stops computing has no thread spinning. (Workers spinning without end
/// between loops were measured on the AMD EPYC: no consistent gain, and they slowed
/// onnxruntime-web's threads running after them in the same page.) A loop started inside a
/// piece, or on a worker, is shared by rayon jobs that own its counters (an `Arc`).
#[cfg(feature = "threads")]
mod pool {
    use std::cell::Cell;
    use std::hint::spin_loop;
    use std::marker::PhantomData;
    use std::ptr::null_mut;
    use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
    use std::sync::Arc;

    /// The pool's workers, and the calling thread when it is not one of them.
    pub(super) fn threads() -> usize {
        rayon::current_num_threads() + usize::from(rayon::current_thread_index().is_none())
    }

    /// The counters of one loop.
    struct Counters {
        /// The next piece not yet taken (past `count` once all are).
        next: AtomicUsize,
        /// Pieces finished.
        done: AtomicUsize,
        count: usize,
    }

    impl Counters {
        fn new(count: usize) -> Self {
            Counters {
                next: AtomicUsize::new(0),
                done: AtomicUsize::new(0),
                count,
            }
        }

        /// The next piece to run, if any is left.
        fn take(&self) -> Option<usize> {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            (index < self.count).then_some(index)
        }

        /// Runs `body` on every piece this thread can take, with one scratch for them all.
        fn run<S>(&self, body: &(dyn Fn(&mut Option<S>, usize) + Sync)) {
            let mut scratch = None;
            while let Some(index) = self.take() {
                body(&mut scratch, index);
                self.done.fetch_add(1, Ordering::Release);
            }
        }

        /// Waits for the pieces other threads took (a short spin, at most one piece long).
        fn wait(&self) {
            while self.done.load(Ordering::Acquire) < self.count {
                spin_loop();
            }
        }
    }

    /// A loop body whose borrow has been erased so that a worker's job (`'static`) can hold it.
    struct Body<S>(*const (dyn Fn(&mut Option<S>, usize) + Sync));

    // SAFETY: the body is `Sync`, and a job calls it only for a piece it took, which the loop's
    // caller waits for before the body's borrow ends (see `share`).
    unsafe impl<S> Send for Body<S> {}

    /// An offered loop, on its caller's stack: its counters, and its body with the scratch type
    /// erased (`run` restores it).
    struct Offer {
        counters: Counters,
        body: *const (),
        run: unsafe fn(*const (), &Counters),
    }

    /// The loop on offer (null when none), how many loops have been offered, the workers inside
    /// an offered loop, and the workers lingering or about to (spawned, not yet started).
    static OFFERED: AtomicPtr<Offer> = AtomicPtr::new(null_mut());
    static OFFERS: AtomicUsize = AtomicUsize::new(0);
    static INSIDE: AtomicUsize = AtomicUsize::new(0);
    static AVAILABLE: AtomicUsize = AtomicUsize::new(0);

    /// Checks for an offer a lingering worker makes before it goes back to rayon's pool: about
    /// a hundred microseconds of atomic loads in wasm; natively each check also pauses.
    #[cfg(target_arch = "wasm32")]
    const LINGER_CHECKS: usize = 1 << 16;
    #[cfg(not(target_arch = "wasm32"))]
    const LINGER_CHECKS: usize = 1 << 8;

    thread_local! {
        /// Whether this thread is running an offered loop of its own.
        static OFFERING: Cell<bool> = const { Cell::new(false) };
    }

    /// [`Counters::run`] over an erased body of scratch type `S`.
    ///
    /// # Safety
    /// `body` points to a live `&(dyn Fn(&mut Option<S>, usize) + Sync)`.
    unsafe fn run_erased<S>(body: *const (), counters: &Counters) {
        // SAFETY: as the caller promises.
        let body = unsafe { *(body as *const &(dyn Fn(&mut Option<S>, usize) + Sync)) };
        counters.run(body);
    }

    /// Runs `piece(scratch, index)` once for every `index` in `0..count`, in any order: the
    /// calling thread and up to `count - 1` of the pool's workers each take the next piece not
    /// yet taken until none is left; each thread makes its `scratch` with `init` before its
    /// first piece. Returns when every piece is done.
    pub(super) fn share<S: Send + 'static>(
        count: usize,
        init: impl Fn() -> S + Sync,
        piece: impl Fn(&mut S, usize) + Sync,
    ) {
        let body = move |scratch: &mut Option<S>, index: usize| {
            piece(scratch.get_or_insert_with(&init), index)
        };
        let body: &(dyn Fn(&mut Option<S>, usize) + Sync) = &body;
        let helpers = (threads() - 1).min(count.saturating_sub(1));
        if rayon::current_thread_index().is_some() || OFFERING.get() {
            return share_by_spawning(count, body, helpers);
        }
        OFFERING.set(true);
        let offer = Offer {
            counters: Counters::new(count),
            body: &body as *const &(dyn Fn(&mut Option<S>, usize) + Sync) as *const (),
            run: run_erased::<S>,
        };
        let offered = &offer as *const Offer as *mut Offer;
        OFFERED.store(offered, Ordering::SeqCst);
        OFFERS.fetch_add(1, Ordering::SeqCst);
        for _ in AVAILABLE.load(Ordering::SeqCst).min(helpers)..helpers {
            AVAILABLE.fetch_add(1, Ordering::SeqCst);
            rayon::spawn(help);
        }
        let _withdraw = Withdraw(offered);
        offer.counters.run(body);
        offer.counters.wait();
    }

    /// Withdraws an offer when its caller leaves `share` (returning or unwinding), then waits
    /// for the workers that entered it to leave: after that none can reach it (see `help`).
    struct Withdraw(*mut Offer);

    impl Drop for Withdraw {
        fn drop(&mut self) {
            let _ =
                OFFERED.compare_exchange(self.0, null_mut(), Ordering::SeqCst, Ordering::SeqCst);
            while INSIDE.load(Ordering::SeqCst) > 0 {
                spin_loop();
            }
            OFFERING.set(false);
        }
    }

    /// A worker's part in the offered loops: it runs the pieces it can take of each loop
    /// offered after the last one it joined, until no new loop has been offered for
    /// [`LINGER_CHECKS`] checks, then returns to rayon's pool.
    fn help() {
        let mut joined = None;
        let mut idle = 0;
        while idle < LINGER_CHECKS {
            let offers = OFFERS.load(Ordering::SeqCst);
            let offered = OFFERED.load(Ordering::SeqCst);
            if offered.is_null() || joined == Some(offers) {
                idle += 1;
                spin_loop();
                continue;
            }
            // Enter, then check the loop is still on offer: its caller withdraws it before it
            // waits for `INSIDE` to fall to zero, so it cannot return while this worker is in.
            INSIDE.fetch_add(1, Ordering::SeqCst);
            if OFFERED.load(Ordering::SeqCst) == offered {
                AVAILABLE.fetch_sub(1, Ordering::SeqCst);
                // SAFETY: the offer is live (above), and its body is the caller's, erased with
                // its own `run`.
                unsafe {
                    let offer = &*offered;
                    (offer.run)(offer.body, &offer.counters);
                }
                AVAILABLE.fetch_add(1, Ordering::SeqCst);
                idle = 0;
            }
            INSIDE.fetch_sub(1, Ordering::SeqCst);
            joined = Some(offers);
        }
        AVAILABLE.fetch_sub(1, Ordering::SeqCst);
    }

    /// [`share`] for a loop started on a worker or inside a piece: `helpers` rayon jobs own the
    /// counters and take pieces with the caller.
    fn share_by_spawning<S: Send + 'static>(
        count: usize,
        body: &(dyn Fn(&mut Option<S>, usize) + Sync),
        helpers: usize,
    ) {
        let counters = Arc::new(Counters::new(count));
        // SAFETY: only the lifetime is erased; see `Body`.
        let erased: *const (dyn Fn(&mut Option<S>, usize) + Sync + 'static) =
            unsafe { std::mem::transmute(body as *const _) };
        for _ in 0..helpers {
            let (counters, body) = (Arc::clone(&counters), Body(erased));
            rayon::spawn(move || {
                let body = body;
                // SAFETY: a piece taken and not yet counted done keeps the caller in `share`,
                // so `body` still borrows live data.
                counters.run(unsafe { &*body.0 });
            });
        }
        counters.run(body);
        counters.wait();
    }

    /// A slice whose chunks several threads write, each a different one.
    pub(super) struct Disjoint<'a, T> {
        start: *mut T,
        len: usize,
        borrow: PhantomData<&'a mut [T]>,
    }

    // SAFETY: a `Disjoint` only gives out chunks through `chunk`, whose callers promise that no
    // two threads hold the same chunk; `T: Send` lets a chunk be written on another thread.
    unsafe impl<T: Send> Sync for Disjoint<'_, T> {}

    impl<'a, T> Disjoint<'a, T> {
        pub(super) fn new(slice: &'a mut [T]) -> Self {
            Disjoint {
                start: slice.as_mut_ptr(),
                len: slice.len(),
                borrow: PhantomData,
            }
        }

        /// Chunk `index` of `chunk_len` elements (the last may be shorter; empty past the end).
        ///
        /// # Safety
        /// No other reference to this chunk may exist while the returned one lives.
        #[allow(clippy::mut_from_ref)]
        pub(super) unsafe fn chunk(&self, index: usize, chunk_len: usize) -> &mut [T] {
            let start = (index * chunk_len).min(self.len);
            let end = (start + chunk_len).min(self.len);
            // SAFETY: `start..end` lies in the borrowed slice; the caller keeps chunks exclusive.
            unsafe { std::slice::from_raw_parts_mut(self.start.add(start), end - start) }
        }
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
    fn loops_one_after_another_and_inside_a_piece_each_run_every_piece_once() {
        // Many short loops in a row (workers that wake late must not take a piece of a later
        // loop twice or hold a finished one), and loops started inside a piece (they run on
        // that thread alone while the outer loop is shared).
        for round in 0..200 {
            let count = 2 + round % 17;
            let mut out = vec![0usize; count * 3];
            for_each_chunk(
                &mut out,
                3,
                MIN_PARALLEL_WORK,
                || (),
                |(), index, chunk| {
                    let inner: Vec<AtomicUsize> = (0..5).map(|_| AtomicUsize::new(0)).collect();
                    for_each_index(inner.len(), |i| {
                        inner[i].fetch_add(i + 1, Ordering::Relaxed);
                    });
                    let sum: usize = inner.iter().map(|c| c.load(Ordering::Relaxed)).sum();
                    chunk.fill(index * 100 + sum);
                },
            );
            let want: Vec<usize> = (0..count * 3).map(|i| (i / 3) * 100 + 15).collect();
            assert_eq!(out, want, "round {round}");
        }
    }

    /// Loops offered from several threads outside the pool at once (each withdraws only its
    /// own offer and waits for the workers inside any) each run every piece once, with
    /// lingering workers joining whichever loop is on offer.
    #[test]
    fn loops_offered_from_several_threads_at_once_each_run_every_piece_once() {
        std::thread::scope(|scope| {
            for caller in 0..3 {
                scope.spawn(move || {
                    for round in 0..300 {
                        let count = 2 + (round + caller) % 23;
                        let counts: Vec<AtomicUsize> =
                            (0..count).map(|_| AtomicUsize::new(0)).collect();
                        for_each_index(count, |i| {
                            counts[i].fetch_add(1, Ordering::Relaxed);
                        });
                        assert!(
                            counts.iter().all(|c| c.load(Ordering::Relaxed) == 1),
                            "caller {caller}, round {round}"
                        );
                    }
                });
            }
        });
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
