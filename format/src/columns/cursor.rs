//! The reader's side: a chunk's events, one at a time, into one reused
//! [`Event`].

use flatbuffers::{ForwardsUOffset, Vector};

use super::kind;
use super::varint::{Blobs, Reader};
use crate::decode;
use crate::fb;
use crate::model::{CloneArgs, Event, EventBody, Marker, Param, SockAddr, SyscallEvent, Value};

type Rows<'a> = Vector<'a, ForwardsUOffset<fb::Event<'a>>>;

/// Walks a chunk's events in order (version 1 rows or version 2 columns),
/// decoding each into the same [`Event`], whose buffers are reused: after
/// the first events, a walk allocates only when an event needs more room
/// than any before it.
pub struct Cursor<'a> {
    src: Src<'a>,
    ev: Event,
    next: usize,
    len: usize,
}

enum Src<'a> {
    Rows(Rows<'a>),
    Cols(Box<Cols<'a>>),
}

struct Cols<'a> {
    kinds: &'a [u8],
    ts: Reader<'a>,
    tid: Reader<'a>,
    pid: Reader<'a>,
    sc_id: Option<Vector<'a, u16>>,
    sc_next: usize,
    ret: Reader<'a>,
    duration: Reader<'a>,
    shape: Reader<'a>,
    nparams: Reader<'a>,
    args: Reader<'a>,
    p_index: &'a [u8],
    p_kind: &'a [u8],
    p_next: usize,
    v_int: Reader<'a>,
    v_flags: Reader<'a>,
    v_misc: Reader<'a>,
    strs: Blobs<'a>,
    bufs: Blobs<'a>,
    addrs: Blobs<'a>,
    others: Option<Rows<'a>>,
    o_next: usize,
    prev_ts: u64,
    prev_tid: i32,
    /// Whether values are copied into the event. [`check`] walks with
    /// `false`: every column is read and every bound checked exactly as
    /// a decoding walk does (one code path), but no byte is copied.
    copy: bool,
    /// Values with buffers that a parameter slot gave up when it took a
    /// value of another kind (an `open`'s path, then a `read`'s bytes),
    /// kept so that the next value of their kind reuses their buffers.
    spares: Vec<Value>,
}

/// How many [`Cols::spares`] are kept (each holds at most one chunk's
/// largest value per buffer).
const MAX_SPARES: usize = 8;

/// Whether `v` is a value of the column kind `kind`.
fn same_kind(v: &Value, kind: u8) -> bool {
    matches!(
        (v, fb::Value(kind)),
        (Value::Path { .. }, fb::Value::PathValue)
            | (Value::Str(_), fb::Value::StrValue)
            | (Value::Bytes { .. }, fb::Value::BytesValue)
            | (Value::StrList { .. }, fb::Value::StrListValue)
            | (Value::SockAddr(_), fb::Value::SockAddrValue)
    )
}

/// Whether `v` owns buffers worth keeping.
fn has_buffers(v: &Value) -> bool {
    matches!(
        v,
        Value::Path { .. }
            | Value::Str(_)
            | Value::Bytes { .. }
            | Value::StrList { .. }
            | Value::SockAddr(_)
    )
}

/// Why a column walk stopped: the column that was short or bad.
type Damage = &'static str;

fn bytes(v: Option<Vector<'_, u8>>) -> &[u8] {
    v.map(|v| v.bytes()).unwrap_or_default()
}

impl<'a> Cursor<'a> {
    /// A cursor over a verified chunk root (see `Chunk`).
    pub(crate) fn new(root: fb::Chunk<'a>) -> Cursor<'a> {
        let empty = Event {
            ts: 0,
            tid: 0,
            pid: 0,
            body: EventBody::Marker(Marker::default()),
        };
        match root.columns() {
            None => {
                let rows = root.events();
                Cursor {
                    len: rows.len(),
                    src: Src::Rows(rows),
                    ev: empty,
                    next: 0,
                }
            }
            Some(c) => {
                let kinds = bytes(c.kinds());
                let cols = Cols {
                    kinds,
                    ts: Reader::new(bytes(c.ts_delta())),
                    tid: Reader::new(bytes(c.tid_delta())),
                    pid: Reader::new(bytes(c.pid_from_tid())),
                    sc_id: c.sc_id(),
                    sc_next: 0,
                    ret: Reader::new(bytes(c.sc_ret())),
                    duration: Reader::new(bytes(c.sc_duration())),
                    shape: Reader::new(bytes(c.sc_shape())),
                    nparams: Reader::new(bytes(c.sc_nparams())),
                    args: Reader::new(bytes(c.sc_args())),
                    p_index: bytes(c.p_index()),
                    p_kind: bytes(c.p_kind()),
                    p_next: 0,
                    v_int: Reader::new(bytes(c.v_int())),
                    v_flags: Reader::new(bytes(c.v_flags())),
                    v_misc: Reader::new(bytes(c.v_misc())),
                    strs: Blobs::new(bytes(c.str_lens()), bytes(c.strs())),
                    bufs: Blobs::new(bytes(c.buf_lens()), bytes(c.bufs())),
                    addrs: Blobs::new(bytes(c.addr_lens()), bytes(c.addrs())),
                    others: c.others(),
                    o_next: 0,
                    prev_ts: root.header().first_ts(),
                    prev_tid: 0,
                    copy: true,
                    spares: Vec::new(),
                };
                Cursor {
                    len: kinds.len(),
                    src: Src::Cols(Box::new(cols)),
                    ev: empty,
                    next: 0,
                }
            }
        }
    }

    /// Number of events in the chunk (known kinds or not).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The next event: `None` after the last; `Some(None)` for an event of
    /// a kind this version does not know (it keeps its number).
    #[allow(clippy::should_implement_trait)]
    pub fn next_event(&mut self) -> Option<Option<&Event>> {
        match self.advance()? {
            Ok(true) => Some(Some(&self.ev)),
            Ok(false) => Some(None),
            // Only chunks whose walk succeeded exist (`check`), so this
            // ends a walk only if that guarantee were broken.
            Err(_) => {
                self.next = self.len;
                None
            }
        }
    }

    /// Decodes the next event into `self.ev`: `Ok(false)` for an unknown
    /// kind, `None` after the last.
    fn advance(&mut self) -> Option<Result<bool, Damage>> {
        if self.next >= self.len {
            return None;
        }
        let i = self.next;
        self.next += 1;
        Some(match &mut self.src {
            Src::Rows(rows) => match decode::event(rows.get(i)) {
                Some(e) => {
                    self.ev = e;
                    Ok(true)
                }
                None => Ok(false),
            },
            Src::Cols(c) => c.event(i, &mut self.ev),
        })
    }
}

impl Cols<'_> {
    fn event(&mut self, i: usize, ev: &mut Event) -> Result<bool, Damage> {
        let dts = self.ts.next_signed().ok_or("ts_delta")?;
        let dtid = self.tid.next_signed().ok_or("tid_delta")?;
        let pid_from = self.pid.next_signed().ok_or("pid_from_tid")?;
        let ts = self.prev_ts.wrapping_add(dts as u64);
        let tid = self.prev_tid.wrapping_add(dtid as i32);
        self.prev_ts = ts;
        self.prev_tid = tid;
        ev.ts = ts;
        ev.tid = tid;
        ev.pid = tid.wrapping_sub(pid_from as i32);
        match self.kinds.get(i).copied() {
            Some(kind::SYSCALL) => {
                let body = std::mem::replace(&mut ev.body, EventBody::Marker(Marker::default()));
                let mut s = match body {
                    EventBody::Syscall(s) => s,
                    _ => SyscallEvent::default(),
                };
                let r = self.syscall(&mut s);
                ev.body = EventBody::Syscall(s);
                r.map(|()| true)
            }
            Some(kind::OTHER) => {
                let others = self.others.ok_or("others")?;
                if self.o_next >= others.len() {
                    return Err("others");
                }
                let o = others.get(self.o_next);
                self.o_next += 1;
                match decode::event_body(o) {
                    Some(b) => {
                        ev.body = b;
                        Ok(true)
                    }
                    None => Ok(false),
                }
            }
            _ => Err("kinds (an unknown event kind)"),
        }
    }

    fn syscall(&mut self, s: &mut SyscallEvent) -> Result<(), Damage> {
        let ids = self.sc_id.ok_or("sc_id")?;
        if self.sc_next >= ids.len() {
            return Err("sc_id");
        }
        s.id = ids.get(self.sc_next);
        self.sc_next += 1;
        s.ret = self.ret.next_signed().ok_or("sc_ret")?;
        s.duration_ns = u32::try_from(self.duration.next().ok_or("sc_duration")?)
            .map_err(|_| "sc_duration (over 32 bits)")?;
        let shape = self.shape.next().ok_or("sc_shape")?;
        s.no_return = shape & 1 == 1;
        let nargs = shape >> 1;
        let nparams = self.nparams.next().ok_or("sc_nparams")?;
        s.args.clear();
        for _ in 0..nargs {
            // Bounded by the column: a short one ends the loop.
            s.args.push(self.args.next().ok_or("sc_args")?);
        }
        let mut n = 0usize;
        for _ in 0..nparams {
            let j = self.p_next;
            let (Some(&index), Some(&kind)) = (self.p_index.get(j), self.p_kind.get(j)) else {
                return Err("p_index/p_kind");
            };
            self.p_next += 1;
            if n < s.params.len() {
                let p = &mut s.params[n];
                p.index = index;
                self.value(kind, &mut p.value)?;
            } else {
                let mut value = Value::Int(0);
                self.value(kind, &mut value)?;
                s.params.push(Param { index, value });
            }
            n += 1;
        }
        for p in s.params.drain(n..) {
            self.keep_spare(p.value);
        }
        Ok(())
    }

    fn keep_spare(&mut self, v: Value) {
        if has_buffers(&v) && self.spares.len() < MAX_SPARES {
            self.spares.push(v);
        }
    }

    /// Fills `slot` with the next value of `kind`, reusing its buffers when
    /// it already holds that kind, or a spare's of that kind.
    fn value(&mut self, kind: u8, slot: &mut Value) -> Result<(), Damage> {
        if !same_kind(slot, kind) {
            match self.spares.iter().position(|v| same_kind(v, kind)) {
                // The slot takes the spare; the spare place takes the
                // slot's old value (and its buffers).
                Some(i) => {
                    std::mem::swap(slot, &mut self.spares[i]);
                    if !has_buffers(&self.spares[i]) {
                        self.spares.swap_remove(i);
                    }
                }
                None => {
                    let old = std::mem::replace(slot, Value::Int(0));
                    self.keep_spare(old);
                }
            }
        }
        let copy = self.copy;
        let set = |dst: &mut Vec<u8>, src: &[u8]| {
            if copy {
                set(dst, src);
            }
        };
        let int = |r: &mut Reader<'_>, what| r.next_signed().ok_or(what);
        let word = |r: &mut Reader<'_>, what| r.next().ok_or(what);
        match fb::Value(kind) {
            fb::Value::IntValue => *slot = Value::Int(int(&mut self.v_int, "v_int")?),
            fb::Value::FlagsValue => *slot = Value::Flags(word(&mut self.v_flags, "v_flags")?),
            fb::Value::PathValue => {
                let raw = self.strs.next().ok_or("strs")?;
                let resolved = self.strs.next().ok_or("strs")?;
                if let Value::Path {
                    raw: r,
                    resolved: s,
                } = slot
                {
                    set(r, raw);
                    set(s, resolved);
                } else {
                    *slot = Value::Path {
                        raw: raw.to_vec(),
                        resolved: resolved.to_vec(),
                    };
                }
            }
            fb::Value::StrValue => {
                let v = self.strs.next().ok_or("strs")?;
                if let Value::Str(s) = slot {
                    set(s, v);
                } else {
                    *slot = Value::Str(v.to_vec());
                }
            }
            fb::Value::BytesValue => {
                let len = word(&mut self.v_misc, "v_misc")?;
                let data = self.bufs.next().ok_or("bufs")?;
                if let Value::Bytes { data: d, len: l } = slot {
                    set(d, data);
                    *l = len;
                } else {
                    *slot = Value::Bytes {
                        data: data.to_vec(),
                        len,
                    };
                }
            }
            fb::Value::StrListValue => {
                let head = word(&mut self.v_misc, "v_misc")?;
                if !matches!(slot, Value::StrList { .. }) {
                    *slot = Value::StrList {
                        items: Vec::new(),
                        truncated: false,
                    };
                }
                if let Value::StrList { items, truncated } = slot {
                    *truncated = head & 1 == 1;
                    let mut n = 0usize;
                    for _ in 0..head >> 1 {
                        // Bounded by the column: a short one ends the loop.
                        let item = self.strs.next().ok_or("strs")?;
                        if n < items.len() {
                            set(&mut items[n], item);
                            n += 1;
                        } else if copy {
                            items.push(item.to_vec());
                            n += 1;
                        }
                    }
                    items.truncate(n);
                }
            }
            fb::Value::SockAddrValue => {
                let family = word(&mut self.v_misc, "v_misc")?;
                let port = word(&mut self.v_misc, "v_misc")?;
                let family = u16::try_from(family).map_err(|_| "v_misc (family over 16 bits)")?;
                let port = u16::try_from(port).map_err(|_| "v_misc (port over 16 bits)")?;
                let addr = self.addrs.next().ok_or("addrs")?;
                let path = self.addrs.next().ok_or("addrs")?;
                let raw = self.addrs.next().ok_or("addrs")?;
                if let Value::SockAddr(a) = slot {
                    a.family = family;
                    a.port = port;
                    set(&mut a.addr, addr);
                    set(&mut a.path, path);
                    set(&mut a.raw, raw);
                } else {
                    *slot = Value::SockAddr(SockAddr {
                        family,
                        addr: addr.to_vec(),
                        port,
                        path: path.to_vec(),
                        raw: raw.to_vec(),
                    });
                }
            }
            fb::Value::FdPairValue => {
                let a = int(&mut self.v_int, "v_int")?;
                let b = int(&mut self.v_int, "v_int")?;
                let a = i32::try_from(a).map_err(|_| "v_int (fd over 32 bits)")?;
                let b = i32::try_from(b).map_err(|_| "v_int (fd over 32 bits)")?;
                *slot = Value::FdPair(a, b);
            }
            fb::Value::OpenHowValue => {
                let flags = word(&mut self.v_flags, "v_flags")?;
                let mode = word(&mut self.v_flags, "v_flags")?;
                let resolve = word(&mut self.v_flags, "v_flags")?;
                *slot = Value::OpenHow {
                    flags,
                    mode,
                    resolve,
                };
            }
            fb::Value::CloneArgsValue => {
                let mut w = [0u64; 6];
                for x in &mut w {
                    *x = word(&mut self.v_flags, "v_flags")?;
                }
                let [flags, exit_signal, stack, tls, set_tid_size, cgroup] = w;
                *slot = Value::CloneArgs(CloneArgs {
                    flags,
                    exit_signal,
                    stack,
                    tls,
                    set_tid_size,
                    cgroup,
                });
            }
            fb::Value::FaultValue => *slot = Value::Fault(word(&mut self.v_flags, "v_flags")?),
            _ => return Err("p_kind (an unknown value kind)"),
        }
        Ok(())
    }

    /// Whether every column was read to its end.
    fn unread(&self) -> Option<&'static str> {
        let readers = [
            (self.ts, "ts_delta"),
            (self.tid, "tid_delta"),
            (self.pid, "pid_from_tid"),
            (self.ret, "sc_ret"),
            (self.duration, "sc_duration"),
            (self.shape, "sc_shape"),
            (self.nparams, "sc_nparams"),
            (self.args, "sc_args"),
            (self.v_int, "v_int"),
            (self.v_flags, "v_flags"),
            (self.v_misc, "v_misc"),
        ];
        if let Some((_, name)) = readers.iter().find(|(r, _)| !r.at_end()) {
            return Some(name);
        }
        let blobs = [
            (self.strs, "str_lens/strs"),
            (self.bufs, "buf_lens/bufs"),
            (self.addrs, "addr_lens/addrs"),
        ];
        if let Some((_, name)) = blobs.iter().find(|(b, _)| !b.at_end()) {
            return Some(name);
        }
        if self.sc_next != self.sc_id.map_or(0, |v| v.len()) {
            return Some("sc_id");
        }
        if self.p_next != self.p_kind.len() || self.p_next != self.p_index.len() {
            return Some("p_index/p_kind");
        }
        if self.o_next != self.others.map_or(0, |v| v.len()) {
            return Some("others");
        }
        None
    }
}

fn set(dst: &mut Vec<u8>, src: &[u8]) {
    dst.clear();
    dst.extend_from_slice(src);
}

/// Checks a verified chunk root's event body for its format version:
/// version 1 has rows and no columns, version 2 columns and no rows, and
/// every column holds exactly the entries its events take. Runs once per
/// chunk, before a `Chunk` exists.
pub(crate) fn check(root: fb::Chunk<'_>, version: u32, event_count: u32) -> Result<(), String> {
    let columns = root.columns();
    if version < 2 {
        if columns.is_some() {
            return Err(format!("a version {version} chunk holds event columns"));
        }
        return Ok(());
    }
    if columns.is_none() {
        return Err(format!("a version {version} chunk has no event columns"));
    }
    if !root.events().is_empty() {
        return Err(format!("a version {version} chunk holds event rows"));
    }
    let mut cur = Cursor::new(root);
    if let Src::Cols(c) = &mut cur.src {
        c.copy = false;
    }
    if cur.len() != event_count as usize {
        return Err(format!(
            "header counts {event_count} events, the kinds column holds {}",
            cur.len()
        ));
    }
    while let Some(r) = cur.advance() {
        if let Err(col) = r {
            return Err(format!(
                "event column {col} is short or invalid at event {}",
                cur.next
            ));
        }
    }
    if let Src::Cols(c) = &cur.src
        && let Some(col) = c.unread()
    {
        return Err(format!(
            "event column {col} holds more than the chunk's events take"
        ));
    }
    Ok(())
}
