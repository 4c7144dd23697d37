//! The lock, decided here and never by the page: an idle timer on the wall clock, and a
//! lock at the first second after the system slept.
//!
//! - **Idle.** The page reports the person's activity through the `touch` command (at most
//!   every few seconds, on input events); unlocking counts too. A watcher thread looks
//!   every second at how long ago the last activity was, by the wall clock (so time spent
//!   asleep counts) and by the monotonic clock (so a wall clock set back does not put the
//!   lock off), whichever is longer. A reloaded page, or one whose timers stalled, changes
//!   nothing: the backend locks all the same.
//! - **Suspend.** The wall clock goes on while the machine sleeps; the monotonic clock
//!   (`Instant`: `CLOCK_MONOTONIC` on Linux, `mach_absolute_time` on macOS) does not. A
//!   tick that finds the wall clock gone [`SUSPEND_GAP`] further than the monotonic clock
//!   locks at once, before the idle delay. logind's `PrepareForSleep` signal would lock
//!   before the machine sleeps rather than at resume, but listening to it over D-Bus needs
//!   `zbus`, a heavy dependency this app does not otherwise have, so it is not used.
//!   Windows' `QueryPerformanceCounter` keeps counting in sleep: there, a sleep longer than
//!   the idle delay locks by the idle timer at resume.
//! - **Locking** ([`lock_vault`]) cancels a running sync (its requests and its pauses
//!   between retries are abandoned within 50 ms, see `casefile`'s client), waits for it to
//!   let go of the case file, then closes the case file: SQLCipher wipes the key with the
//!   connection. The `Locked` event tells the page, which shows the unlock screen.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::error::AppResult;
use crate::events::LockReason;
use crate::state::{SyncCancel, Vault};

/// How often the watcher looks.
pub const TICK: Duration = Duration::from_secs(1);

/// How much further the wall clock may go than the monotonic clock between two ticks
/// before the gap is taken for a sleep (a tick late by a busy machine, or a small
/// correction of the clock, stays well under it).
pub const SUSPEND_GAP: Duration = Duration::from_secs(5);

/// How long a lock waits for a cancelled sync to let go of the case file before saying
/// so in the log (it goes on waiting: the file cannot be closed under it).
pub const RELEASE_WAIT: Duration = Duration::from_secs(2);

/// The two clocks the lock reads; tests put in their own.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The wall clock: goes on while the machine sleeps.
    fn wall(&self) -> SystemTime;
    /// The monotonic clock: never goes back, stops while the machine sleeps.
    fn monotonic(&self) -> Instant;
}

/// The machine's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }

    fn monotonic(&self) -> Instant {
        Instant::now()
    }
}

/// A moment by both clocks.
#[derive(Debug, Clone, Copy)]
struct Moment {
    wall: SystemTime,
    monotonic: Instant,
}

impl Moment {
    fn now(clock: &dyn Clock) -> Self {
        Self {
            wall: clock.wall(),
            monotonic: clock.monotonic(),
        }
    }

    /// The time from `self` to `later` by each clock (zero when a clock went back).
    fn until(&self, later: &Moment) -> (Duration, Duration) {
        (
            later.wall.duration_since(self.wall).unwrap_or_default(),
            later.monotonic.saturating_duration_since(self.monotonic),
        )
    }
}

/// The person's last activity, and the idle delay.
#[derive(Debug, Clone)]
pub struct Activity {
    clock: Arc<dyn Clock>,
    delay: Duration,
    last: Arc<Mutex<Moment>>,
}

impl Activity {
    /// An activity timer that locks after `delay` without a touch, on `clock`.
    pub fn new(delay: Duration, clock: Arc<dyn Clock>) -> Self {
        let last = Moment::now(clock.as_ref());
        Self {
            clock,
            delay,
            last: Arc::new(Mutex::new(last)),
        }
    }

    /// The idle delay.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// The person did something: the idle delay starts again.
    pub fn touch(&self) {
        let now = Moment::now(self.clock.as_ref());
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }

    /// How long since the last activity: the longer of the wall clock's and the
    /// monotonic clock's measures.
    pub fn idle_for(&self) -> Duration {
        let last = *self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let (wall, monotonic) = last.until(&Moment::now(self.clock.as_ref()));
        wall.max(monotonic)
    }
}

/// What the watcher remembers between two ticks: when the last one was.
#[derive(Debug)]
pub struct Watch {
    clock: Arc<dyn Clock>,
    last: Moment,
}

impl Watch {
    /// A watcher starting now.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let last = Moment::now(clock.as_ref());
        Self { clock, last }
    }

    /// Whether the machine slept since the last tick: the wall clock went
    /// [`SUSPEND_GAP`] further than the monotonic clock.
    pub fn slept(&mut self) -> bool {
        let now = Moment::now(self.clock.as_ref());
        let (wall, monotonic) = self.last.until(&now);
        self.last = now;
        wall.saturating_sub(monotonic) >= SUSPEND_GAP
    }

    /// One tick: why the open case file must lock now, if it must.
    pub fn due(&mut self, activity: &Activity) -> Option<LockReason> {
        if self.slept() {
            Some(LockReason::Suspended)
        } else if activity.idle_for() >= activity.delay() {
            Some(LockReason::Idle)
        } else {
            None
        }
    }

    /// One tick against the vault: locks it when it is open and the machine slept or
    /// nobody touched it for the delay. Answers why it locked.
    pub async fn tick(
        &mut self,
        vault: &Vault,
        cancel: &SyncCancel,
        activity: &Activity,
    ) -> Option<LockReason> {
        let reason = self.due(activity)?;
        if !vault.is_unlocked() {
            return None;
        }
        match lock_vault(vault, cancel).await {
            Ok(()) => Some(reason),
            Err(error) => {
                tracing::error!(%error, "could not lock the case file");
                None
            }
        }
    }
}

/// Locks: cancels the running sync, waits for it to let go of the case file, and closes
/// the case file (its key leaves memory with the connection).
pub async fn lock_vault(vault: &Vault, cancel: &SyncCancel) -> AppResult<()> {
    let under_way = cancel.for_lock();
    let started = Instant::now();
    vault
        .with_slot(move |_, slot| {
            let waited = started.elapsed();
            if waited > RELEASE_WAIT {
                tracing::warn!(
                    waited_ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                    "the cancelled sync let go of the case file late"
                );
            }
            drop(slot.take());
            Ok(())
        })
        .await?;
    // The documents' sync on its second handle, cancelled with the rest: the lock keeps
    // every new run cancelled until it has stopped.
    vault.wait_beside().await?;
    drop(under_way);
    crate::saving::forget_opened(vault.path());
    Ok(())
}

/// Runs the watcher on a thread of its own, every [`TICK`], for as long as the app runs;
/// `locked` hears of each lock it made.
pub fn spawn_watcher(
    vault: Vault,
    cancel: SyncCancel,
    activity: Activity,
    clock: Arc<dyn Clock>,
    locked: impl Fn(LockReason) + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("lock-watcher".into())
        .spawn(move || {
            let mut watch = Watch::new(clock);
            loop {
                std::thread::sleep(TICK);
                let tick = watch.tick(&vault, &cancel, &activity);
                if let Some(reason) = tauri::async_runtime::block_on(tick) {
                    locked(reason);
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::error::AppError;

    /// A clock the test moves by hand.
    #[derive(Debug)]
    struct HandClock(Mutex<(SystemTime, Instant)>);

    impl HandClock {
        fn new() -> Arc<Self> {
            Arc::new(Self(Mutex::new((SystemTime::now(), Instant::now()))))
        }

        /// Moves the wall clock by `wall` and the monotonic clock by `monotonic`.
        fn go(&self, wall: Duration, monotonic: Duration) {
            let mut now = self.0.lock().unwrap();
            now.0 += wall;
            now.1 += monotonic;
        }

        /// Sets the wall clock back by `wall`.
        fn set_back(&self, wall: Duration) {
            self.0.lock().unwrap().0 -= wall;
        }
    }

    impl Clock for HandClock {
        fn wall(&self) -> SystemTime {
            self.0.lock().unwrap().0
        }

        fn monotonic(&self) -> Instant {
            self.0.lock().unwrap().1
        }
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn the_idle_timer_runs_on_the_wall_clock_and_a_touch_restarts_it() {
        let clock = HandClock::new();
        let activity = Activity::new(10 * MINUTE, clock.clone());
        let mut watch = Watch::new(clock.clone());
        // Nine minutes, a second at a time as the watcher sees them: nothing.
        for _ in 0..9 * 60 {
            clock.go(Duration::from_secs(1), Duration::from_secs(1));
            assert_eq!(watch.due(&activity), None);
        }
        activity.touch();
        for _ in 0..9 * 60 {
            clock.go(Duration::from_secs(1), Duration::from_secs(1));
            assert_eq!(watch.due(&activity), None, "a touch restarts the delay");
        }
        clock.go(MINUTE, MINUTE);
        assert_eq!(watch.due(&activity), Some(LockReason::Idle));

        // The wall clock alone going on (time the monotonic clock did not count) is idle
        // time too: 4 s at a time stays under the sleep gap, and adds up to the delay.
        activity.touch();
        for _ in 0..149 {
            clock.go(Duration::from_secs(4), Duration::ZERO);
            assert_eq!(watch.due(&activity), None);
        }
        clock.go(Duration::from_secs(4), Duration::ZERO);
        assert_eq!(
            watch.due(&activity),
            Some(LockReason::Idle),
            "the wall clock counts"
        );

        // A wall clock set back an hour does not put the lock off: the monotonic clock
        // still counts the ten minutes.
        activity.touch();
        clock.set_back(60 * MINUTE);
        assert_eq!(watch.due(&activity), None);
        for _ in 0..10 * 60 {
            clock.go(Duration::from_secs(1), Duration::from_secs(1));
        }
        assert_eq!(watch.due(&activity), Some(LockReason::Idle));
    }

    #[test]
    fn a_sleep_between_two_ticks_locks_at_once() {
        let clock = HandClock::new();
        let activity = Activity::new(10 * MINUTE, clock.clone());
        let mut watch = Watch::new(clock.clone());
        clock.go(Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(watch.due(&activity), None);
        // Two minutes asleep: under the idle delay, but the machine slept.
        clock.go(2 * MINUTE, Duration::from_secs(1));
        assert_eq!(watch.due(&activity), Some(LockReason::Suspended));
        // A tick a little late is not a sleep.
        activity.touch();
        clock.go(Duration::from_secs(3), Duration::from_secs(1));
        assert_eq!(watch.due(&activity), None);
    }

    #[test]
    fn the_watcher_locks_an_open_vault_after_the_idle_delay() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let activity = Activity::new(Duration::from_secs(2), Arc::new(SystemClock));
        let (tx, rx) = std::sync::mpsc::channel();
        spawn_watcher(
            vault.clone(),
            SyncCancel::default(),
            activity.clone(),
            Arc::new(SystemClock),
            move |reason| {
                let _ = tx.send(reason);
            },
        )
        .unwrap();
        let started = Instant::now();
        let reason = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(reason, LockReason::Idle);
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert!(!vault.is_unlocked(), "the vault is locked");
        let after = tauri::async_runtime::block_on(vault.with(|file| Ok(file.replica_id())));
        assert!(matches!(after, Err(AppError::Locked { .. })), "{after:?}");
    }

    /// The descriptors this process holds open on `path`, by `/proc/self/fd`.
    fn open_descriptors(path: &std::path::Path) -> Vec<std::path::PathBuf> {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
            .filter(|target| target == &path)
            .collect()
    }

    /// What a test locks in the middle of.
    #[derive(Debug, Clone, Copy)]
    enum Stuck {
        Sync,
        Enrolment,
    }

    /// Syncs `vault` against `server` on another thread, as the app's `sync` command does,
    /// and locks it once `ready` says the sync is stuck; answers how long the lock took.
    fn lock_a_stuck_sync(
        dir: &std::path::Path,
        server: &str,
        ready: impl Fn() -> bool,
    ) -> (Duration, Result<(), AppError>) {
        lock_a_stuck(Stuck::Sync, dir, server, ready)
    }

    /// [`lock_a_stuck_sync`], in the middle of a sync or of an enrolment.
    fn lock_a_stuck(
        what: Stuck,
        dir: &std::path::Path,
        server: &str,
        ready: impl Fn() -> bool,
    ) -> (Duration, Result<(), AppError>) {
        let vault = crate::state::open_test_vault(dir);
        let url = format!("http://{server}");
        let enrol_at = url.clone();
        tauri::async_runtime::block_on(vault.with(move |file| {
            file.set_setting("sync.server_url", &url)?;
            file.set_setting("sync.device_token", "a-token-the-server-never-reads")?;
            Ok(())
        }))
        .unwrap();
        let path = vault.path().to_owned();
        let wal = dir.join("test.casefile-wal");
        assert!(
            !open_descriptors(&path).is_empty(),
            "the open case file holds a descriptor"
        );
        let cancel = SyncCancel::default();
        let syncing = {
            let (vault, cancel) = (vault.clone(), cancel.clone());
            std::thread::spawn(move || {
                let flag = cancel.start();
                tauri::async_runtime::block_on(vault.with(move |file| {
                    match what {
                        Stuck::Sync => Ok(file.sync(&mut |_| {}, &flag).map(|_| ())?),
                        Stuck::Enrolment => Ok(file
                            .enrol_cancellable(
                                &enrol_at,
                                "marie",
                                "un mot de passe",
                                "ABCD-EFGH-JKMN-PQRS",
                                "portable",
                                &flag,
                            )
                            .map(|_| ())?),
                    }
                }))
            })
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ready() {
            assert!(Instant::now() < deadline, "the sync never got stuck");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(vault.is_unlocked());
        let started = Instant::now();
        tauri::async_runtime::block_on(lock_vault(&vault, &cancel)).unwrap();
        let took = started.elapsed();
        assert!(!vault.is_unlocked());
        assert_eq!(
            open_descriptors(&path),
            Vec::<std::path::PathBuf>::new(),
            "no descriptor left on the case file"
        );
        assert_eq!(
            open_descriptors(&wal),
            Vec::<std::path::PathBuf>::new(),
            "no descriptor left on its WAL"
        );
        let synced = syncing.join().unwrap();
        (took, synced.map(|_| ()))
    }

    #[test]
    fn a_lock_closes_the_case_file_within_2_s_while_a_sync_or_an_enrolment_waits_on_a_silent_server()
     {
        for what in [Stuck::Sync, Stuck::Enrolment] {
            // A server that accepts connections and never answers: the request waits for
            // its 60 s timeout, unless the lock abandons it.
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let address = listener.local_addr().unwrap().to_string();
            let accepted = Arc::new(AtomicUsize::new(0));
            {
                let accepted = Arc::clone(&accepted);
                std::thread::spawn(move || {
                    let mut held = Vec::new();
                    for stream in listener.incoming().flatten() {
                        accepted.fetch_add(1, Ordering::SeqCst);
                        held.push(stream);
                    }
                });
            }
            let dir = tempfile::tempdir().unwrap();
            let (took, outcome) = lock_a_stuck(what, dir.path(), &address, || {
                // Connected, and a moment into the wait.
                if accepted.load(Ordering::SeqCst) > 0 {
                    std::thread::sleep(Duration::from_millis(300));
                    true
                } else {
                    false
                }
            });
            assert!(
                took < Duration::from_secs(2),
                "{what:?}: the lock took {took:?}"
            );
            assert!(
                matches!(outcome, Err(AppError::Cancelled { .. })),
                "{what:?}: {outcome:?}"
            );
        }
    }

    #[test]
    fn a_lock_closes_the_case_file_within_2_s_while_a_sync_retries() {
        // A server that hangs up on every request: the sync retries with growing pauses
        // (250 ms, 500 ms, 1 s, 2 s…); by the fourth connection it is in a pause of 2 s.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        {
            let accepted = Arc::clone(&accepted);
            std::thread::spawn(move || {
                for mut stream in listener.incoming().flatten() {
                    let mut buffer = [0u8; 1024];
                    let _ = stream.read(&mut buffer);
                    accepted.fetch_add(1, Ordering::SeqCst);
                    drop(stream);
                }
            });
        }
        let dir = tempfile::tempdir().unwrap();
        let (took, synced) = lock_a_stuck_sync(dir.path(), &address, || {
            accepted.load(Ordering::SeqCst) >= 4
        });
        assert!(took < Duration::from_secs(2), "the lock took {took:?}");
        assert!(
            matches!(synced, Err(AppError::Cancelled { .. })),
            "{synced:?}"
        );
    }
}
