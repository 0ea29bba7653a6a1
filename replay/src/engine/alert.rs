//! Rule evaluation over chunks, and alerts printed as Falco prints them.
//!
//! Text: `HH:MM:SS.nnnnnnnnn: Priority message` (times in UTC; Falco
//! uses the local time zone of the machine it runs on, which for a replay
//! on a laptop would be neither the recording host's nor stable).
//! JSON: one object per line with Falco's keys `hostname output
//! output_fields priority rule source tags time`, `time` in ISO 8601 UTC
//! with nanoseconds, `output_fields` typed (`null` when missing) and
//! holding `evt.time` in ns as Falco's does.
//!
//! The text line's message is escaped ([`trace_format::escape`]): a field
//! value holding an escape sequence or a newline cannot reach the terminal
//! or forge a line. JSON is left to JSON's own escaping.

use std::fmt::Write as _;

use serde_json::{Map, Value as Json};
use trace_format::Chunk;
use trace_format::escape::escape;
use trace_format::model::EventBody;
use trace_format::syscalls;

use super::driver::walk_chunk;
use crate::rules::{CompiledRuleset, EventType, OwnedValue, Priority};

/// One rule match.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Wall-clock time of the event (ns since the epoch).
    pub wall_ns: u64,
    /// `evt.num` of the event.
    pub num: u64,
    /// Index of the rule in [`CompiledRuleset::rules`].
    pub rule: usize,
    /// The rule's priority.
    pub priority: Priority,
    /// The rendered output message.
    pub message: String,
    /// `evt.hostname` of the trace.
    pub hostname: String,
    /// The output's fields with typed values (JSON only; empty otherwise).
    pub fields: Vec<(String, Option<OwnedValue>)>,
}

/// What evaluating one chunk produced.
#[derive(Debug, Default)]
pub struct ChunkAlerts {
    /// Events evaluated.
    pub events: u64,
    /// Alerts, in event order (and rule order within an event).
    pub alerts: Vec<Alert>,
}

/// A compiled ruleset bound to the trace's event types.
pub struct RuleEngine<'r> {
    rules: &'r CompiledRuleset,
    by_syscall: Vec<EventType>,
    clone: EventType,
    execve: EventType,
    execveat: u16,
    procexit: EventType,
    signal: EventType,
    unknown: EventType,
    with_fields: bool,
}

impl<'r> RuleEngine<'r> {
    /// Resolves every event type once. `with_fields` keeps typed output
    /// fields for JSON.
    pub fn new(rules: &'r CompiledRuleset, with_fields: bool) -> RuleEngine<'r> {
        let max = syscalls::SYSCALLS.last().map_or(0, |s| s.id as usize);
        let mut by_syscall = vec![rules.event_type("unknown"); max + 1];
        for sc in syscalls::SYSCALLS {
            by_syscall[sc.id as usize] = rules.event_type(super::vocab::falco_name(sc.name));
        }
        RuleEngine {
            rules,
            by_syscall,
            clone: rules.event_type("clone"),
            execve: rules.event_type("execve"),
            execveat: syscalls::SYSCALLS
                .iter()
                .find(|s| s.name == "execveat")
                .map_or(u16::MAX, |s| s.id),
            procexit: rules.event_type("procexit"),
            signal: rules.event_type("signaldeliver"),
            unknown: rules.event_type("unknown"),
            with_fields,
        }
    }

    /// The ruleset.
    pub fn rules(&self) -> &'r CompiledRuleset {
        self.rules
    }

    /// Evaluates every event of `chunk`. The capture's own `exec` records
    /// and markers are not Falco events and are not evaluated (an exec is
    /// evaluated as its `execve` syscall, with the new image).
    pub fn eval_chunk(&self, chunk: &Chunk) -> ChunkAlerts {
        let mut alerts = Vec::new();
        let events = walk_chunk(chunk, |view| {
            let ty = match &view.ev.body {
                // A successful execveat is an execve to Falco.
                EventBody::Syscall(s) if s.id == self.execveat && s.ret == 0 => self.execve,
                EventBody::Syscall(s) => self
                    .by_syscall
                    .get(s.id as usize)
                    .copied()
                    .unwrap_or(self.unknown),
                EventBody::ProcessStart(_) => self.clone,
                EventBody::ThreadExit(_) => self.procexit,
                EventBody::Signal(_) => self.signal,
                EventBody::Exec(_) | EventBody::Marker(_) => return,
            };
            let mut matched = Vec::new();
            self.rules.for_each_match(view, ty, |r| {
                matched.push(r);
                true
            });
            for r in matched {
                let message = r.output.render(view);
                let fields = if self.with_fields {
                    r.output
                        .values(view)
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect()
                } else {
                    Vec::new()
                };
                alerts.push(Alert {
                    wall_ns: view.wall_ns,
                    num: view.num,
                    rule: r.index,
                    priority: r.priority,
                    message,
                    hostname: view.ctx.hostname.clone(),
                    fields,
                });
            }
        });
        ChunkAlerts { events, alerts }
    }

    /// The text line Falco prints for `a`.
    pub fn text(&self, a: &Alert) -> String {
        let mut s = String::new();
        push_time(&mut s, a.wall_ns, "%H:%M:%S%.9f");
        let _ = write!(s, ": {} {}", a.priority, escape(&a.message));
        s
    }

    /// The JSON object Falco prints for `a`.
    pub fn json(&self, a: &Alert) -> Json {
        let rule = &self.rules.rules()[a.rule];
        let mut fields = Map::new();
        fields.insert("evt.time".into(), Json::from(a.wall_ns));
        for (k, v) in &a.fields {
            fields.insert(k.clone(), v.as_ref().map_or(Json::Null, to_json));
        }
        let mut time = String::new();
        push_time(&mut time, a.wall_ns, "%Y-%m-%dT%H:%M:%S%.9fZ");
        let mut o = Map::new();
        o.insert("hostname".into(), Json::from(a.hostname.clone()));
        o.insert("output".into(), Json::from(self.text(a)));
        o.insert("output_fields".into(), Json::Object(fields));
        o.insert("priority".into(), Json::from(a.priority.as_str()));
        o.insert("rule".into(), Json::from(rule.name.clone()));
        o.insert("source".into(), Json::from(rule.source.clone()));
        o.insert(
            "tags".into(),
            Json::Array(rule.tags.iter().cloned().map(Json::from).collect()),
        );
        o.insert("time".into(), Json::from(time));
        Json::Object(o)
    }
}

/// A field value as JSON: numbers as numbers, the rest as text.
pub fn to_json(v: &OwnedValue) -> Json {
    match v {
        OwnedValue::Str(s) => Json::from(s.clone()),
        OwnedValue::Bytes(b) => Json::from(v_text(b)),
        OwnedValue::I64(n) => Json::from(*n),
        OwnedValue::U64(n) => Json::from(*n),
        OwnedValue::Bool(b) => Json::from(*b),
        OwnedValue::Ip(a) => Json::from(a.to_string()),
        OwnedValue::Double(d) => Json::from(*d),
    }
}

fn v_text(b: &[u8]) -> String {
    let mut s = String::new();
    super::args::push_printable(&mut s, b);
    s
}

/// Appends wall-clock time `ns` in UTC with a chrono format.
pub fn push_time(out: &mut String, ns: u64, fmt: &str) {
    match chrono::DateTime::from_timestamp((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as u32)
    {
        Some(t) => {
            let _ = write!(out, "{}", t.format(fmt));
        }
        None => {
            let _ = write!(out, "{ns}");
        }
    }
}
