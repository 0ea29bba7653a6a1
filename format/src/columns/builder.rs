//! The writer's side: events appended to columns, the table built when the
//! chunk closes.

use flatbuffers::{FlatBufferBuilder, WIPOffset};

use super::kind;
use super::varint::{put, put_signed};
use crate::encode;
use crate::fb;
use crate::model::{Event, EventBody, SyscallEvent, Value};

/// The open chunk's columns. Cleared (capacity kept) by `finish`.
#[derive(Default)]
pub(crate) struct ColumnBuilder {
    kinds: Vec<u8>,
    ts_delta: Vec<u8>,
    tid_delta: Vec<u8>,
    pid_from_tid: Vec<u8>,
    sc_id: Vec<u16>,
    sc_ret: Vec<u8>,
    sc_duration: Vec<u8>,
    sc_shape: Vec<u8>,
    sc_nparams: Vec<u8>,
    sc_args: Vec<u8>,
    p_index: Vec<u8>,
    p_kind: Vec<u8>,
    v_int: Vec<u8>,
    v_flags: Vec<u8>,
    v_misc: Vec<u8>,
    str_lens: Vec<u8>,
    strs: Vec<u8>,
    buf_lens: Vec<u8>,
    bufs: Vec<u8>,
    addr_lens: Vec<u8>,
    addrs: Vec<u8>,
    others: Vec<WIPOffset<fb::Event<'static>>>,
    prev_ts: u64,
    prev_tid: i32,
}

impl ColumnBuilder {
    /// Starts a chunk whose header says `first_ts`.
    pub(crate) fn start(&mut self, first_ts: u64) {
        self.prev_ts = first_ts;
        self.prev_tid = 0;
    }

    /// Bytes the columns hold so far (for the chunk size limit).
    pub(crate) fn bytes(&self) -> usize {
        let cols = [
            &self.kinds,
            &self.ts_delta,
            &self.tid_delta,
            &self.pid_from_tid,
            &self.sc_ret,
            &self.sc_duration,
            &self.sc_shape,
            &self.sc_nparams,
            &self.sc_args,
            &self.p_index,
            &self.p_kind,
            &self.v_int,
            &self.v_flags,
            &self.v_misc,
            &self.str_lens,
            &self.strs,
            &self.buf_lens,
            &self.bufs,
            &self.addr_lens,
            &self.addrs,
        ];
        cols.iter().map(|c| c.len()).sum::<usize>() + 2 * self.sc_id.len()
    }

    /// The byte columns by schema name, for tests that damage them.
    #[cfg(test)]
    pub(crate) fn byte_columns(&mut self) -> Vec<(&'static str, &mut Vec<u8>)> {
        vec![
            ("kinds", &mut self.kinds),
            ("ts_delta", &mut self.ts_delta),
            ("tid_delta", &mut self.tid_delta),
            ("pid_from_tid", &mut self.pid_from_tid),
            ("sc_ret", &mut self.sc_ret),
            ("sc_duration", &mut self.sc_duration),
            ("sc_shape", &mut self.sc_shape),
            ("sc_nparams", &mut self.sc_nparams),
            ("sc_args", &mut self.sc_args),
            ("p_index", &mut self.p_index),
            ("p_kind", &mut self.p_kind),
            ("v_int", &mut self.v_int),
            ("v_flags", &mut self.v_flags),
            ("v_misc", &mut self.v_misc),
            ("str_lens", &mut self.str_lens),
            ("strs", &mut self.strs),
            ("buf_lens", &mut self.buf_lens),
            ("bufs", &mut self.bufs),
            ("addr_lens", &mut self.addr_lens),
            ("addrs", &mut self.addrs),
        ]
    }

    /// The syscall id column, for tests that damage it.
    #[cfg(test)]
    pub(crate) fn sc_id_column(&mut self) -> &mut Vec<u16> {
        &mut self.sc_id
    }

    /// Appends one event (an event that is not a syscall is encoded as a
    /// table into `fbb`, which also holds the chunk's other tables).
    pub(crate) fn push(&mut self, fbb: &mut FlatBufferBuilder<'static>, ev: &Event) {
        put_signed(&mut self.ts_delta, ev.ts.wrapping_sub(self.prev_ts) as i64);
        self.prev_ts = ev.ts;
        put_signed(
            &mut self.tid_delta,
            i64::from(ev.tid.wrapping_sub(self.prev_tid)),
        );
        self.prev_tid = ev.tid;
        put_signed(
            &mut self.pid_from_tid,
            i64::from(ev.tid.wrapping_sub(ev.pid)),
        );
        match &ev.body {
            EventBody::Syscall(s) => {
                self.kinds.push(kind::SYSCALL);
                self.syscall(s);
            }
            body => {
                self.kinds.push(kind::OTHER);
                let off = encode::other_event(fbb, body);
                self.others.push(off);
            }
        }
    }

    fn syscall(&mut self, s: &SyscallEvent) {
        self.sc_id.push(s.id);
        put_signed(&mut self.sc_ret, s.ret);
        put(&mut self.sc_duration, u64::from(s.duration_ns));
        put(
            &mut self.sc_shape,
            ((s.args.len() as u64) << 1) | u64::from(s.no_return),
        );
        put(&mut self.sc_nparams, s.params.len() as u64);
        for a in &s.args {
            put(&mut self.sc_args, *a);
        }
        for p in &s.params {
            self.p_index.push(p.index);
            self.value(&p.value);
        }
    }

    fn value(&mut self, v: &Value) {
        let k = match v {
            Value::Int(i) => {
                put_signed(&mut self.v_int, *i);
                fb::Value::IntValue
            }
            Value::Flags(f) => {
                put(&mut self.v_flags, *f);
                fb::Value::FlagsValue
            }
            Value::Path { raw, resolved } => {
                blob(&mut self.str_lens, &mut self.strs, raw);
                blob(&mut self.str_lens, &mut self.strs, resolved);
                fb::Value::PathValue
            }
            Value::Str(s) => {
                blob(&mut self.str_lens, &mut self.strs, s);
                fb::Value::StrValue
            }
            Value::Bytes { data, len } => {
                put(&mut self.v_misc, *len);
                blob(&mut self.buf_lens, &mut self.bufs, data);
                fb::Value::BytesValue
            }
            Value::StrList { items, truncated } => {
                put(
                    &mut self.v_misc,
                    ((items.len() as u64) << 1) | u64::from(*truncated),
                );
                for i in items {
                    blob(&mut self.str_lens, &mut self.strs, i);
                }
                fb::Value::StrListValue
            }
            Value::SockAddr(a) => {
                put(&mut self.v_misc, u64::from(a.family));
                put(&mut self.v_misc, u64::from(a.port));
                blob(&mut self.addr_lens, &mut self.addrs, &a.addr);
                blob(&mut self.addr_lens, &mut self.addrs, &a.path);
                blob(&mut self.addr_lens, &mut self.addrs, &a.raw);
                fb::Value::SockAddrValue
            }
            Value::FdPair(a, b) => {
                put_signed(&mut self.v_int, i64::from(*a));
                put_signed(&mut self.v_int, i64::from(*b));
                fb::Value::FdPairValue
            }
            Value::OpenHow {
                flags,
                mode,
                resolve,
            } => {
                for x in [flags, mode, resolve] {
                    put(&mut self.v_flags, *x);
                }
                fb::Value::OpenHowValue
            }
            Value::CloneArgs(c) => {
                for x in [
                    c.flags,
                    c.exit_signal,
                    c.stack,
                    c.tls,
                    c.set_tid_size,
                    c.cgroup,
                ] {
                    put(&mut self.v_flags, x);
                }
                fb::Value::CloneArgsValue
            }
            Value::Fault(a) => {
                put(&mut self.v_flags, *a);
                fb::Value::FaultValue
            }
        };
        self.p_kind.push(k.0);
    }

    /// Builds the `EventColumns` table into `fbb` and clears the columns.
    pub(crate) fn finish(
        &mut self,
        fbb: &mut FlatBufferBuilder<'static>,
    ) -> WIPOffset<fb::EventColumns<'static>> {
        fn v(
            fbb: &mut FlatBufferBuilder<'static>,
            c: &mut Vec<u8>,
        ) -> Option<WIPOffset<flatbuffers::Vector<'static, u8>>> {
            let o = (!c.is_empty()).then(|| fbb.create_vector(c));
            c.clear();
            o
        }
        let args = fb::EventColumnsArgs {
            kinds: v(fbb, &mut self.kinds),
            ts_delta: v(fbb, &mut self.ts_delta),
            tid_delta: v(fbb, &mut self.tid_delta),
            pid_from_tid: v(fbb, &mut self.pid_from_tid),
            sc_id: (!self.sc_id.is_empty()).then(|| fbb.create_vector(&self.sc_id)),
            sc_ret: v(fbb, &mut self.sc_ret),
            sc_duration: v(fbb, &mut self.sc_duration),
            sc_shape: v(fbb, &mut self.sc_shape),
            sc_nparams: v(fbb, &mut self.sc_nparams),
            sc_args: v(fbb, &mut self.sc_args),
            p_index: v(fbb, &mut self.p_index),
            p_kind: v(fbb, &mut self.p_kind),
            v_int: v(fbb, &mut self.v_int),
            v_flags: v(fbb, &mut self.v_flags),
            v_misc: v(fbb, &mut self.v_misc),
            str_lens: v(fbb, &mut self.str_lens),
            strs: v(fbb, &mut self.strs),
            buf_lens: v(fbb, &mut self.buf_lens),
            bufs: v(fbb, &mut self.bufs),
            addr_lens: v(fbb, &mut self.addr_lens),
            addrs: v(fbb, &mut self.addrs),
            others: (!self.others.is_empty()).then(|| fbb.create_vector(&self.others)),
        };
        self.sc_id.clear();
        self.others.clear();
        fb::EventColumns::create(fbb, &args)
    }
}

fn blob(lens: &mut Vec<u8>, bytes: &mut Vec<u8>, b: &[u8]) {
    put(lens, b.len() as u64);
    bytes.extend_from_slice(b);
}
