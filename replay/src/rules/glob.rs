//! `glob`/`iglob`: `fnmatch(3)` with no flags (or `FNM_CASEFOLD`), as libsinsp.
//!
//! `*` matches any run of bytes including `/`, `?` one byte, `[...]` a class
//! (`!` or `^` negates, ranges `a-z`), `\` escapes the next byte.

/// A compiled glob pattern.
#[derive(Clone, Debug)]
pub struct Glob {
    tokens: Vec<Tok>,
    case_insensitive: bool,
}

#[derive(Clone, Debug)]
enum Tok {
    Byte(u8),
    Any,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(u8, u8)>,
    },
}

impl Glob {
    /// Compiles `pattern`. Never fails: an unterminated `[` is a literal, as in glibc.
    pub fn new(pattern: &str, case_insensitive: bool) -> Glob {
        let p = pattern.as_bytes();
        let fold = |b: u8| {
            if case_insensitive {
                b.to_ascii_lowercase()
            } else {
                b
            }
        };
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < p.len() {
            match p[i] {
                b'*' => {
                    if !matches!(tokens.last(), Some(Tok::Star)) {
                        tokens.push(Tok::Star);
                    }
                    i += 1;
                }
                b'?' => {
                    tokens.push(Tok::Any);
                    i += 1;
                }
                b'\\' if i + 1 < p.len() => {
                    tokens.push(Tok::Byte(fold(p[i + 1])));
                    i += 2;
                }
                b'[' => match parse_class(p, i + 1, fold) {
                    Some((tok, next)) => {
                        tokens.push(tok);
                        i = next;
                    }
                    None => {
                        tokens.push(Tok::Byte(b'['));
                        i += 1;
                    }
                },
                b => {
                    tokens.push(Tok::Byte(fold(b)));
                    i += 1;
                }
            }
        }
        Glob {
            tokens,
            case_insensitive,
        }
    }

    /// Whether the whole of `s` matches.
    pub fn matches(&self, s: &[u8]) -> bool {
        let fold = |b: u8| {
            if self.case_insensitive {
                b.to_ascii_lowercase()
            } else {
                b
            }
        };
        // Iterative matcher with single-star backtracking (linear-ish, no recursion).
        let (mut ti, mut si) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while si < s.len() {
            let c = fold(s[si]);
            match self.tokens.get(ti) {
                Some(Tok::Star) => {
                    star = Some((ti, si));
                    ti += 1;
                    continue;
                }
                Some(Tok::Any) => {
                    ti += 1;
                    si += 1;
                    continue;
                }
                Some(Tok::Byte(b)) if *b == c => {
                    ti += 1;
                    si += 1;
                    continue;
                }
                Some(Tok::Class { negated, ranges }) => {
                    let hit = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                    if hit != *negated {
                        ti += 1;
                        si += 1;
                        continue;
                    }
                }
                _ => {}
            }
            match star {
                Some((st, ss)) => {
                    ti = st + 1;
                    si = ss + 1;
                    star = Some((st, ss + 1));
                }
                None => return false,
            }
        }
        self.tokens[ti.min(self.tokens.len())..]
            .iter()
            .all(|t| matches!(t, Tok::Star))
    }
}

fn parse_class(p: &[u8], mut i: usize, fold: impl Fn(u8) -> u8) -> Option<(Tok, usize)> {
    let mut negated = false;
    if matches!(p.get(i), Some(b'!' | b'^')) {
        negated = true;
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *p.get(i)?;
        if c == b']' && !first {
            return Some((Tok::Class { negated, ranges }, i + 1));
        }
        first = false;
        let lo = if c == b'\\' {
            i += 1;
            *p.get(i)?
        } else {
            c
        };
        i += 1;
        if p.get(i) == Some(&b'-') && p.get(i + 1).is_some_and(|&b| b != b']') {
            let hi = p[i + 1];
            i += 2;
            ranges.push((fold(lo), fold(hi)));
            if fold(lo) != lo || fold(hi) != hi {
                ranges.push((lo, hi));
            }
        } else {
            ranges.push((fold(lo), fold(lo)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[test]
    fn fnmatch_semantics() {
        let cases: &[(&str, &str, bool, bool)] = &[
            ("/home/*/.ssh/*", "/home/bob/.ssh/id_rsa", false, true),
            ("/home/*/.ssh/*", "/home/bob/x/.ssh/id_rsa", false, true), // `*` crosses `/`
            ("/proc/*/environ", "/proc/1/environ", false, true),
            ("/proc/*/environ", "/proc/1/environ2", false, false),
            ("a?c", "abc", false, true),
            ("a[b-d]c", "acc", false, true),
            ("a[!b-d]c", "acc", false, false),
            ("A*", "abc", true, true),
            ("A*", "abc", false, false),
            ("*", "", false, true),
            ("a\\*", "a*", false, true),
            ("a\\*", "ab", false, false),
            ("[", "[", false, true),
            ("*a*b", "xaxxb", false, true),
        ];
        for &(p, s, ci, want) in cases {
            assert_eq!(Glob::new(p, ci).matches(s.as_bytes()), want, "{p} vs {s}");
        }
    }
}
