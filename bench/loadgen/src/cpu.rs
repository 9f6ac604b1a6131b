//! CPU accounting: the load generator's own (`getrusage(RUSAGE_SELF)`) and another
//! process's (`/proc/PID/stat`, all its threads), sampled at the edges of the measured
//! window.

use std::time::Duration;

use nix::sys::resource::{UsageWho, getrusage};
use nix::unistd::{SysconfVar, sysconf};

/// User and system CPU time consumed so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTimes {
    /// User time.
    pub user: Duration,
    /// System time.
    pub system: Duration,
}

impl CpuTimes {
    /// User plus system time.
    pub fn total(self) -> Duration {
        self.user + self.system
    }

    /// `self - earlier`, saturating at zero.
    pub fn since(self, earlier: CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

fn timeval(tv: nix::sys::time::TimeVal) -> Duration {
    let micros = i128::from(tv.tv_sec()) * 1_000_000 + i128::from(tv.tv_usec());
    Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

/// This process's CPU times (every thread), from `getrusage(RUSAGE_SELF)`.
pub fn own() -> std::io::Result<CpuTimes> {
    let usage = getrusage(UsageWho::RUSAGE_SELF).map_err(std::io::Error::from)?;
    Ok(CpuTimes {
        user: timeval(usage.user_time()),
        system: timeval(usage.system_time()),
    })
}

/// The CPU times of this process's waited-for children (`getrusage(RUSAGE_CHILDREN)`):
/// the difference around one child's run is that child's use.
pub fn children() -> std::io::Result<CpuTimes> {
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).map_err(std::io::Error::from)?;
    Ok(CpuTimes {
        user: timeval(usage.user_time()),
        system: timeval(usage.system_time()),
    })
}

/// Clock ticks per second of `/proc` times (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
pub fn clock_ticks() -> u64 {
    sysconf(SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// Parses the `utime` and `stime` fields (14 and 15) of a `/proc/PID/stat` line.
///
/// ```
/// use std::time::Duration;
/// use sessionkit_loadgen::cpu::parse_proc_stat;
///
/// let line = "42 (my server) S 1 42 42 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 3 0 5 0 0";
/// let t = parse_proc_stat(line, 100).unwrap();
/// assert_eq!(t.user, Duration::from_millis(2500));
/// assert_eq!(t.system, Duration::from_millis(300));
/// ```
pub fn parse_proc_stat(line: &str, ticks_per_sec: u64) -> Option<CpuTimes> {
    // The command name is in parentheses and may hold spaces: count fields after it.
    let rest = &line[line.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // After ')' come field 3 (state) onwards; utime is field 14, stime 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let to = |ticks: u64| Duration::from_nanos(ticks.saturating_mul(1_000_000_000) / ticks_per_sec);
    Some(CpuTimes {
        user: to(utime),
        system: to(stime),
    })
}

/// Another process's CPU times, from `/proc/PID/stat`; `None` if it cannot be read.
pub fn of_pid(pid: u32, ticks_per_sec: u64) -> Option<CpuTimes> {
    let line = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_proc_stat(&line, ticks_per_sec)
}

/// A process's CPU times plus those of its direct children (a PostgreSQL postmaster and
/// its backends), from `/proc`; `None` if `pid` itself cannot be read. A child that exits
/// between two samples takes its time with it: sample processes that live through the
/// window (pooled connections do).
pub fn of_tree(pid: u32, ticks_per_sec: u64) -> Option<CpuTimes> {
    let mut total = of_pid(pid, ticks_per_sec)?;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Some(total);
    };
    for entry in dir.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(line) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        if parent_of(&line) == Some(pid)
            && let Some(t) = parse_proc_stat(&line, ticks_per_sec)
        {
            total.user += t.user;
            total.system += t.system;
        }
    }
    Some(total)
}

/// A process's parent, from `/proc/PID/stat`.
pub fn parent_pid(pid: u32) -> Option<u32> {
    parent_of(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Field 4 (`ppid`) of a `/proc/PID/stat` line.
fn parent_of(line: &str) -> Option<u32> {
    let rest = &line[line.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_times_grow() {
        let a = own().unwrap();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let b = own().unwrap();
        assert!(b.total() >= a.total());
        assert_eq!(a.since(b), CpuTimes::default().since(CpuTimes::default()));
    }

    #[test]
    fn a_tree_counts_at_least_its_root() {
        let me = std::process::id();
        let root = of_pid(me, clock_ticks()).unwrap();
        let tree = of_tree(me, clock_ticks()).unwrap();
        assert!(tree.total() >= root.total());
        assert_eq!(
            parent_of("7 (a) b) S 42 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 0 0"),
            Some(42)
        );
    }

    #[test]
    fn reads_self_from_proc() {
        let t = of_pid(std::process::id(), clock_ticks());
        assert!(t.is_some());
        assert!(parse_proc_stat("garbage", 100).is_none());
    }
}
