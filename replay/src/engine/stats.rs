//! What is in a trace (`replay --stats`): time span, processes with their
//! command lines, event counts by syscall and by process, gaps.
//!
//! The texts kept (command lines, gap reasons) are escaped for text output
//! as they are collected ([`trace_format::escape`]).

use std::collections::{BTreeMap, HashMap};

use trace_format::model::{EventBody, MarkerKind};

use super::view::EventView;
use trace_format::escape::{escape, escape_bytes};

/// A process as the trace shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcSummary {
    /// Parent pid.
    pub ppid: i32,
    /// Command line (`proc.cmdline` of its last image), escaped.
    pub cmdline: String,
    /// Events of the process.
    pub events: u64,
    /// Exit status in words, if it exited during the trace.
    pub exit: Option<String>,
}

/// Statistics of a trace or of one chunk; chunks merge in trace order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events.
    pub events: u64,
    /// First and last event time (wall ns).
    pub first_ns: Option<u64>,
    pub last_ns: Option<u64>,
    /// Events by `evt.type`.
    pub by_type: HashMap<&'static str, u64>,
    /// Failed syscalls by `evt.type`.
    pub failed_by_type: HashMap<&'static str, u64>,
    /// Processes by pid.
    pub processes: BTreeMap<i32, ProcSummary>,
    /// Gap markers: (time, events lost, reason escaped).
    pub gaps: Vec<(u64, u64, String)>,
    /// Data paths the workload was allowed that the trace does not show
    /// (the metadata's `unrecorded_io`, e.g. io_uring).
    pub unrecorded_io: Vec<String>,
}

impl Stats {
    /// Counts one event.
    pub fn add(&mut self, v: &EventView<'_>) {
        self.events += 1;
        self.first_ns.get_or_insert(v.wall_ns);
        self.last_ns = Some(v.wall_ns);
        *self.by_type.entry(v.type_name).or_default() += 1;
        if let EventBody::Syscall(s) = &v.ev.body
            && !s.no_return
            && (-4095..0).contains(&s.ret)
        {
            *self.failed_by_type.entry(v.type_name).or_default() += 1;
        }
        if let EventBody::Marker(m) = &v.ev.body {
            if m.kind == MarkerKind::Gap {
                self.gaps
                    .push((v.wall_ns, m.count, escape(&m.message).into_owned()));
            }
            return;
        }
        let p = self.processes.entry(v.ev.pid).or_default();
        p.events += 1;
        if let Some(info) = v.state.table().process(v.ev.pid).map(|p| &p.info) {
            p.ppid = info.ppid;
            if p.cmdline.is_empty() || matches!(v.ev.body, EventBody::Exec(_)) {
                p.cmdline.clear();
                p.cmdline.push_str(&escape_bytes(&info.comm));
                for a in info.argv.iter().skip(1) {
                    p.cmdline.push(' ');
                    p.cmdline.push_str(&escape_bytes(a));
                }
            }
        }
        match &v.ev.body {
            EventBody::ThreadExit(x) if x.process_exit => {
                p.exit = Some(super::listing::wait_status(x.status));
            }
            _ => {}
        }
    }

    /// Adds the statistics of the chunk after this one.
    pub fn merge(&mut self, o: Stats) {
        self.events += o.events;
        if self.first_ns.is_none() {
            self.first_ns = o.first_ns;
        }
        if o.last_ns.is_some() {
            self.last_ns = o.last_ns;
        }
        for (k, n) in o.by_type {
            *self.by_type.entry(k).or_default() += n;
        }
        for (k, n) in o.failed_by_type {
            *self.failed_by_type.entry(k).or_default() += n;
        }
        for (pid, p) in o.processes {
            let e = self.processes.entry(pid).or_default();
            e.events += p.events;
            e.ppid = p.ppid;
            if !p.cmdline.is_empty() {
                e.cmdline = p.cmdline;
            }
            if p.exit.is_some() {
                e.exit = p.exit;
            }
        }
        self.gaps.extend(o.gaps);
        for u in o.unrecorded_io {
            if !self.unrecorded_io.contains(&u) {
                self.unrecorded_io.push(u);
            }
        }
    }

    /// Event types by count, most frequent first (ties by name).
    pub fn types_by_count(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<_> = self.by_type.iter().map(|(k, n)| (*k, *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v
    }
}
