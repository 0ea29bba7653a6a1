//! A proptest strategy for every kind of decoded parameter value, shared by
//! the format's round-trip tests and replay's hostile-input test (which
//! includes this file by path, with bytes of its own choosing).

use proptest::collection::vec;
use proptest::prelude::*;
use trace_format::model::{CloneArgs, SockAddr, Value};

/// Any [`Value`], its byte strings drawn from `bytes`.
pub fn value<B>(bytes: B) -> impl Strategy<Value = Value>
where
    B: Strategy<Value = Vec<u8>> + Clone + 'static,
{
    let b = move || bytes.clone();
    prop_oneof![
        any::<i64>().prop_map(Value::Int),
        any::<u64>().prop_map(Value::Flags),
        (b(), b()).prop_map(|(raw, resolved)| Value::Path { raw, resolved }),
        b().prop_map(Value::Str),
        (b(), any::<u64>()).prop_map(|(data, len)| Value::Bytes { data, len }),
        (vec(b(), 0..5), any::<bool>())
            .prop_map(|(items, truncated)| Value::StrList { items, truncated }),
        // Families 0..12 reach every decoder (inet, inet6, unix, netlink);
        // any other number must be carried through untouched.
        (
            prop_oneof![0u16..12, any::<u16>()],
            b(),
            any::<u16>(),
            b(),
            b()
        )
            .prop_map(|(family, addr, port, path, raw)| Value::SockAddr(SockAddr {
                family,
                addr,
                port,
                path,
                raw
            })),
        (any::<i32>(), any::<i32>()).prop_map(|(a, b)| Value::FdPair(a, b)),
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(flags, mode, resolve)| {
            Value::OpenHow {
                flags,
                mode,
                resolve,
            }
        }),
        any::<[u64; 6]>().prop_map(|a| Value::CloneArgs(CloneArgs {
            flags: a[0],
            exit_signal: a[1],
            stack: a[2],
            tls: a[3],
            set_tid_size: a[4],
            cgroup: a[5]
        })),
        any::<u64>().prop_map(Value::Fault),
    ]
}
