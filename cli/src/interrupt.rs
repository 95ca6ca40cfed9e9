//! Signals of a command-line process: a closed stdout pipe and Ctrl-C.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Lets a closed stdout end the process quietly, as it does `head`'s other writers. Rust
/// ignores SIGPIPE, so `fleetscan scan | head` panicked on the next write (exit 101). Network
/// sockets are unaffected: Rust's sockets write with MSG_NOSIGNAL.
pub fn quiet_broken_pipe() {
    // SAFETY: restoring a default disposition at start-up, before any thread runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_interrupt(_: libc::c_int) {
    // Only async-signal-safe work here: an atomic add, and _exit on the second Ctrl-C.
    if INTERRUPTS.fetch_add(1, Ordering::SeqCst) >= 1 {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// What the first Ctrl-C during an embedded scan does, printed when it happens.
pub const MESSAGE: &str = "interrupted: stopping the repositories in flight (within a second); \
the rest are not started and are reported as failed (cancelled); the reports are written for \
what was scanned. Press Ctrl-C again to quit at once, without reports.";

/// Makes the first Ctrl-C set the returned flag (after printing [`MESSAGE`]), which stops the
/// scan's jobs; a second one exits at once with code 130.
pub fn cancel_on_ctrl_c() -> Arc<AtomicBool> {
    let cancel = Arc::new(AtomicBool::new(false));
    // SAFETY: the handler only touches an atomic and calls _exit.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    let flag = cancel.clone();
    // The handler cannot print or take locks; this thread does that for it.
    std::thread::spawn(move || loop {
        if INTERRUPTS.load(Ordering::SeqCst) > 0 {
            eprintln!("{MESSAGE}");
            flag.store(true, Ordering::SeqCst);
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    });
    cancel
}
