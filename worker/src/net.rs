//! The sockets libgit2 talks through, so that an attempt's budget holds in every network phase.
//!
//! libgit2 reads with one process-wide timeout (60 s by default) and only asks the transfer
//! callbacks once objects arrive, so a server that accepts and stays silent, or trickles a byte
//! now and then, held an attempt far past `--timeout`, and a cancelled job kept its slot. Its
//! stream registry lets a program supply the plain TCP stream every transport is built on
//! (git://, http://, and https:// whose TLS wraps it), so fleetscan registers its own: it
//! connects with the scan's connect timeout and reads in short slices, checking the attempt's
//! deadline, its stop flag and the scan's idle limit between slices.
//!
//! The registration is process-wide, but the limits are not: libgit2 calls the stream on the
//! thread that called it, so each fetch or probe puts its limits in a thread-local for its
//! duration ([`enter`]), and two scans with different settings in one process each get theirs.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::io::{ErrorKind, Read, Write};
use std::marker::PhantomData;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::error::{Kind, RepoError};
use crate::git::{Budget, GitOptions};

/// How long one blocking read or write may wait before the limits are checked again: how
/// quickly a cancel or a deadline is noticed.
const SLICE: Duration = Duration::from_millis(200);

/// The limits of the network calls made on this thread, while a [`Guard`] lives.
#[derive(Clone, Copy)]
struct Limits {
    connect_timeout: Duration,
    io_timeout: Duration,
    deadline: Instant,
    // Valid while the guard lives: the guard borrows the flag for its lifetime.
    stop: *const AtomicBool,
}

impl Limits {
    fn stopped(&self) -> bool {
        // SAFETY: `stop` outlives the guard that installed these limits, and the limits are
        // only read while it is installed.
        unsafe { (*self.stop).load(Ordering::Relaxed) }
    }
}

thread_local! {
    static LIMITS: Cell<Option<Limits>> = const { Cell::new(None) };
    static PHASE: Cell<&'static str> = const { Cell::new("connecting") };
    static ABORT: RefCell<Option<RepoError>> = const { RefCell::new(None) };
}

/// Installs the limits of one probe or fetch on this thread until dropped.
pub struct Guard<'a> {
    previous: Option<Limits>,
    _stop: PhantomData<&'a AtomicBool>,
}

/// Makes libgit2 on this thread honour `budget` and `opts` until the guard is dropped;
/// `phase` names what the reads are for in a failure's reason ("listing refs").
pub fn enter<'a>(opts: &GitOptions, budget: Budget<'a>, phase: &'static str) -> Guard<'a> {
    register();
    let limits = Limits {
        connect_timeout: opts.connect_timeout,
        io_timeout: opts.io_timeout,
        deadline: budget.deadline,
        stop: budget.stop as *const AtomicBool,
    };
    ABORT.with(|a| a.borrow_mut().take());
    set_phase(phase);
    Guard {
        previous: LIMITS.with(|l| l.replace(Some(limits))),
        _stop: PhantomData,
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        LIMITS.with(|l| l.set(self.previous));
    }
}

/// Names the phase that later reads on this thread belong to.
pub fn set_phase(phase: &'static str) {
    PHASE.with(|p| p.set(phase));
}

/// The error that made the stream give up, if it did: the caller reports it instead of
/// libgit2's rewording of it.
pub fn take_abort() -> Option<RepoError> {
    ABORT.with(|a| a.borrow_mut().take())
}

/// For libgit2's progress callbacks: false (stop) once `budget` is over, with the reason
/// recorded for [`take_abort`].
pub fn keep_going(budget: Budget<'_>) -> bool {
    if !budget.over() {
        return true;
    }
    let limits = Limits {
        stop: budget.stop as *const AtomicBool,
        deadline: budget.deadline,
        ..current()
    };
    if let Err(e) = check(&limits, PHASE.with(Cell::get)) {
        ABORT.with(|a| *a.borrow_mut() = Some(e));
    }
    false
}

fn current() -> Limits {
    LIMITS.with(Cell::get).unwrap_or_else(|| {
        static NEVER: AtomicBool = AtomicBool::new(false);
        let d = GitOptions::default();
        Limits {
            connect_timeout: d.connect_timeout,
            io_timeout: d.io_timeout,
            deadline: Instant::now() + Duration::from_secs(86_400),
            stop: &NEVER,
        }
    })
}

/// Why the stream stops waiting, if it must: a stop request or the attempt's deadline.
fn check(limits: &Limits, phase: &str) -> Result<(), RepoError> {
    if limits.stopped() {
        return Err(RepoError::new(
            Kind::Cancelled,
            format!("stopped while {phase}: the scan was cancelled or the job's lease was lost"),
        ));
    }
    if Instant::now() >= limits.deadline {
        return Err(RepoError::new(
            Kind::Timeout,
            format!("timed out while {phase}: the attempt's --timeout ran out"),
        ));
    }
    Ok(())
}

/// One connection, laid out so that libgit2 sees the `git_stream` at its start.
#[repr(C)]
struct Stream {
    raw: RawStream,
    host: String,
    port: String,
    tcp: Option<TcpStream>,
    /// Set on a git:// connection until its ref advertisement has been read.
    advert: Option<Advert>,
    /// Whether anything was written yet: the first write tells git:// from http://.
    written: bool,
}

impl Stream {
    fn connect(&mut self) -> Result<(), RepoError> {
        let limits = current();
        let phase = format!("connecting to {}", self.host);
        let unreachable = |why: &dyn std::fmt::Display| {
            RepoError::new(
                Kind::Unreachable,
                format!(
                    "unreachable (connect: failed to connect to {}: {why})",
                    self.host
                ),
            )
        };
        let port: u16 = self
            .port
            .parse()
            .map_err(|_| unreachable(&format!("invalid port {:?}", self.port)))?;
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let addrs = (host, port)
            .to_socket_addrs()
            .map_err(|e| unreachable(&format!("failed to resolve: {}", os_text(&e))))?;
        let mut last = None;
        for addr in addrs {
            check(&limits, &phase)?;
            let left = limits.deadline.saturating_duration_since(Instant::now());
            let wait = limits
                .connect_timeout
                .min(left)
                .max(Duration::from_millis(1));
            match TcpStream::connect_timeout(&addr, wait) {
                Ok(tcp) => {
                    let _ = tcp.set_nodelay(true);
                    self.tcp = Some(tcp);
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::TimedOut => {
                    check(&limits, &phase)?;
                    last = Some(RepoError::new(
                        Kind::Timeout,
                        format!(
                            "timed out while {phase}: no connection within --connect-timeout {}s",
                            limits.connect_timeout.as_secs_f64()
                        ),
                    ));
                }
                Err(e) => last = Some(unreachable(&os_text(&e))),
            }
        }
        Err(last.unwrap_or_else(|| unreachable(&"no address")))
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, RepoError> {
        while let Some(advert) = self.advert.as_mut() {
            if !advert.out.is_empty() {
                let n = buf.len().min(advert.out.len());
                buf[..n].copy_from_slice(&advert.out[..n]);
                advert.out.drain(..n);
                return Ok(n);
            }
            if advert.done {
                self.advert = None;
                break;
            }
            let mut chunk = [0u8; 8192];
            let n = self.wait(|tcp| tcp.read(&mut chunk), "read")?;
            let advert = self.advert.as_mut().expect("still filtering");
            advert.push(&chunk[..n]);
            if n == 0 && advert.out.is_empty() {
                return Ok(0);
            }
        }
        self.wait(|tcp| tcp.read(buf), "read")
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize, RepoError> {
        if !self.written {
            self.written = true;
            // A git:// request: `XXXXgit-upload-pack /path\0host=...\0`.
            if buf.len() > 4 && buf[4..].starts_with(b"git-upload-pack ") {
                self.advert = Some(Advert::default());
            }
        }
        self.wait(|tcp| tcp.write(buf), "write")
    }

    /// Runs one read or write in short slices until it makes progress, the budget runs out,
    /// a stop is requested, or the server has been idle for the scan's idle limit.
    fn wait(
        &mut self,
        mut op: impl FnMut(&mut TcpStream) -> std::io::Result<usize>,
        what: &str,
    ) -> Result<usize, RepoError> {
        let limits = current();
        let phase = PHASE.with(Cell::get);
        let host = self.host.clone();
        let Some(tcp) = self.tcp.as_mut() else {
            return Err(RepoError::new(
                Kind::Unreachable,
                format!("unreachable ({phase}: not connected to {host})"),
            ));
        };
        let idle_since = Instant::now();
        loop {
            check(&limits, phase)?;
            let idle = idle_since.elapsed();
            if idle >= limits.io_timeout {
                return Err(RepoError::new(
                    Kind::Timeout,
                    format!(
                        "timed out while {phase}: {host} sent nothing for {}s",
                        limits.io_timeout.as_secs()
                    ),
                ));
            }
            let slice = SLICE
                .min(limits.io_timeout - idle)
                .min(limits.deadline.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(1));
            let _ = tcp.set_read_timeout(Some(slice));
            let _ = tcp.set_write_timeout(Some(slice));
            match op(tcp) {
                Ok(n) => return Ok(n),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    return Err(RepoError::new(
                        Kind::Unreachable,
                        format!(
                        "unreachable ({phase}: {what} from {host} failed: connection error: {e})"
                    ),
                    ))
                }
            }
        }
    }
}

/// An I/O error as the C library words it, without Rust's "(os error N)".
fn os_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The ref advertisement of a git:// server, with its `shallow` lines taken out.
///
/// A server whose own repository is shallow (a mirror made from depth-1 clones) lists its
/// shallow commits after the refs; libgit2 does not expect them there and fails with "invalid
/// packet line", where `git clone --depth 1` works. The lines only tell a client which commits
/// have no parents on the server; a depth-1 fetch learns that again from the server's
/// shallow-update reply, so dropping them changes nothing else.
#[derive(Default)]
struct Advert {
    /// Bytes read but not yet a whole pkt-line.
    pending: Vec<u8>,
    /// Filtered bytes for libgit2.
    out: Vec<u8>,
    /// The advertisement ended (flush packet, or something that is not pkt-lines): pass the
    /// rest through untouched.
    done: bool,
}

impl Advert {
    fn push(&mut self, bytes: &[u8]) {
        if self.done {
            self.out.extend_from_slice(bytes);
            return;
        }
        if bytes.is_empty() {
            self.out.append(&mut self.pending);
            self.done = true;
            return;
        }
        self.pending.extend_from_slice(bytes);
        while !self.done && self.pending.len() >= 4 {
            let len = std::str::from_utf8(&self.pending[..4])
                .ok()
                .and_then(|h| usize::from_str_radix(h, 16).ok());
            match len {
                Some(len) if len >= 4 => {
                    if self.pending.len() < len {
                        return;
                    }
                    let line: Vec<u8> = self.pending.drain(..len).collect();
                    if !line[4..].starts_with(b"shallow ") {
                        self.out.extend_from_slice(&line);
                    }
                }
                // A flush packet ends the advertisement; anything else is not ours to judge.
                _ => {
                    self.out.append(&mut self.pending);
                    self.done = true;
                }
            }
        }
    }
}

// The C side: libgit2's `git_stream` (include/git2/sys/stream.h, stream version 1).

#[repr(C)]
struct RawStream {
    version: c_int,
    // The bit fields `encrypted : 1, proxy_support : 1`: both 0.
    flags: c_uint,
    timeout: c_int,
    connect_timeout: c_int,
    connect: Option<unsafe extern "C" fn(*mut RawStream) -> c_int>,
    certificate: Option<unsafe extern "C" fn(*mut *mut c_void, *mut RawStream) -> c_int>,
    set_proxy: Option<unsafe extern "C" fn(*mut RawStream, *const c_void) -> c_int>,
    read: Option<unsafe extern "C" fn(*mut RawStream, *mut c_void, usize) -> isize>,
    write: Option<unsafe extern "C" fn(*mut RawStream, *const c_char, usize, c_int) -> isize>,
    close: Option<unsafe extern "C" fn(*mut RawStream) -> c_int>,
    free: Option<unsafe extern "C" fn(*mut RawStream)>,
}

#[repr(C)]
struct Registration {
    version: c_int,
    init: Option<unsafe extern "C" fn(*mut *mut RawStream, *const c_char, *const c_char) -> c_int>,
    wrap: Option<unsafe extern "C" fn(*mut *mut RawStream, *mut RawStream, *const c_char) -> c_int>,
}

const GIT_STREAM_VERSION: c_int = 1;
const GIT_STREAM_STANDARD: c_int = 1;

extern "C" {
    fn git_stream_register(kind: c_int, registration: *mut Registration) -> c_int;
}

/// Registers the stream with libgit2, once per process.
fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        libgit2_sys::init();
        let mut reg = Registration {
            version: GIT_STREAM_VERSION,
            init: Some(stream_init),
            wrap: None,
        };
        // SAFETY: libgit2 is initialised and copies the registration.
        let rc = unsafe { git_stream_register(GIT_STREAM_STANDARD, &mut reg) };
        assert_eq!(rc, 0, "libgit2 refused the stream registration");
    });
}

/// Records `e` for [`take_abort`] and as libgit2's error; returns -1.
fn fail(e: RepoError) -> c_int {
    let msg = CString::new(e.message.replace('\0', " ")).unwrap_or_default();
    // SAFETY: a valid C string; libgit2 copies it.
    unsafe { libgit2_sys::git_error_set_str(libgit2_sys::GIT_ERROR_NET as c_int, msg.as_ptr()) };
    ABORT.with(|a| *a.borrow_mut() = Some(e));
    -1
}

/// Runs `f` on the stream behind `raw`, never unwinding into C.
fn with_stream<T>(raw: *mut RawStream, on_panic: T, f: impl FnOnce(&mut Stream) -> T) -> T {
    // SAFETY: libgit2 only hands back streams made by `stream_init`, whose `RawStream` is the
    // first field of a `Stream`.
    let stream = unsafe { &mut *(raw as *mut Stream) };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(stream))).unwrap_or(on_panic)
}

unsafe extern "C" fn stream_init(
    out: *mut *mut RawStream,
    host: *const c_char,
    port: *const c_char,
) -> c_int {
    let text = |p: *const c_char| {
        if p.is_null() {
            String::new()
        } else {
            // SAFETY: libgit2 passes NUL-terminated strings.
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    };
    let stream = Box::new(Stream {
        raw: RawStream {
            version: GIT_STREAM_VERSION,
            flags: 0,
            timeout: 0,
            connect_timeout: 0,
            connect: Some(stream_connect),
            certificate: None,
            set_proxy: None,
            read: Some(stream_read),
            write: Some(stream_write),
            close: Some(stream_close),
            free: Some(stream_free),
        },
        host: text(host),
        port: text(port),
        tcp: None,
        advert: None,
        written: false,
    });
    // SAFETY: `out` is a valid pointer given by libgit2.
    unsafe { *out = Box::into_raw(stream) as *mut RawStream };
    0
}

unsafe extern "C" fn stream_connect(raw: *mut RawStream) -> c_int {
    with_stream(raw, -1, |s| s.connect().map_or_else(fail, |()| 0))
}

unsafe extern "C" fn stream_read(raw: *mut RawStream, data: *mut c_void, len: usize) -> isize {
    with_stream(raw, -1, |s| {
        // SAFETY: libgit2 gives a writable buffer of `len` bytes.
        let buf = unsafe { std::slice::from_raw_parts_mut(data as *mut u8, len) };
        s.read(buf)
            .map_or_else(|e| fail(e) as isize, |n| n as isize)
    })
}

unsafe extern "C" fn stream_write(
    raw: *mut RawStream,
    data: *const c_char,
    len: usize,
    _flags: c_int,
) -> isize {
    with_stream(raw, -1, |s| {
        // SAFETY: libgit2 gives a readable buffer of `len` bytes.
        let buf = unsafe { std::slice::from_raw_parts(data as *const u8, len) };
        s.write(buf)
            .map_or_else(|e| fail(e) as isize, |n| n as isize)
    })
}

unsafe extern "C" fn stream_close(raw: *mut RawStream) -> c_int {
    with_stream(raw, 0, |s| {
        s.tcp.take();
        0
    })
}

unsafe extern "C" fn stream_free(raw: *mut RawStream) {
    if !raw.is_null() {
        // SAFETY: made by `Box::into_raw` in `stream_init`, freed once by libgit2.
        drop(unsafe { Box::from_raw(raw as *mut Stream) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shallow_lines_leave_the_advertisement_and_nothing_else_does() {
        let advert = b"003f1111111111111111111111111111111111111111 refs/heads/master\n\
            0035shallow 1111111111111111111111111111111111111111\n0000PACKrest";
        // Fed in awkward pieces, as a socket delivers them.
        let mut a = Advert::default();
        for piece in advert.chunks(7) {
            a.push(piece);
        }
        assert!(a.done);
        let want = b"003f1111111111111111111111111111111111111111 refs/heads/master\n0000PACKrest";
        assert_eq!(
            String::from_utf8_lossy(&a.out),
            String::from_utf8_lossy(want)
        );
    }
}
