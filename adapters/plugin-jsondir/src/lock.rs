//! Per-tenant restore locks, held from `restore_begin` to commit or abort.
//!
//! Two layers: a process-wide set of locked tenant files (threads of one
//! process, several plugin instances included), and on Unix an exclusive
//! `flock` on `tenant-<id>.lock` (other processes; released by the kernel
//! if the process dies). A `MutexGuard` cannot be used: the host may commit
//! from another thread than the one that began.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

use crate::store::file_stem;

struct Held {
    set: Mutex<HashSet<PathBuf>>,
    released: Condvar,
}

fn held() -> &'static Held {
    static HELD: OnceLock<Held> = OnceLock::new();
    HELD.get_or_init(|| Held {
        set: Mutex::new(HashSet::new()),
        released: Condvar::new(),
    })
}

fn lock_set() -> MutexGuard<'static, HashSet<PathBuf>> {
    // The set is only ever inserted into or removed from whole; a panic
    // elsewhere cannot leave it half-updated.
    held().set.lock().unwrap_or_else(|e| e.into_inner())
}

/// An exclusive lock on one tenant; released on drop.
#[derive(Debug)]
pub struct TenantLock {
    key: PathBuf,
    /// Keeps the `flock` (Unix) until dropped; `None` once released.
    file: Option<File>,
}

impl TenantLock {
    /// Blocks until the tenant is free in this process and in others.
    pub fn acquire(root: &Path, tenant: &str) -> io::Result<TenantLock> {
        let key = root.join(format!("{}.lock", file_stem(tenant)));
        {
            let mut set = lock_set();
            while set.contains(&key) {
                set = held().released.wait(set).unwrap_or_else(|e| e.into_inner());
            }
            set.insert(key.clone());
        }
        match open_and_flock(&key) {
            Ok(file) => Ok(TenantLock {
                key,
                file: Some(file),
            }),
            Err(e) => {
                release(&key);
                Err(e)
            }
        }
    }
}

impl TenantLock {
    /// The lock if the tenant is free now, `None` if someone holds it.
    pub fn try_acquire(root: &Path, tenant: &str) -> io::Result<Option<TenantLock>> {
        let key = root.join(format!("{}.lock", file_stem(tenant)));
        if !lock_set().insert(key.clone()) {
            return Ok(None);
        }
        match open_and_try_flock(&key) {
            Ok(Some(file)) => Ok(Some(TenantLock {
                key,
                file: Some(file),
            })),
            other => {
                release(&key);
                other.map(|_| None)
            }
        }
    }
}

impl TenantLock {
    /// The lock, or `None` if it is still held by someone else after `limit`.
    pub fn acquire_within(
        root: &Path,
        tenant: &str,
        limit: std::time::Duration,
    ) -> io::Result<Option<TenantLock>> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(lock) = TenantLock::try_acquire(root, tenant)? {
                return Ok(Some(lock));
            }
            if std::time::Instant::now() >= deadline {
                return Ok(None);
            }
            // flock has no timed wait; a restore holds the lock for
            // milliseconds, so a short poll costs little.
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

impl Drop for TenantLock {
    fn drop(&mut self) {
        // Close the file (dropping the flock) before letting the next
        // thread of this process in, so that it does not wait on flock.
        drop(self.file.take());
        release(&self.key);
    }
}

fn release(key: &Path) {
    lock_set().remove(key);
    held().released.notify_all();
}

fn open_and_flock(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    #[cfg(unix)]
    loop {
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive) {
            Ok(()) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(file)
}

/// Like [`open_and_flock`], but `None` instead of waiting.
fn open_and_try_flock(path: &Path) -> io::Result<Option<File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    #[cfg(unix)]
    loop {
        use rustix::fs::FlockOperation;
        match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn second_lock_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = TenantLock::acquire(dir.path(), "acme").unwrap();
        let got = Arc::new(AtomicBool::new(false));
        let root = dir.path().to_owned();
        let waiter = {
            let got = got.clone();
            std::thread::spawn(move || {
                let _second = TenantLock::acquire(&root, "acme").unwrap();
                got.store(true, Ordering::SeqCst);
            })
        };
        // Another tenant is independent.
        drop(TenantLock::acquire(dir.path(), "other").unwrap());
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !got.load(Ordering::SeqCst),
            "second lock taken while first held"
        );
        drop(first);
        waiter.join().unwrap();
        assert!(got.load(Ordering::SeqCst));
    }
}
