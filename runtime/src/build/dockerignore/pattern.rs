//! One .dockerignore pattern as moby/patternmatcher compiles and matches it: an exact
//! path, a prefix (`dir/**`), a suffix (`**/name`), or else the Go regexp it translates the
//! pattern into (`*` → `[^/]*`, `?` → `[^/]`, `**/` → `(.*/)?`, a trailing `**` → `.*`,
//! classes and escapes kept). The regexp is interpreted directly here.
//!
//! Where the translation gives Go's regexp syntax a meaning that `filepath.Match` would not
//! (a `*` or `?` inside `[...]`, `\d`-style escapes), the characters are taken literally.

use super::gofilepath::BadPattern;

/// What the pattern compiles to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Exact,
    Prefix,
    Suffix,
    Regexp(Vec<Tok>),
}

/// A piece of the translated regexp.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `[^/]`
    NotSlash,
    /// `[^/]*`
    NotSlashRun,
    /// `(.*/)?` (`.` is anything but a newline)
    AnyDirs,
    /// `.*`
    AnyRun,
    /// `[...]` / `[^...]`
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// A `^` outside a class: the start of the path.
    Start,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pattern {
    /// The cleaned pattern without its `!`.
    pub text: String,
    /// A `!` pattern: re-includes what earlier patterns excluded.
    pub exclusion: bool,
    kind: Kind,
}

impl Pattern {
    /// Compiles a cleaned pattern (syntax already checked with `filepath.Match`). A class
    /// range written backwards (`[z-a]`) passes that check but not Go's regexp compiler.
    pub fn new(text: &str, exclusion: bool) -> Result<Pattern, BadPattern> {
        let kind = compile(text);
        if let Kind::Regexp(toks) = &kind {
            let backwards = |t: &Tok| match t {
                Tok::Class { ranges, .. } => ranges.iter().any(|(lo, hi)| lo > hi),
                _ => false,
            };
            if toks.iter().any(backwards) {
                return Err(BadPattern);
            }
        }
        Ok(Pattern {
            text: text.to_string(),
            exclusion,
            kind,
        })
    }

    pub fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.text,
            Kind::Prefix => path.starts_with(&self.text[..self.text.len() - 2]),
            Kind::Suffix => {
                let suffix = &self.text[2..];
                path.ends_with(suffix) || suffix.strip_prefix('/').is_some_and(|bare| path == bare)
            }
            Kind::Regexp(toks) => {
                let text: Vec<char> = path.chars().collect();
                let mut memo = vec![None; (toks.len() + 1) * (text.len() + 1)];
                Matcher {
                    toks,
                    text: &text,
                    memo: &mut memo,
                }
                .at(0, 0)
            }
        }
    }
}

fn compile(pattern: &str) -> Kind {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regexp,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut detected = Detected::Exact;
    let mut i = 0;
    let mut step = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i < chars.len() {
                    toks.push(Tok::AnyDirs);
                    detected = Detected::Regexp;
                } else if detected == Detected::Exact {
                    detected = Detected::Prefix;
                } else {
                    toks.push(Tok::AnyRun);
                    detected = Detected::Regexp;
                }
                if step == 0 {
                    detected = Detected::Suffix;
                }
            }
            '*' => {
                toks.push(Tok::NotSlashRun);
                detected = Detected::Regexp;
            }
            '?' => {
                toks.push(Tok::NotSlash);
                detected = Detected::Regexp;
            }
            '\\' => match chars.get(i) {
                Some(&next) => {
                    toks.push(Tok::Lit(next));
                    i += 1;
                    detected = Detected::Regexp;
                }
                None => toks.push(Tok::Lit('\\')),
            },
            '[' => {
                let (tok, len) = class(&chars[i..]);
                toks.push(tok);
                i += len;
                detected = Detected::Regexp;
            }
            ']' => {
                toks.push(Tok::Lit(']'));
                detected = Detected::Regexp;
            }
            '^' => toks.push(Tok::Start),
            // Including the escaped metacharacters (`.+()|{}$`): literal in the regexp too.
            c => toks.push(Tok::Lit(c)),
        }
        step += 1;
    }
    match detected {
        Detected::Exact => Kind::Exact,
        Detected::Prefix => Kind::Prefix,
        Detected::Suffix => Kind::Suffix,
        Detected::Regexp => Kind::Regexp(toks),
    }
}

/// The class after a `[`: its token and how many characters it took (including `]`).
/// `filepath.Match` has checked it: ranges of (escaped) characters, then `]`.
fn class(chars: &[char]) -> (Tok, usize) {
    let mut i = 0;
    let negated = chars.first() == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let esc = |i: &mut usize| -> char {
        if chars.get(*i) == Some(&'\\') {
            *i += 1;
        }
        let c = chars.get(*i).copied().unwrap_or('\0');
        *i += 1;
        c
    };
    while i < chars.len() && (chars[i] != ']' || ranges.is_empty()) {
        let lo = esc(&mut i);
        let mut hi = lo;
        if chars.get(i) == Some(&'-') {
            i += 1;
            hi = esc(&mut i);
        }
        ranges.push((lo, hi));
    }
    (Tok::Class { negated, ranges }, (i + 1).min(chars.len()))
}

/// Whole-path matching of the tokens, memoised by (token, position).
struct Matcher<'a> {
    toks: &'a [Tok],
    text: &'a [char],
    memo: &'a mut Vec<Option<bool>>,
}

impl Matcher<'_> {
    fn at(&mut self, t: usize, p: usize) -> bool {
        let key = t * (self.text.len() + 1) + p;
        if let Some(known) = self.memo[key] {
            return known;
        }
        let result = self.compute(t, p);
        self.memo[key] = Some(result);
        result
    }

    fn compute(&mut self, t: usize, p: usize) -> bool {
        let Some(tok) = self.toks.get(t) else {
            return p == self.text.len();
        };
        let here = self.text.get(p).copied();
        match tok {
            Tok::Lit(c) => here == Some(*c) && self.at(t + 1, p + 1),
            Tok::NotSlash => here.is_some_and(|c| c != '/') && self.at(t + 1, p + 1),
            Tok::Class { negated, ranges } => {
                here.is_some_and(|c| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated)
                    && self.at(t + 1, p + 1)
            }
            Tok::Start => p == 0 && self.at(t + 1, p),
            Tok::NotSlashRun => {
                let run = self.text[p..].iter().take_while(|&&c| c != '/').count();
                (0..=run).any(|n| self.at(t + 1, p + n))
            }
            Tok::AnyRun => {
                let run = self.text[p..].iter().take_while(|&&c| c != '\n').count();
                (0..=run).any(|n| self.at(t + 1, p + n))
            }
            Tok::AnyDirs => {
                if self.at(t + 1, p) {
                    return true;
                }
                let run = self.text[p..].iter().take_while(|&&c| c != '\n').count();
                (p..p + run)
                    .filter(|&j| self.text[j] == '/')
                    .any(|j| self.at(t + 1, j + 1))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// patternmatcher's compileTests: the kind each pattern compiles to.
    #[test]
    fn kinds() {
        let regexp = [
            "*",
            "file*",
            "*file",
            "a*/b",
            "**/**",
            "**/dir2/*",
            "**/dir2/**",
            "**/file*txt",
            "**/**/*.txt",
            "a[b-d]e",
            ".*",
            "abc?def",
            "a\\*b",
        ];
        for p in regexp {
            assert!(matches!(compile(p), Kind::Regexp(_)), "{p}");
        }
        for p in ["**", "**/dir", "**file", "**/foo/bar"] {
            assert_eq!(compile(p), Kind::Suffix, "{p}");
        }
        assert_eq!(compile("dir/**"), Kind::Prefix);
        for p in ["abc.def", "a(b)c/def", "a.|)$(}+{bc", "foo\\"] {
            assert_eq!(compile(p), Kind::Exact, "{p}");
        }
        assert_eq!(
            compile("a*/[^b-c]?"),
            Kind::Regexp(vec![
                Tok::Lit('a'),
                Tok::NotSlashRun,
                Tok::Lit('/'),
                Tok::Class {
                    negated: true,
                    ranges: vec![('b', 'c')]
                },
                Tok::NotSlash,
            ])
        );
        assert_eq!(Pattern::new("[Local-Only]", false), Err(BadPattern));
    }
}
