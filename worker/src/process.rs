//! libgit2 settings that belong to the whole process, set once at start-up by each binary
//! (`fleetscan`, `fleetscan-worker`) before any thread exists. Limits that belong to a scan do
//! not go here.

use std::path::PathBuf;
use std::sync::{Once, OnceLock};

/// The CA bundle that OpenSSL would have loaded at libgit2's start-up, kept for the first
/// https URL. `None` when there is nothing to load later (the bundle was left in place, or
/// none was found).
static CA_BUNDLE: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Stands in for the CA bundle at start-up: an empty file that OpenSSL reads in no time.
const EMPTY_BUNDLE: &str = "/dev/null";

/// Applies the process-wide settings. Call it first thing in `main`, while the process has a
/// single thread: it may set an environment variable. Calling it again does nothing.
///
/// - Blobs are not hashed again when read. A fetched pack is verified object by object when
///   libgit2 indexes it, and the cache is written only by fleetscan, so hashing every blob
///   again on each scan (libgit2's collision-detecting SHA-1, a third of the scan's CPU) finds
///   nothing new. A damaged pack still fails to inflate and is fetched again.
/// - The CA bundle is not loaded at libgit2's start-up but on first use of an https URL
///   ([`use_url`]): OpenSSL parses the whole bundle when libgit2 starts, about 20 ms per
///   process, which is a quarter of a warm re-run over `git://`.
/// - glibc's allocator gets at most one arena per CPU ([`limit_arenas`]).
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        limit_arenas();
        defer_ca_bundle();
        git2::opts::strict_hash_verification(false);
    });
}

/// glibc gives threads that allocate at the same time arenas of their own, up to 8 per CPU,
/// and keeps what each arena once held. The scan's network and CPU threads made 54 MiB of a
/// 183 MiB peak on 318 real repositories (129 MiB with `MALLOC_ARENA_MAX=2`,
/// `tests/bench/fleet-real.sh`); one arena per CPU keeps the threads that run at once apart.
/// A `MALLOC_ARENA_MAX` set by the user wins.
fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cpus = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .max(2);
        // SAFETY: mallopt only sets an allocator parameter; called before other threads exist.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, cpus.min(i32::MAX as usize) as i32);
        }
    }
}

/// Loads the CA bundle the first time an https URL is about to be used. Cheap for every other
/// URL and after the first call.
pub fn use_url(url: &str) {
    static LOADED: Once = Once::new();
    if !is_https(url) {
        return;
    }
    LOADED.call_once(|| {
        let Some(Some(bundle)) = CA_BUNDLE.get() else {
            return;
        };
        // SAFETY: libgit2 adds the file to its TLS context's trust store; `Once` keeps two
        // threads from doing it at the same time, and no https connection is open before.
        if let Err(e) = unsafe { git2::opts::set_ssl_cert_file(bundle) } {
            tracing::warn!(bundle = %bundle.display(), error = %e, "cannot load the CA bundle");
        }
    });
}

fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

/// Points OpenSSL's start-up at an empty bundle and remembers the real one. The certificate
/// directory is left alone: OpenSSL looks in it only when verifying a certificate. Only where
/// libgit2 uses OpenSSL (macOS and Windows use the system's TLS).
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn defer_ca_bundle() {
    let _ = CA_BUNDLE.set(None);
}

#[cfg(all(unix, not(target_os = "macos")))]
fn defer_ca_bundle() {
    let bundle = openssl_probe::probe().cert_file;
    if bundle.is_some() {
        // Before any thread exists (see `init`), so nothing reads the environment meanwhile.
        std::env::set_var("SSL_CERT_FILE", EMPTY_BUNDLE);
    }
    let _ = CA_BUNDLE.set(bundle);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_urls_need_the_bundle() {
        assert!(is_https("https://opendev.org/openstack/nova"));
        assert!(is_https("HTTPS://h/x"));
        for url in [
            "git://h/x",
            "http://h/x",
            "/srv/https://x",
            "https:/",
            "",
            "ssh://h/x",
        ] {
            assert!(!is_https(url), "{url}");
        }
    }
}
