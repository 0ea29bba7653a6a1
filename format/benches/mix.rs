//! The realistic event mix shared by the throughput benchmark and the
//! sample-trace example.

use trace_format::model::*;

/// A deterministic generator (xorshift), so runs compare.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const FILES: [&str; 6] = [
    "/usr/share/nginx/html/index.html",
    "/etc/nginx/mime.types",
    "/var/log/nginx/access.log",
    "/etc/localtime",
    "/usr/share/nginx/html/style.css",
    "/proc/self/status",
];
const REQUEST: &[u8] =
    b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 23 Nov 2026 07:00:00 GMT\r\nContent-Type: text/html\r\n";

pub fn mix(n: usize) -> Vec<Event> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut ts = 5_000_000_000u64;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let tid = 1000 + rng.below(4) as i32;
        let file = FILES[rng.below(FILES.len() as u64) as usize];
        let buf = 0x5555_0000_0000 + rng.below(64) * 4096;
        let jitter: [u64; 3] = [rng.below(20_000), rng.below(20_000), rng.below(20_000)];
        let mut k = 0;
        let mut ev = |id: u16, args: Vec<u64>, ret: i64, params: Vec<Param>| {
            ts += 500 + jitter[k % 3];
            k += 1;
            out.push(Event {
                ts,
                tid,
                pid: 1000,
                body: EventBody::Syscall(SyscallEvent {
                    id,
                    args,
                    ret,
                    duration_ns: 300 + (ts % 5000) as u32,
                    params,
                    no_return: false,
                }),
            });
        };
        let bytes = |data: &[u8], len: u64| Value::Bytes {
            data: data[..data.len().min(80)].to_vec(),
            len,
        };
        match jitter[0] % 10 {
            0..=5 => {
                let fd = 10 + (jitter[0] % 20) as i64;
                ev(
                    257,
                    vec![(-100i64) as u64, 0x5555_1000, 0o2000000, 0],
                    fd,
                    vec![Param {
                        index: 1,
                        value: Value::Path {
                            raw: file.as_bytes().to_vec(),
                            resolved: file.as_bytes().to_vec(),
                        },
                    }],
                );
                ev(
                    0,
                    vec![fd as u64, buf, 4096],
                    612,
                    vec![Param {
                        index: 16,
                        value: bytes(RESPONSE, 612),
                    }],
                );
                ev(3, vec![fd as u64], 0, vec![]);
            }
            6..=7 => {
                let fd = 3 + jitter[1] % 8;
                ev(
                    45,
                    vec![fd, buf, 1024, 0, 0, 0],
                    REQUEST.len() as i64,
                    vec![Param {
                        index: 16,
                        value: bytes(REQUEST, REQUEST.len() as u64),
                    }],
                );
                ev(
                    44,
                    vec![fd, buf, 850, 0, 0, 0],
                    850,
                    vec![Param {
                        index: 1,
                        value: bytes(RESPONSE, 850),
                    }],
                );
            }
            _ => {
                let fd = 4 + jitter[2] % 3;
                ev(
                    1,
                    vec![fd, buf, 120],
                    120,
                    vec![Param {
                        index: 1,
                        value: bytes(RESPONSE, 120),
                    }],
                );
            }
        }
    }
    out.truncate(n);
    out
}
