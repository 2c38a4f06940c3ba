//! `.dockerignore`: which files of the build context Docker leaves out (the CLI's
//! `ignorefile.ReadAll`, moby/patternmatcher, and the context-tar walk of moby's archive
//! package, whose result is what the classic builder sees).
//!
//! The file: one pattern a line; lines starting with `#` are comments; blank lines are
//! skipped; each pattern is trimmed and `filepath.Clean`ed, a leading `/` dropped; `!`
//! makes an exception that re-includes what earlier patterns excluded (the last matching
//! pattern wins). Patterns use Go's `filepath.Match` syntax plus `**` (any number of
//! directories). A pattern that matches a directory excludes everything below it.

mod gofilepath;
mod pattern;

#[cfg(test)]
mod tests;

pub use gofilepath::{clean, match_pattern, BadPattern};

use pattern::Pattern;
use thiserror::Error;

/// A `.dockerignore` that Docker would refuse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DockerIgnoreError {
    #[error(".dockerignore:{line}: illegal exclusion pattern: \"!\"")]
    IllegalExclusion { line: usize },
    #[error(".dockerignore:{line}: syntax error in pattern: {pattern}")]
    BadPattern { line: usize, pattern: String },
}

/// The compiled patterns of a `.dockerignore` (or of `COPY --exclude`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

impl DockerIgnore {
    /// Reads a `.dockerignore` file's text.
    pub fn parse(text: &str) -> Result<DockerIgnore, DockerIgnoreError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut ignore = DockerIgnore::empty();
        for (index, line) in text.lines().enumerate() {
            if line.starts_with('#') {
                continue;
            }
            let mut pattern = line.trim();
            if pattern.is_empty() {
                continue;
            }
            let invert = pattern.starts_with('!');
            if invert {
                pattern = pattern[1..].trim();
            }
            let mut pattern = if pattern.is_empty() {
                String::new()
            } else {
                let cleaned = clean(pattern);
                match cleaned.strip_prefix('/') {
                    Some(relative) if !relative.is_empty() => relative.to_string(),
                    _ => cleaned,
                }
            };
            if invert {
                pattern.insert(0, '!');
            }
            ignore.add(&pattern, index + 1)?;
        }
        Ok(ignore)
    }

    /// Patterns given one by one (as `COPY --exclude` gives them), compiled the same way.
    pub fn from_patterns<'a>(
        patterns: impl IntoIterator<Item = &'a str>,
    ) -> Result<DockerIgnore, DockerIgnoreError> {
        let mut ignore = DockerIgnore::empty();
        for (index, pattern) in patterns.into_iter().enumerate() {
            ignore.add(pattern, index + 1)?;
        }
        Ok(ignore)
    }

    /// Excludes nothing.
    pub fn empty() -> DockerIgnore {
        DockerIgnore::default()
    }

    /// No patterns at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// patternmatcher's `New` for one pattern.
    fn add(&mut self, pattern: &str, line: usize) -> Result<(), DockerIgnoreError> {
        let pattern = pattern.trim();
        if pattern.is_empty() {
            return Ok(());
        }
        let cleaned = clean(pattern);
        let (text, exclusion) = match cleaned.strip_prefix('!') {
            Some("") => return Err(DockerIgnoreError::IllegalExclusion { line }),
            Some(rest) => (rest, true),
            None => (cleaned.as_str(), false),
        };
        let bad = || DockerIgnoreError::BadPattern {
            line,
            pattern: pattern.to_string(),
        };
        match_pattern(text, ".").map_err(|_| bad())?;
        self.patterns
            .push(Pattern::new(text, exclusion).map_err(|_| bad())?);
        self.exclusions |= exclusion;
        Ok(())
    }

    /// Whether the file or directory at `rel_path` (relative to the context root,
    /// `/`-separated) is left out of the context: the patterns are applied to the path and
    /// its parent directories as the context walk applies them, so a file below an excluded
    /// directory is excluded unless an exception can re-include it (see
    /// [`DockerIgnore::may_include_below`]) and does. The root itself is never excluded.
    pub fn is_excluded(&self, rel_path: &str) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let path = clean(rel_path.trim_start_matches('/'));
        if path == "." {
            return false;
        }
        let parts: Vec<&str> = path.split('/').collect();
        let mut parent: Option<Vec<bool>> = None;
        for depth in 1..=parts.len() {
            let prefix = parts[..depth].join("/");
            let (excluded, info) = self.matches_using_parent_results(&prefix, parent.as_deref());
            if depth == parts.len() {
                return excluded;
            }
            if excluded && !self.may_include_below(&prefix) {
                return true; // the walk skips this directory
            }
            parent = Some(info);
        }
        false
    }

    /// Whether the walk must descend into the excluded directory `rel_dir`: an exception
    /// pattern starts with `rel_dir/` (Docker's test, literal: `!**/keep` does not count).
    pub fn may_include_below(&self, rel_dir: &str) -> bool {
        if !self.exclusions {
            return false;
        }
        let dir = clean(rel_dir.trim_start_matches('/'));
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .any(|p| p.exclusion && format!("{}/", p.text).starts_with(&dir_slash))
    }

    /// patternmatcher's `MatchesUsingParentResults`: whether `file` is excluded, given what
    /// each pattern did for its parent directory (None at the top: the parents are tried
    /// one by one); and what each pattern did for `file`.
    fn matches_using_parent_results(
        &self,
        file: &str,
        parent: Option<&[bool]>,
    ) -> (bool, Vec<bool>) {
        let mut matched = false;
        let mut info = vec![false; self.patterns.len()];
        for (i, pattern) in self.patterns.iter().enumerate() {
            let mut hit = parent.is_some_and(|p| p[i]);
            if !hit {
                // An inclusion cannot change an excluded file, nor an exception an included one.
                if pattern.exclusion != matched {
                    continue;
                }
                hit = pattern.matches(file);
                if !hit && parent.is_none() {
                    if let Some((dir, _)) = file.rsplit_once('/') {
                        let dirs: Vec<&str> = dir.split('/').collect();
                        hit = (1..=dirs.len()).any(|n| pattern.matches(&dirs[..n].join("/")));
                    }
                }
            }
            info[i] = hit;
            if hit {
                matched = !pattern.exclusion;
            }
        }
        (matched, info)
    }
}
