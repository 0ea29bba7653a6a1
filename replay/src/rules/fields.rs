//! The field registry: every field a condition or an output may name.
//!
//! Each field is a [`FieldId`] (a dense enum, so evaluation dispatches on an
//! integer, never on a name), a [`FieldType`], an argument specification and
//! a multiplicity. Names follow libsinsp and Falco's container plugin.
//!
//! **Invariant:** a [`FieldRef`] is only built by [`resolve`], so every field
//! reaching the compiler and the [`FieldSource`](super::FieldSource) exists
//! and carries an argument of the kind the field accepts.

use std::fmt;

/// The value type a field yields (libsinsp's `PT_*` types, folded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Text (`PT_CHARBUF`, `PT_FSPATH`, ...).
    Str,
    /// Raw bytes (`PT_BYTEBUF`): I/O buffers.
    Bytes,
    /// Signed integer (`PT_INT*`, `PT_FD`, `PT_PID`, `PT_ERRNO`).
    I64,
    /// Unsigned integer (`PT_UINT*`, `PT_UID`, `PT_GID`, flags as numbers).
    U64,
    /// Boolean (`PT_BOOL`): compared with `true`/`false`.
    Bool,
    /// An IPv4/IPv6 address (`PT_IPADDR`); constants may also be CIDRs.
    Ip,
    /// An address tested for membership of networks (`PT_IPNET`): constants
    /// are CIDRs (or single addresses), the value is an address.
    IpNet,
    /// A TCP/UDP port (`PT_PORT`).
    Port,
    /// Absolute time in nanoseconds since the epoch (`PT_ABSTIME`).
    AbsTime,
    /// A duration in nanoseconds (`PT_RELTIME`).
    RelTime,
    /// Floating point (`PT_DOUBLE`).
    Double,
}

impl FieldType {
    /// Lower-case name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Str => "string",
            FieldType::Bytes => "bytes",
            FieldType::I64 => "int64",
            FieldType::U64 => "uint64",
            FieldType::Bool => "bool",
            FieldType::Ip => "ipaddr",
            FieldType::IpNet => "ipnet",
            FieldType::Port => "port",
            FieldType::AbsTime => "abstime",
            FieldType::RelTime => "reltime",
            FieldType::Double => "double",
        }
    }

    /// Whether values of this type are numbers.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::I64
                | FieldType::U64
                | FieldType::Port
                | FieldType::AbsTime
                | FieldType::RelTime
                | FieldType::Double
        )
    }

    /// Whether values of this type are text or bytes.
    pub fn is_text(self) -> bool {
        matches!(self, FieldType::Str | FieldType::Bytes)
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What argument a field takes (`proc.aname[2]`, `evt.arg.flags`, `proc.env[HOME]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgSpec {
    /// No argument.
    None,
    /// An optional numeric index in brackets (`proc.aname[2]`).
    OptIndex,
    /// A required key, as `[key]` or `.key` (`evt.rawarg.res`).
    Key,
    /// An optional key, as `[key]` (`proc.env[HOME]`).
    OptKey,
    /// A required index or key: `[0]`, `[name]` or `.name` (`evt.arg`).
    IndexOrKey,
}

/// How many values a field yields for one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Multiplicity {
    /// One value (or none).
    One,
    /// Without an index, the values of every ancestor (parent first): a
    /// comparison is true when it holds for any of them (`proc.aname`).
    Ancestors,
    /// Either end of a connection (`fd.ip`, `fd.port`, `fd.net`,
    /// `fd.proto`): the client's and the server's value; a comparison is
    /// true when it holds for either, as libsinsp's.
    Either,
    /// A list (libsinsp `EPF_IS_LIST`): `in` is true when every value is in
    /// the set, `intersects` when any is.
    List,
}

/// A field's static description.
#[derive(Debug)]
pub struct FieldInfo {
    /// The dense identifier.
    pub id: FieldId,
    /// The name as written in conditions (`proc.name`).
    pub name: &'static str,
    /// The value type.
    pub ty: FieldType,
    /// The argument it takes.
    pub arg: ArgSpec,
    /// How many values it yields.
    pub multi: Multiplicity,
    /// The family the name belongs to (from its prefix).
    pub class: FieldClass,
}

/// A field's family, named by the prefix of its name (`proc.` -> `Proc`).
/// Sources dispatch on it before matching the field itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldClass {
    /// `evt.*` and `syscall.type`.
    Evt,
    /// `proc.*`.
    Proc,
    /// `thread.*`.
    Thread,
    /// `user.*` and `group.*`.
    User,
    /// `fd.*`.
    Fd,
    /// `fdlist.*` (poll sets).
    Fdlist,
    /// `fs.path.*`.
    FsPath,
    /// `container.*`.
    Container,
    /// `k8s.*`.
    K8s,
}

impl FieldClass {
    /// The class of a field name, decided at compile time for the registry.
    const fn of(name: &str) -> FieldClass {
        const fn starts(name: &[u8], prefix: &[u8]) -> bool {
            if name.len() < prefix.len() {
                return false;
            }
            let mut i = 0;
            while i < prefix.len() {
                if name[i] != prefix[i] {
                    return false;
                }
                i += 1;
            }
            true
        }
        let n = name.as_bytes();
        if starts(n, b"proc.") {
            FieldClass::Proc
        } else if starts(n, b"thread.") {
            FieldClass::Thread
        } else if starts(n, b"user.") || starts(n, b"group.") {
            FieldClass::User
        } else if starts(n, b"fd.") {
            FieldClass::Fd
        } else if starts(n, b"fdlist.") {
            FieldClass::Fdlist
        } else if starts(n, b"fs.path.") {
            FieldClass::FsPath
        } else if starts(n, b"container.") {
            FieldClass::Container
        } else if starts(n, b"k8s.") {
            FieldClass::K8s
        } else {
            FieldClass::Evt
        }
    }
}

/// A field's argument, parsed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FieldArg {
    /// No argument.
    None,
    /// A numeric index (`proc.aname[2]`, `evt.arg[0]`).
    Index(u32),
    /// A key (`evt.arg.flags`, `proc.env[HOME]`, `container.mount.dest[/proc*]`).
    Key(Box<str>),
}

/// A resolved field reference: what a [`FieldSource`](super::FieldSource) is asked for.
///
/// `slot` is a dense index assigned by the compiled ruleset (see
/// [`CompiledRuleset::fields`](super::CompiledRuleset::fields)); a source may
/// use it to precompute per-field plans (e.g. argument positions by syscall)
/// and to cache values per event. It is 0 for references built outside a ruleset.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldRef {
    /// Which field.
    pub id: FieldId,
    /// Its argument.
    pub arg: FieldArg,
    /// Dense index within the ruleset's field table.
    pub slot: u32,
}

impl FieldRef {
    /// The static description of this field.
    pub fn info(&self) -> &'static FieldInfo {
        self.id.info()
    }

    /// The field type.
    pub fn ty(&self) -> FieldType {
        self.id.info().ty
    }

    /// Whether the evaluator asks for all values with
    /// [`FieldSource::for_each`](super::FieldSource::for_each) rather than one with `get`.
    pub fn is_multi(&self) -> bool {
        match self.id.info().multi {
            Multiplicity::One => false,
            Multiplicity::List | Multiplicity::Either => true,
            Multiplicity::Ancestors => self.arg == FieldArg::None,
        }
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id.info().name)?;
        match &self.arg {
            FieldArg::None => Ok(()),
            FieldArg::Index(i) => write!(f, "[{i}]"),
            FieldArg::Key(k) => write!(f, "[{k}]"),
        }
    }
}

/// Why a field name did not resolve.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// No such field.
    #[error("unknown field `{0}`")]
    Unknown(String),
    /// The field needs an argument.
    #[error("field `{0}` requires an argument")]
    MissingArg(String),
    /// The field takes no argument.
    #[error("field `{0}` does not take an argument")]
    UnexpectedArg(String),
    /// The argument should be a number.
    #[error("field `{field}` requires a numeric index, got `{arg}`")]
    BadIndex {
        /// Field name.
        field: String,
        /// The argument given.
        arg: String,
    },
}

/// Looks a field up by exact name.
pub fn lookup(name: &str) -> Option<&'static FieldInfo> {
    FIELDS.iter().find(|f| f.name == name)
}

/// Resolves a field as written (`name` from the lexer, `arg` from `[...]`).
///
/// `evt.arg.flags` resolves to `evt.arg` with key `flags` (the dotted form
/// applies to fields whose argument is a key).
pub fn resolve(name: &str, arg: Option<&str>) -> Result<FieldRef, FieldError> {
    let (info, arg) = match lookup(name) {
        Some(info) => (info, arg.map(str::to_owned)),
        None => {
            // Dotted argument form: the longest registered prefix taking a key.
            let mut found = None;
            for (i, _) in name.rmatch_indices('.') {
                if let Some(info) = lookup(&name[..i])
                    && matches!(
                        info.arg,
                        ArgSpec::Key | ArgSpec::IndexOrKey | ArgSpec::OptKey
                    )
                {
                    found = Some((info, &name[i + 1..]));
                    break;
                }
            }
            match (found, arg) {
                (Some((info, key)), None) => (info, Some(key.to_owned())),
                _ => return Err(FieldError::Unknown(name.to_owned())),
            }
        }
    };
    let parsed = match (info.arg, arg) {
        (ArgSpec::None, None) | (ArgSpec::OptIndex | ArgSpec::OptKey, None) => FieldArg::None,
        (ArgSpec::None, Some(_)) => return Err(FieldError::UnexpectedArg(name.to_owned())),
        (ArgSpec::Key | ArgSpec::IndexOrKey, None) => {
            return Err(FieldError::MissingArg(name.to_owned()));
        }
        (ArgSpec::OptIndex, Some(a)) => match a.parse::<u32>() {
            Ok(i) => FieldArg::Index(i),
            Err(_) => {
                return Err(FieldError::BadIndex {
                    field: info.name.to_owned(),
                    arg: a,
                });
            }
        },
        (ArgSpec::IndexOrKey, Some(a)) => match a.parse::<u32>() {
            Ok(i) => FieldArg::Index(i),
            Err(_) => FieldArg::Key(a.into()),
        },
        (ArgSpec::Key | ArgSpec::OptKey, Some(a)) => FieldArg::Key(a.into()),
    };
    Ok(FieldRef {
        id: info.id,
        arg: parsed,
        slot: 0,
    })
}

macro_rules! fields {
    ($($id:ident = $name:literal : $ty:ident, $arg:ident, $multi:ident;)*) => {
        /// Every known field, one variant each (see [`FIELDS`] for names and types).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
        pub enum FieldId { $($id,)* }

        /// The registry, in [`FieldId`] order.
        pub static FIELDS: &[FieldInfo] = &[
            $(FieldInfo {
                id: FieldId::$id,
                name: $name,
                ty: FieldType::$ty,
                arg: ArgSpec::$arg,
                multi: Multiplicity::$multi,
                class: FieldClass::of($name),
            },)*
        ];

        impl FieldId {
            /// The static description of this field.
            pub fn info(self) -> &'static FieldInfo {
                &FIELDS[self as usize]
            }
            /// The field's name.
            pub fn name(self) -> &'static str {
                self.info().name
            }
            /// The field's family.
            pub fn class(self) -> FieldClass {
                self.info().class
            }
        }
    };
}

fields! {
    // --- evt.* ---
    EvtNum = "evt.num": U64, None, One;
    EvtTime = "evt.time": Str, None, One;
    EvtTimeS = "evt.time.s": Str, None, One;
    EvtTimeIso8601 = "evt.time.iso8601": Str, None, One;
    EvtDatetime = "evt.datetime": Str, None, One;
    EvtDatetimeS = "evt.datetime.s": Str, None, One;
    EvtRawtime = "evt.rawtime": AbsTime, None, One;
    EvtRawtimeS = "evt.rawtime.s": U64, None, One;
    EvtRawtimeNs = "evt.rawtime.ns": U64, None, One;
    EvtReltime = "evt.reltime": RelTime, None, One;
    EvtReltimeS = "evt.reltime.s": U64, None, One;
    EvtReltimeNs = "evt.reltime.ns": U64, None, One;
    EvtLatency = "evt.latency": RelTime, None, One;
    EvtLatencyS = "evt.latency.s": U64, None, One;
    EvtLatencyNs = "evt.latency.ns": U64, None, One;
    EvtLatencyHuman = "evt.latency.human": Str, None, One;
    EvtDeltatime = "evt.deltatime": RelTime, None, One;
    EvtDeltatimeS = "evt.deltatime.s": U64, None, One;
    EvtDeltatimeNs = "evt.deltatime.ns": U64, None, One;
    EvtDir = "evt.dir": Str, None, One;
    EvtType = "evt.type": Str, None, One;
    EvtTypeIs = "evt.type.is": U64, Key, One;
    SyscallType = "syscall.type": Str, None, One;
    EvtCategory = "evt.category": Str, None, One;
    EvtCpu = "evt.cpu": I64, None, One;
    EvtArgs = "evt.args": Str, None, One;
    EvtArg = "evt.arg": Str, IndexOrKey, One;
    EvtRawarg = "evt.rawarg": Str, Key, One;
    EvtInfo = "evt.info": Str, None, One;
    EvtBuffer = "evt.buffer": Bytes, None, One;
    EvtBuflen = "evt.buflen": U64, None, One;
    EvtRes = "evt.res": Str, None, One;
    EvtRawres = "evt.rawres": I64, None, One;
    EvtFailed = "evt.failed": Bool, None, One;
    EvtIsIo = "evt.is_io": Bool, None, One;
    EvtIsIoRead = "evt.is_io_read": Bool, None, One;
    EvtIsIoWrite = "evt.is_io_write": Bool, None, One;
    EvtIoDir = "evt.io_dir": Str, None, One;
    EvtIsWait = "evt.is_wait": Bool, None, One;
    EvtWaitLatency = "evt.wait_latency": RelTime, None, One;
    EvtIsSyslog = "evt.is_syslog": Bool, None, One;
    EvtCount = "evt.count": U64, None, One;
    EvtCountError = "evt.count.error": U64, None, One;
    EvtCountErrorFile = "evt.count.error.file": U64, None, One;
    EvtCountErrorNet = "evt.count.error.net": U64, None, One;
    EvtCountErrorMemory = "evt.count.error.memory": U64, None, One;
    EvtCountErrorOther = "evt.count.error.other": U64, None, One;
    EvtCountExit = "evt.count.exit": U64, None, One;
    EvtAbspath = "evt.abspath": Str, None, One;
    EvtAbspathSrc = "evt.abspath.src": Str, None, One;
    EvtAbspathDst = "evt.abspath.dst": Str, None, One;
    EvtIsOpenRead = "evt.is_open_read": Bool, None, One;
    EvtIsOpenWrite = "evt.is_open_write": Bool, None, One;
    EvtIsOpenExec = "evt.is_open_exec": Bool, None, One;
    EvtIsOpenCreate = "evt.is_open_create": Bool, None, One;
    EvtHostname = "evt.hostname": Str, None, One;
    EvtSource = "evt.source": Str, None, One;
    EvtPluginname = "evt.pluginname": Str, None, One;
    EvtPlugininfo = "evt.plugininfo": Str, None, One;
    EvtIsAsync = "evt.is_async": Bool, None, One;
    EvtAsynctype = "evt.asynctype": Str, None, One;
    // --- proc.* ---
    ProcExe = "proc.exe": Str, None, One;
    ProcPexe = "proc.pexe": Str, None, One;
    ProcAexe = "proc.aexe": Str, OptIndex, Ancestors;
    ProcExepath = "proc.exepath": Str, None, One;
    ProcPexepath = "proc.pexepath": Str, None, One;
    ProcAexepath = "proc.aexepath": Str, OptIndex, Ancestors;
    ProcName = "proc.name": Str, None, One;
    ProcPname = "proc.pname": Str, None, One;
    ProcAname = "proc.aname": Str, OptIndex, Ancestors;
    ProcArgs = "proc.args": Str, None, One;
    ProcCmdline = "proc.cmdline": Str, None, One;
    ProcPcmdline = "proc.pcmdline": Str, None, One;
    ProcAcmdline = "proc.acmdline": Str, OptIndex, Ancestors;
    ProcCmdnargs = "proc.cmdnargs": U64, None, One;
    ProcCmdlenargs = "proc.cmdlenargs": U64, None, One;
    ProcExeline = "proc.exeline": Str, None, One;
    ProcEnv = "proc.env": Str, OptKey, One;
    ProcAenv = "proc.aenv": Str, OptKey, One;
    ProcCwd = "proc.cwd": Str, None, One;
    ProcLoginshellid = "proc.loginshellid": I64, None, One;
    ProcTty = "proc.tty": U64, None, One;
    ProcPid = "proc.pid": I64, None, One;
    ProcPpid = "proc.ppid": I64, None, One;
    ProcApid = "proc.apid": I64, OptIndex, Ancestors;
    ProcVpid = "proc.vpid": I64, None, One;
    ProcPvpid = "proc.pvpid": I64, None, One;
    ProcSid = "proc.sid": I64, None, One;
    ProcSname = "proc.sname": Str, None, One;
    ProcSidExe = "proc.sid.exe": Str, None, One;
    ProcSidExepath = "proc.sid.exepath": Str, None, One;
    ProcVpgid = "proc.vpgid": I64, None, One;
    ProcVpgidName = "proc.vpgid.name": Str, None, One;
    ProcVpgidExe = "proc.vpgid.exe": Str, None, One;
    ProcVpgidExepath = "proc.vpgid.exepath": Str, None, One;
    ProcPgid = "proc.pgid": I64, None, One;
    ProcPgidName = "proc.pgid.name": Str, None, One;
    ProcPgidExe = "proc.pgid.exe": Str, None, One;
    ProcPgidExepath = "proc.pgid.exepath": Str, None, One;
    ProcDuration = "proc.duration": RelTime, None, One;
    ProcPpidDuration = "proc.ppid.duration": RelTime, None, One;
    ProcPidTs = "proc.pid.ts": AbsTime, None, One;
    ProcPpidTs = "proc.ppid.ts": AbsTime, None, One;
    ProcIsExeWritable = "proc.is_exe_writable": Bool, None, One;
    ProcIsExeUpperLayer = "proc.is_exe_upper_layer": Bool, None, One;
    ProcIsExeFromMemfd = "proc.is_exe_from_memfd": Bool, None, One;
    ProcIsSidLeader = "proc.is_sid_leader": Bool, None, One;
    ProcIsVpgidLeader = "proc.is_vpgid_leader": Bool, None, One;
    ProcIsPgidLeader = "proc.is_pgid_leader": Bool, None, One;
    ProcExeIno = "proc.exe_ino": U64, None, One;
    ProcExeInoCtime = "proc.exe_ino.ctime": AbsTime, None, One;
    ProcExeInoMtime = "proc.exe_ino.mtime": AbsTime, None, One;
    ProcExeInoCtimeDurationProcStart = "proc.exe_ino.ctime_duration_proc_start": RelTime, None, One;
    ProcExeInoCtimeDurationPidnsStart = "proc.exe_ino.ctime_duration_pidns_start": RelTime, None, One;
    ProcPidnsInitStartTs = "proc.pidns_init_start_ts": AbsTime, None, One;
    ProcFdopencount = "proc.fdopencount": U64, None, One;
    ProcFdlimit = "proc.fdlimit": I64, None, One;
    ProcFdusage = "proc.fdusage": Double, None, One;
    ProcVmsize = "proc.vmsize": U64, None, One;
    ProcVmrss = "proc.vmrss": U64, None, One;
    ProcVmswap = "proc.vmswap": U64, None, One;
    ProcPfmajor = "proc.pfmajor": U64, None, One;
    ProcPfminor = "proc.pfminor": U64, None, One;
    ProcStdinType = "proc.stdin.type": Str, None, One;
    ProcStdinName = "proc.stdin.name": Str, None, One;
    ProcStdoutType = "proc.stdout.type": Str, None, One;
    ProcStdoutName = "proc.stdout.name": Str, None, One;
    ProcStderrType = "proc.stderr.type": Str, None, One;
    ProcStderrName = "proc.stderr.name": Str, None, One;
    ProcIsContainerHealthcheck = "proc.is_container_healthcheck": Bool, None, One;
    ProcIsContainerLivenessProbe = "proc.is_container_liveness_probe": Bool, None, One;
    ProcIsContainerReadinessProbe = "proc.is_container_readiness_probe": Bool, None, One;
    // --- thread.* ---
    ThreadTid = "thread.tid": I64, None, One;
    ThreadIsmain = "thread.ismain": Bool, None, One;
    ThreadVtid = "thread.vtid": I64, None, One;
    ThreadExectime = "thread.exectime": RelTime, None, One;
    ThreadTotexectime = "thread.totexectime": RelTime, None, One;
    ThreadCgroups = "thread.cgroups": Str, None, One;
    ThreadCgroup = "thread.cgroup": Str, Key, One;
    ThreadNametid = "thread.nametid": Str, None, One;
    ThreadCpu = "thread.cpu": Double, None, One;
    ThreadCpuUser = "thread.cpu.user": Double, None, One;
    ThreadCpuSystem = "thread.cpu.system": Double, None, One;
    ThreadVmsize = "thread.vmsize": U64, None, One;
    ThreadVmrss = "thread.vmrss": U64, None, One;
    ThreadPfmajor = "thread.pfmajor": U64, None, One;
    ThreadPfminor = "thread.pfminor": U64, None, One;
    ThreadCapPermitted = "thread.cap_permitted": Str, None, One;
    ThreadCapInheritable = "thread.cap_inheritable": Str, None, One;
    ThreadCapEffective = "thread.cap_effective": Str, None, One;
    // --- user.* / group.* ---
    UserUid = "user.uid": U64, None, One;
    UserName = "user.name": Str, None, One;
    UserHomedir = "user.homedir": Str, None, One;
    UserShell = "user.shell": Str, None, One;
    UserLoginuid = "user.loginuid": I64, None, One;
    UserLoginname = "user.loginname": Str, None, One;
    GroupGid = "group.gid": U64, None, One;
    GroupName = "group.name": Str, None, One;
    // --- fd.* ---
    FdNum = "fd.num": I64, None, One;
    FdType = "fd.type": Str, None, One;
    FdTypechar = "fd.typechar": Str, None, One;
    FdName = "fd.name": Str, None, One;
    FdDirectory = "fd.directory": Str, None, One;
    FdFilename = "fd.filename": Str, None, One;
    FdIp = "fd.ip": Ip, None, Either;
    FdCip = "fd.cip": Ip, None, One;
    FdSip = "fd.sip": Ip, None, One;
    FdLip = "fd.lip": Ip, None, One;
    FdRip = "fd.rip": Ip, None, One;
    FdPort = "fd.port": Port, None, Either;
    FdCport = "fd.cport": Port, None, One;
    FdSport = "fd.sport": Port, None, One;
    FdLport = "fd.lport": Port, None, One;
    FdRport = "fd.rport": Port, None, One;
    FdL4proto = "fd.l4proto": Str, None, One;
    FdSockfamily = "fd.sockfamily": Str, None, One;
    FdIsServer = "fd.is_server": Bool, None, One;
    FdUid = "fd.uid": Str, None, One;
    FdContainername = "fd.containername": Str, None, One;
    FdContainerdirectory = "fd.containerdirectory": Str, None, One;
    FdProto = "fd.proto": Str, None, Either;
    FdCproto = "fd.cproto": Str, None, One;
    FdSproto = "fd.sproto": Str, None, One;
    FdLproto = "fd.lproto": Str, None, One;
    FdRproto = "fd.rproto": Str, None, One;
    FdNet = "fd.net": IpNet, None, Either;
    FdCnet = "fd.cnet": IpNet, None, One;
    FdSnet = "fd.snet": IpNet, None, One;
    FdLnet = "fd.lnet": IpNet, None, One;
    FdRnet = "fd.rnet": IpNet, None, One;
    FdConnected = "fd.connected": Bool, None, One;
    FdNameChanged = "fd.name_changed": Bool, None, One;
    FdCipName = "fd.cip.name": Str, None, One;
    FdSipName = "fd.sip.name": Str, None, One;
    FdLipName = "fd.lip.name": Str, None, One;
    FdRipName = "fd.rip.name": Str, None, One;
    FdDev = "fd.dev": U64, None, One;
    FdDevMajor = "fd.dev.major": U64, None, One;
    FdDevMinor = "fd.dev.minor": U64, None, One;
    FdIno = "fd.ino": U64, None, One;
    FdNameraw = "fd.nameraw": Str, None, One;
    FdTypes = "fd.types": Str, OptIndex, List;
    FdIsUpperLayer = "fd.is_upper_layer": Bool, None, One;
    FdIsLowerLayer = "fd.is_lower_layer": Bool, None, One;
    FdlistNums = "fdlist.nums": Str, None, One;
    FdlistNames = "fdlist.names": Str, None, One;
    FdlistCips = "fdlist.cips": Str, None, One;
    FdlistSips = "fdlist.sips": Str, None, One;
    FdlistCports = "fdlist.cports": Str, None, One;
    FdlistSports = "fdlist.sports": Str, None, One;
    // --- fs.path.* ---
    FsPathName = "fs.path.name": Str, None, One;
    FsPathNameraw = "fs.path.nameraw": Str, None, One;
    FsPathSource = "fs.path.source": Str, None, One;
    FsPathSourceraw = "fs.path.sourceraw": Str, None, One;
    FsPathTarget = "fs.path.target": Str, None, One;
    FsPathTargetraw = "fs.path.targetraw": Str, None, One;
    // --- container.* (container plugin) ---
    ContainerId = "container.id": Str, None, One;
    ContainerFullId = "container.full_id": Str, None, One;
    ContainerName = "container.name": Str, None, One;
    ContainerImage = "container.image": Str, None, One;
    ContainerImageId = "container.image.id": Str, None, One;
    ContainerImageRepository = "container.image.repository": Str, None, One;
    ContainerImageTag = "container.image.tag": Str, None, One;
    ContainerImageDigest = "container.image.digest": Str, None, One;
    ContainerType = "container.type": Str, None, One;
    ContainerPrivileged = "container.privileged": Bool, None, One;
    ContainerMounts = "container.mounts": Str, None, One;
    ContainerMount = "container.mount": Str, Key, One;
    ContainerMountSource = "container.mount.source": Str, Key, One;
    ContainerMountDest = "container.mount.dest": Str, Key, One;
    ContainerMountMode = "container.mount.mode": Str, Key, One;
    ContainerMountRdwr = "container.mount.rdwr": Str, Key, One;
    ContainerMountPropagation = "container.mount.propagation": Str, Key, One;
    ContainerHealthcheck = "container.healthcheck": Str, None, One;
    ContainerLivenessProbe = "container.liveness_probe": Str, None, One;
    ContainerReadinessProbe = "container.readiness_probe": Str, None, One;
    ContainerStartTs = "container.start_ts": AbsTime, None, One;
    ContainerDuration = "container.duration": RelTime, None, One;
    ContainerIp = "container.ip": Str, None, One;
    ContainerCniJson = "container.cni.json": Str, None, One;
    ContainerHostPid = "container.host_pid": Bool, None, One;
    ContainerHostNetwork = "container.host_network": Bool, None, One;
    ContainerHostIpc = "container.host_ipc": Bool, None, One;
    ContainerLabel = "container.label": Str, Key, One;
    ContainerLabels = "container.labels": Str, None, One;
    ContainerInfo = "container.info": Str, None, One;
    // --- k8s.* ---
    K8sPodName = "k8s.pod.name": Str, None, One;
    K8sPodId = "k8s.pod.id": Str, None, One;
    K8sPodUid = "k8s.pod.uid": Str, None, One;
    K8sPodSandboxId = "k8s.pod.sandbox_id": Str, None, One;
    K8sPodFullSandboxId = "k8s.pod.full_sandbox_id": Str, None, One;
    K8sPodLabel = "k8s.pod.label": Str, Key, One;
    K8sPodLabels = "k8s.pod.labels": Str, None, One;
    K8sPodIp = "k8s.pod.ip": Str, None, One;
    K8sPodCniJson = "k8s.pod.cni.json": Str, None, One;
    K8sNsName = "k8s.ns.name": Str, None, One;
    K8sNsId = "k8s.ns.id": Str, None, One;
    K8sNsLabel = "k8s.ns.label": Str, Key, One;
    K8sNsLabels = "k8s.ns.labels": Str, None, One;
    K8sRcName = "k8s.rc.name": Str, None, One;
    K8sRsName = "k8s.rs.name": Str, None, One;
    K8sSvcName = "k8s.svc.name": Str, None, One;
    K8sDeploymentName = "k8s.deployment.name": Str, None, One;
    K8sDeploymentId = "k8s.deployment.id": Str, None, One;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_id_order_and_names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for (i, f) in FIELDS.iter().enumerate() {
            assert_eq!(f.id as usize, i, "{}", f.name);
            assert!(seen.insert(f.name), "duplicate {}", f.name);
        }
    }

    #[test]
    fn resolves_arguments() {
        let f = resolve("evt.arg.flags", None).unwrap();
        assert_eq!(f.id, FieldId::EvtArg);
        assert_eq!(f.arg, FieldArg::Key("flags".into()));
        let f = resolve("evt.arg", Some("0")).unwrap();
        assert_eq!(f.arg, FieldArg::Index(0));
        let f = resolve("proc.aname", Some("2")).unwrap();
        assert_eq!(f.arg, FieldArg::Index(2));
        assert!(!f.is_multi());
        assert!(resolve("proc.aname", None).unwrap().is_multi());
        assert_eq!(
            resolve("proc.aname", Some("x")),
            Err(FieldError::BadIndex {
                field: "proc.aname".into(),
                arg: "x".into()
            })
        );
        assert_eq!(
            resolve("proc.nam", None),
            Err(FieldError::Unknown("proc.nam".into()))
        );
        assert_eq!(
            resolve("evt.arg", None),
            Err(FieldError::MissingArg("evt.arg".into()))
        );
        assert_eq!(
            resolve("proc.name", Some("1")),
            Err(FieldError::UnexpectedArg("proc.name".into()))
        );
        // `fd.cip.name` is a field of its own, not `fd.cip` with a key.
        assert_eq!(resolve("fd.cip.name", None).unwrap().id, FieldId::FdCipName);
    }
}
