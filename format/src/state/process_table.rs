//! The process table: processes, their threads, and the fd tables and
//! working directories they may share.
//!
//! Sharing follows clone(2): a thread (`CLONE_THREAD`) joins its process;
//! a process created with `CLONE_FILES` shares its parent's fd table, with
//! `CLONE_FS` its working directory. Shared tables live once, in `fd_tables`
//! and `fs`, keyed by an id the processes hold; a table is dropped when the
//! last process holding it exits. exec(2) unshares the fd table.
//!
//! **Invariant:** every tid in `tids` names a thread of a live process in
//! `procs`, and every process's `fd_table`/`fs` id is present in the maps.

use std::collections::{BTreeMap, HashMap};

use crate::model::{Process, Thread};

use super::fd_table::FdTable;

/// A live process.
#[derive(Clone, Debug)]
pub struct Proc {
    /// The process as the snapshot shows it; `fds`, `cwd` and `threads`
    /// are filled from the tables below when a snapshot is taken.
    pub info: Process,
    pub threads: Vec<Thread>,
    pub fd_table: u64,
    pub fs: u64,
}

/// The process table.
#[derive(Clone, Debug, Default)]
pub struct ProcessTable {
    pub(super) procs: BTreeMap<i32, Proc>,
    tids: HashMap<i32, i32>,
    fd_tables: HashMap<u64, FdTable>,
    fs: HashMap<u64, Vec<u8>>,
    next_id: u64,
    /// The fd tables of processes the table does not know (events of a pid
    /// with no snapshot entry or start: a synthetic trace, an imported
    /// `.scap` whose process list missed it), as libsinsp keeps fds for a
    /// thread it made up. Dropped when the process starts, is seeded or
    /// exits; not in snapshots (there is no process to hold them).
    unknown_fds: HashMap<i32, FdTable>,
}

/// How far an ancestor walk goes ([`ProcessTable::ancestors`]).
pub const MAX_ANCESTORS: usize = 256;

/// Walks up the process tree (see [`ProcessTable::ancestors`]).
#[derive(Clone, Debug)]
pub struct Ancestors<'a> {
    table: &'a ProcessTable,
    cur: Option<&'a Proc>,
    depth: usize,
}

impl<'a> Iterator for Ancestors<'a> {
    type Item = &'a Proc;

    fn next(&mut self) -> Option<&'a Proc> {
        let p = self.cur?;
        self.depth += 1;
        let ppid = p.info.ppid;
        if self.depth > MAX_ANCESTORS || ppid <= 0 || ppid == p.info.pid {
            self.cur = None;
            return None;
        }
        self.cur = self.table.process(ppid);
        self.cur
    }
}

/// `CLONE_*` flags the table needs.
pub mod clone_flags {
    pub const CLONE_FS: u64 = 0x200;
    pub const CLONE_FILES: u64 = 0x400;
    pub const CLONE_PARENT: u64 = 0x8000;
    pub const CLONE_THREAD: u64 = 0x10000;
}

impl ProcessTable {
    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Adds a process seeded from `/proc` (attach), replacing any entry.
    pub fn seed(&mut self, mut info: Process) {
        self.remove_process(info.pid);
        self.unknown_fds.remove(&info.pid);
        let fds = std::mem::take(&mut info.fds);
        let mut table = FdTable::default();
        for fd in fds {
            let num = fd.num;
            table.insert(num, super::fd_table::Entry { fd, since: 0 });
        }
        let threads = std::mem::take(&mut info.threads);
        let cwd = std::mem::take(&mut info.cwd);
        let (ft, fs) = (self.new_id(), self.new_id());
        self.fd_tables.insert(ft, table);
        self.fs.insert(fs, cwd);
        for t in &threads {
            self.tids.insert(t.tid, info.pid);
        }
        self.tids.insert(info.pid, info.pid);
        let threads = if threads.is_empty() {
            vec![Thread {
                tid: info.pid,
                comm: info.comm.clone(),
            }]
        } else {
            threads
        };
        self.procs.insert(
            info.pid,
            Proc {
                info,
                threads,
                fd_table: ft,
                fs,
            },
        );
    }

    /// A new thread or process `child_tid` (of process `child_pid`) created
    /// by `parent_tid` with `flags`, at wall time `wall_ns`.
    pub fn start(
        &mut self,
        parent_tid: i32,
        child_pid: i32,
        child_tid: i32,
        flags: u64,
        wall_ns: u64,
    ) {
        use clone_flags::*;
        self.unknown_fds.remove(&child_pid);
        let parent_pid = self.tids.get(&parent_tid).copied();
        let parent_comm = parent_pid
            .and_then(|p| self.procs.get(&p))
            .and_then(|p| p.threads.iter().find(|t| t.tid == parent_tid))
            .map(|t| t.comm.clone());
        if let Some(p) = self.procs.get_mut(&child_pid) {
            // A thread of an existing process.
            if !p.threads.iter().any(|t| t.tid == child_tid) {
                let comm = parent_comm.unwrap_or_else(|| p.info.comm.clone());
                p.threads.push(Thread {
                    tid: child_tid,
                    comm,
                });
            }
            self.tids.insert(child_tid, child_pid);
            return;
        }
        let parent = parent_pid.and_then(|p| self.procs.get(&p)).cloned();
        let (mut info, ft, fs) = match parent {
            Some(parent) => {
                let ft = if flags & CLONE_FILES != 0 {
                    parent.fd_table
                } else {
                    let copy = self
                        .fd_tables
                        .get(&parent.fd_table)
                        .cloned()
                        .unwrap_or_default();
                    let id = self.new_id();
                    self.fd_tables.insert(id, copy);
                    id
                };
                let fs = if flags & CLONE_FS != 0 {
                    parent.fs
                } else {
                    let copy = self.fs.get(&parent.fs).cloned().unwrap_or_default();
                    let id = self.new_id();
                    self.fs.insert(id, copy);
                    id
                };
                let mut info = parent.info.clone();
                info.ppid = if flags & CLONE_PARENT != 0 {
                    parent.info.ppid
                } else {
                    parent.info.pid
                };
                if let Some(c) = parent_comm {
                    info.comm = c;
                }
                (info, ft, fs)
            }
            None => {
                let (ft, fs) = (self.new_id(), self.new_id());
                self.fd_tables.insert(ft, FdTable::default());
                self.fs.insert(fs, Vec::new());
                (Process::default(), ft, fs)
            }
        };
        info.pid = child_pid;
        info.vpid = child_pid;
        info.start_wall_ns = wall_ns;
        info.exec_wall_ns = wall_ns;
        info.exited = false;
        let comm = info.comm.clone();
        self.tids.insert(child_tid, child_pid);
        self.procs.insert(
            child_pid,
            Proc {
                info,
                threads: vec![Thread {
                    tid: child_tid,
                    comm,
                }],
                fd_table: ft,
                fs,
            },
        );
    }

    /// exec(2) succeeded in process `pid`: only the leader is left, the fd
    /// table is unshared and close-on-exec fds are closed.
    pub fn exec(&mut self, pid: i32, comm: &[u8]) {
        let stale: Vec<i32> = self
            .tids
            .iter()
            .filter(|(t, p)| **p == pid && **t != pid)
            .map(|(t, _)| *t)
            .collect();
        for t in stale {
            self.tids.remove(&t);
        }
        self.tids.insert(pid, pid);
        let Some(p) = self.procs.get(&pid) else {
            return;
        };
        let old_ft = p.fd_table;
        let shared = self
            .procs
            .values()
            .any(|q| q.info.pid != pid && q.fd_table == old_ft);
        let ft = if shared {
            let copy = self.fd_tables.get(&old_ft).cloned().unwrap_or_default();
            let id = self.new_id();
            self.fd_tables.insert(id, copy);
            id
        } else {
            old_ft
        };
        if let Some(t) = self.fd_tables.get_mut(&ft) {
            t.exec();
        }
        if let Some(p) = self.procs.get_mut(&pid) {
            p.fd_table = ft;
            p.threads = vec![Thread {
                tid: pid,
                comm: comm.to_vec(),
            }];
        }
    }

    /// Thread `tid` exited; with `process_exit` its whole process is gone.
    pub fn exit(&mut self, tid: i32, process_exit: bool) {
        let Some(pid) = self.tids.remove(&tid) else {
            return;
        };
        if process_exit {
            self.reparent_children(pid);
            self.remove_process(pid);
        } else if let Some(p) = self.procs.get_mut(&pid) {
            // The leader's tid stays listed until the process exits (the
            // kernel keeps it as a zombie thread group leader).
            if tid != pid {
                p.threads.retain(|t| t.tid != tid);
            } else {
                self.tids.insert(tid, pid);
            }
        }
    }

    /// The children of exiting process `pid` get their reaper as parent, as
    /// the kernel (and libsinsp) do. The trace does not record which
    /// processes are child subreapers, so the reaper is the parent of the
    /// outermost known ancestor of `pid`: under `capture CMD` that is
    /// capture, a child subreaper and the workload's parent (PID 1 when
    /// capture is a container's entrypoint); when attached, the attached
    /// process's parent, or PID 1 when that is unknown.
    fn reparent_children(&mut self, pid: i32) {
        if !self.procs.values().any(|p| p.info.ppid == pid) {
            return;
        }
        let top = self.ancestors(pid).last().map_or(pid, |p| p.info.pid);
        let reaper = match self.procs.get(&top).map(|p| p.info.ppid) {
            Some(r) if r > 0 && r != pid => r,
            _ => 1,
        };
        for p in self.procs.values_mut() {
            if p.info.ppid == pid {
                p.info.ppid = reaper;
            }
        }
    }

    fn remove_process(&mut self, pid: i32) {
        let Some(p) = self.procs.remove(&pid) else {
            return;
        };
        self.tids.retain(|_, v| *v != pid);
        if !self.procs.values().any(|q| q.fd_table == p.fd_table) {
            self.fd_tables.remove(&p.fd_table);
        }
        if !self.procs.values().any(|q| q.fs == p.fs) {
            self.fs.remove(&p.fs);
        }
    }

    /// The process `tid` belongs to.
    pub fn pid_of(&self, tid: i32) -> Option<i32> {
        self.tids.get(&tid).copied()
    }

    pub fn process(&self, pid: i32) -> Option<&Proc> {
        self.procs.get(&pid)
    }

    /// The ancestors of process `pid` that the table knows, parent first.
    /// The walk ends at a process without a known parent, and after
    /// [`MAX_ANCESTORS`] steps: a corrupt snapshot may hold a ppid cycle.
    pub fn ancestors(&self, pid: i32) -> Ancestors<'_> {
        Ancestors {
            table: self,
            cur: self.process(pid),
            depth: 0,
        }
    }

    /// Whether `a` is `b` or one of its ancestors, or the other way round.
    pub fn related(&self, a: i32, b: i32) -> bool {
        let up = |from: i32, to: i32| from == to || self.ancestors(from).any(|p| p.info.pid == to);
        up(a, b) || up(b, a)
    }

    pub fn process_mut(&mut self, pid: i32) -> Option<&mut Proc> {
        self.procs.get_mut(&pid)
    }

    /// The fd table of process `pid`.
    pub fn fds(&self, pid: i32) -> Option<&FdTable> {
        match self.procs.get(&pid) {
            Some(p) => self.fd_tables.get(&p.fd_table),
            None => self.unknown_fds.get(&pid),
        }
    }

    /// The fd table of process `pid`, if it has one.
    pub fn fds_mut(&mut self, pid: i32) -> Option<&mut FdTable> {
        match self.procs.get(&pid) {
            Some(p) => self.fd_tables.get_mut(&p.fd_table),
            None => self.unknown_fds.get_mut(&pid),
        }
    }

    /// The fd table an fd of process `pid` is installed in: for a pid the
    /// table does not know, a table of its own, made by its first fd (see
    /// `unknown_fds`; a close or a lookup makes none).
    pub fn fds_to_install(&mut self, pid: i32) -> Option<&mut FdTable> {
        match self.procs.get(&pid) {
            Some(p) => self.fd_tables.get_mut(&p.fd_table),
            None => Some(self.unknown_fds.entry(pid).or_default()),
        }
    }

    /// An unknown process `pid` exited: its fds go.
    pub fn forget_unknown(&mut self, pid: i32) {
        self.unknown_fds.remove(&pid);
    }

    /// Gives process `pid` a private copy of its fd table.
    pub fn unshare_fds(&mut self, pid: i32) {
        let Some(old) = self.procs.get(&pid).map(|p| p.fd_table) else {
            return;
        };
        if !self
            .procs
            .values()
            .any(|q| q.info.pid != pid && q.fd_table == old)
        {
            return;
        }
        let copy = self.fd_tables.get(&old).cloned().unwrap_or_default();
        let id = self.new_id();
        self.fd_tables.insert(id, copy);
        if let Some(p) = self.procs.get_mut(&pid) {
            p.fd_table = id;
        }
    }

    /// The working directory of process `pid`.
    pub fn cwd(&self, pid: i32) -> Option<&[u8]> {
        self.procs
            .get(&pid)
            .and_then(|p| self.fs.get(&p.fs))
            .map(Vec::as_slice)
    }

    pub fn set_cwd(&mut self, pid: i32, cwd: Vec<u8>) {
        if let Some(id) = self.procs.get(&pid).map(|p| p.fs) {
            self.fs.insert(id, cwd);
        }
    }

    /// The table as a snapshot: processes by pid, threads leader first,
    /// fds by number.
    pub fn snapshot(&self) -> Vec<Process> {
        self.procs.values().map(|p| self.model(p)).collect()
    }

    /// One process as a snapshot holds it.
    fn model(&self, p: &Proc) -> Process {
        let mut info = p.info.clone();
        let mut threads = p.threads.clone();
        threads.sort_by_key(|t| (t.tid != info.pid, t.tid));
        info.threads = threads;
        info.fds = self
            .fd_tables
            .get(&p.fd_table)
            .map(FdTable::to_model)
            .unwrap_or_default();
        info.cwd = self.fs.get(&p.fs).cloned().unwrap_or_default();
        info
    }

    /// Removes process `pid` and returns it as a snapshot holds it, for
    /// another copy of the state to [`seed`](Self::seed): capture's tracer
    /// thread that hands a process to another one moves its state along.
    /// Install times are not kept (a seeded fd counts as installed before
    /// any event, as one read from `/proc`).
    pub fn take(&mut self, pid: i32) -> Option<Process> {
        let info = self.model(self.procs.get(&pid)?);
        self.remove_process(pid);
        Some(info)
    }

    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }
}
