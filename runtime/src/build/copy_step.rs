//! `COPY` and `ADD`: sources from the context (globs, directories, `.dockerignore`), from
//! another stage or image (`--from`), or heredocs, put into a container of the stage's image
//! through the same confined extraction as `docker cp` (so a destination under a symlink of
//! the image lands inside the image), and committed as the step's layer. The cache key is
//! the checksum of what is copied, as the classic builder's `file:`/`dir:` hashes.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::context_match::resolve_in_context;
use super::copy_tar::{self, Ownership, Placement};
use super::dockerfile::{CopyInstr, Heredoc};
use super::error::BuildError;
use super::executor::Builder;
use super::stage::StageState;
use super::step_container::StepContainer;
use super::tar_moves;
use crate::container::{self, ExtractOptions};
use crate::image::ImageRecord;

pub(super) fn copy(
    b: &mut Builder<'_>,
    state: &mut StageState,
    line: usize,
    c: &CopyInstr,
    add: bool,
) -> Result<(), BuildError> {
    let what = if add { "ADD" } else { "COPY" };
    let err = |m: String| BuildError::step(line, format!("{what} failed: {m}"));
    // BuildKit-only options the classic builder does not carry out either: refused by name
    // (`--link` only changes how BuildKit caches, so it is accepted).
    for (given, flag) in [
        (!c.exclude.is_empty(), "--exclude"),
        (c.parents, "--parents"),
        (c.checksum.is_some(), "--checksum"),
        (c.keep_git_dir.is_some(), "--keep-git-dir"),
    ] {
        if given {
            return Err(BuildError::step(
                line,
                format!("{what} {flag} is not supported by ebrun's builder (the classic builder)"),
            ));
        }
    }
    // `ADD --unpack=false` copies a local archive as it is.
    let add = add && c.unpack != Some(false);
    let ex = |s: &StageState, w: &str| s.expand(w).map_err(|e| BuildError::step(line, e.message()));
    let mut dest = ex(state, &c.dest)?;
    if !dest.starts_with('/') {
        // Relative to WORKDIR; a trailing slash keeps meaning "a directory".
        let slash = dest.ends_with('/') || dest == "." || dest.is_empty();
        dest = super::metadata::clean_path(&format!("{}/{dest}", state.workdir()));
        if slash && dest != "/" {
            dest.push('/');
        }
    }
    let ownership = Ownership {
        owner: match &c.chown {
            Some(spec) => Some(owner(b, state, &ex(state, spec)?, line)?),
            None => None,
        },
        mode: match &c.chmod {
            Some(m) => {
                Some(copy_tar::parse_chmod(&ex(state, m)?).map_err(|m| BuildError::step(line, m))?)
            }
            None => None,
        },
    };
    let scratch = b.store.build_scratch()?;
    let tar_path = scratch.path().join("copy.tar");
    let sources: Vec<String> = c
        .sources
        .iter()
        .map(|s| ex(state, s))
        .collect::<Result<_, _>>()?;

    // What is copied, its checksum, and whether it is a single file (for placement).
    let mut matched: Vec<PathBuf> = Vec::new();
    let (checksum, single_file, from_image) = if let Some(from) = &c.from {
        let from = ex(state, from)?;
        let image = source_stage(b, &from, line)?;
        let sum = format!(
            "{}:{}",
            image.as_ref().map(|i| i.id.as_str()).unwrap_or("scratch"),
            sources.join(":")
        );
        let single = match (sources.as_slice(), &image) {
            ([one], Some(img)) if !has_glob(one) && !one.ends_with('/') => {
                !is_dir_in_layers(&b.store.layer_dirs(img), one)
            }
            _ => false,
        };
        (sum, single, Some(image))
    } else if !c.heredocs.is_empty() {
        let sum = heredocs_checksum(state, &c.heredocs, line)?;
        (sum, c.heredocs.len() == 1, None)
    } else {
        for pattern in &sources {
            let found = super::context_match::resolve_sources(&b.opts.context, pattern, &b.ignore)
                .map_err(|e| err(e.to_string()))?;
            matched.extend(found);
        }
        let single = matched.len() == 1
            && !resolve_in_context(&b.opts.context, &matched[0].to_string_lossy(), &b.ignore)
                .is_ok_and(|p| b.opts.context.join(p).is_dir())
            && !sources.iter().any(|s| has_glob(s));
        let sum = copy_tar::write_context_tar(
            &b.opts.context,
            &matched,
            &Placement::IntoDir(dest.clone()),
            ownership,
            &b.ignore,
            add,
            &tar_path,
        )
        .map_err(|e| err(e.to_string()))?;
        (sum, single, None)
    };
    let created_by = format!(
        "{} #(nop) {what} {checksum} in {dest} ",
        state.shell().join(" ")
    );
    let key = format!(
        "{created_by}\0chown={:?}\0chmod={:?}",
        ownership.owner, ownership.mode
    );
    if b.use_cache(state, &key)? {
        return Ok(());
    }

    // A stage from scratch has no image to make a container of: its first files are
    // unpacked into an empty directory (nothing in it to lead them astray).
    let target = match &state.image {
        Some(_) => Target::Container(Box::new(StepContainer::create(
            b.paths,
            state,
            vec![format!("#(nop) {what}")],
            Some("none"),
            line,
        )?)),
        None => {
            let dir = scratch.path().join("upper");
            std::fs::create_dir(&dir).map_err(BuildError::io("create", &dir))?;
            Target::Empty(dir)
        }
    };
    let placement = placement(b, &target, &dest, single_file);
    match from_image {
        Some(image) => copy_from_image(
            b,
            image.as_ref(),
            &sources,
            &placement,
            ownership,
            &tar_path,
            line,
        )?,
        None if !c.heredocs.is_empty() => {
            write_heredocs(state, &c.heredocs, &placement, ownership, &tar_path, line)?
        }
        None => {
            if let Placement::AsFile(_) = placement {
                copy_tar::write_context_tar(
                    &b.opts.context,
                    &matched,
                    &placement,
                    ownership,
                    &b.ignore,
                    add,
                    &tar_path,
                )
                .map_err(|e| err(e.to_string()))?;
            }
        }
    }
    // A destination directory the step creates is owned as the files are (`--chown`), with
    // the mode of a directory copied into it, as the classic builder makes it.
    let mut tars = Vec::new();
    if let Placement::IntoDir(dir) = &placement {
        let exists = match &target {
            Target::Container(c) => container::stat_path(b.paths, &c.config, "build", dir).is_ok(),
            Target::Empty(_) => dir.trim_matches('/').is_empty(),
        };
        if !exists {
            let source_dir = match matched.as_slice() {
                [one] => resolve_in_context(&b.opts.context, &one.to_string_lossy(), &b.ignore)
                    .ok()
                    .and_then(|p| std::fs::metadata(b.opts.context.join(p)).ok())
                    .filter(|m| m.is_dir()),
                _ => None,
            };
            let mode = ownership.mode.unwrap_or_else(|| {
                source_dir
                    .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777)
                    .unwrap_or(0o755)
            });
            let dir_tar = scratch.path().join("dest-dir.tar");
            tar_moves::write_dir_entry(dir, ownership.owner.unwrap_or((0, 0)), mode, &dir_tar)
                .map_err(BuildError::io("write", &dir_tar))?;
            tars.push(dir_tar);
        }
    }
    tars.push(tar_path.clone());
    let mut upper = None;
    for tar_file in &tars {
        upper = Some(extract(b, &target, tar_file).map_err(|e| err(e.to_string()))?);
    }
    let upper = upper.expect("at least one tar");
    let image = b.commit_step(state, Some(&upper), created_by, key)?;
    drop(target);
    drop(scratch);
    b.advance(state, image);
    Ok(())
}

/// Extracts the tar at `tar_file` into the step's target; returns the directory holding the
/// step's changes.
fn extract(b: &Builder<'_>, target: &Target<'_>, tar_file: &Path) -> Result<PathBuf, String> {
    let mut input =
        File::open(tar_file).map_err(|e| format!("open {}: {e}", tar_file.display()))?;
    match target {
        Target::Container(container) => {
            // The entries carry their owners (root, --chown, an ADDed archive's own).
            let options = ExtractOptions {
                no_overwrite_dir_non_dir: false,
                copy_uid_gid: false,
            };
            container::extract_to(
                b.paths,
                &container.config,
                "build",
                "/",
                options,
                &mut input,
            )
            .map_err(|e| e.to_string())?;
            Ok(container.upper())
        }
        Target::Empty(dir) => {
            let mut archive = tar::Archive::new(input);
            archive.set_preserve_permissions(true);
            archive.set_preserve_ownerships(true);
            archive.set_preserve_mtime(true);
            archive.unpack(dir).map_err(|e| e.to_string())?;
            Ok(dir.clone())
        }
    }
}

/// Where a copy step's files go.
enum Target<'a> {
    /// A container of the stage's image.
    Container(Box<StepContainer<'a>>),
    /// An empty directory (a stage from scratch).
    Empty(PathBuf),
}

/// Whether `path` is a directory in the image whose layers (bottom first) are `layers`.
fn is_dir_in_layers(layers: &[PathBuf], path: &str) -> bool {
    let rel = path.trim_start_matches('/');
    for layer in layers.iter().rev() {
        if let Ok(meta) = std::fs::symlink_metadata(layer.join(rel)) {
            return meta.is_dir();
        }
    }
    false
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Into the destination directory, or as the destination file: a single file source goes
/// to `dest` itself unless `dest` ends with `/` or is a directory in the image.
fn placement(b: &Builder<'_>, target: &Target<'_>, dest: &str, single_file: bool) -> Placement {
    if !single_file || dest.ends_with('/') {
        return Placement::IntoDir(dest.to_string());
    }
    let Target::Container(c) = target else {
        return Placement::AsFile(dest.to_string());
    };
    match container::stat_path(b.paths, &c.config, "build", dest) {
        Ok(stat) if stat.is_dir() => Placement::IntoDir(dest.to_string()),
        _ => Placement::AsFile(dest.to_string()),
    }
}

/// `--chown=USER[:GROUP]` against the image's /etc/passwd and /etc/group; a user without a
/// group takes the user's id as its group id, as Docker's builder does.
fn owner(
    b: &Builder<'_>,
    state: &StageState,
    spec: &str,
    line: usize,
) -> Result<(u32, u32), BuildError> {
    let layers = state
        .image
        .as_ref()
        .map(|i| b.store.layer_dirs(i))
        .unwrap_or_default();
    let none = Path::new("/nonexistent-upper");
    let passwd = container::read_in_layers(none, &layers, "etc/passwd");
    let group = container::read_in_layers(none, &layers, "etc/group");
    let user = crate::process::resolve_user_with(spec, passwd.as_deref(), group.as_deref())
        .map_err(|e| BuildError::step(line, format!("--chown={spec}: {e}")))?;
    Ok(match spec.contains(':') {
        true => (user.uid, user.gid),
        false => (user.uid, user.uid),
    })
}

/// The image `COPY --from` reads: an earlier stage by name or index, else an image.
fn source_stage(
    b: &mut Builder<'_>,
    from: &str,
    line: usize,
) -> Result<Option<ImageRecord>, BuildError> {
    if let Ok(index) = from.parse::<usize>() {
        return match b.built.get(index) {
            Some((_, image)) => Ok(image.clone()),
            None => Err(BuildError::step(
                line,
                format!("invalid from flag value {from}: refers to a stage that is not built before this one"),
            )),
        };
    }
    b.base_image(from, None, line).map_err(|e| match e {
        BuildError::Step { message, .. } => BuildError::step(
            line,
            format!(
                "invalid from flag value {from}: no build stage or image of that name ({message})"
            ),
        ),
        other => other,
    })
}

/// `COPY --from`: each source read from a container of the other image, moved under the
/// destination.
fn copy_from_image(
    b: &Builder<'_>,
    image: Option<&ImageRecord>,
    sources: &[String],
    placement: &Placement,
    ownership: Ownership,
    tar_path: &Path,
    line: usize,
) -> Result<(), BuildError> {
    let mut source_state = StageState::new(image.cloned(), serde_json::Value::Null, '\\');
    source_state.config = serde_json::json!({});
    let src = StepContainer::create(
        b.paths,
        &source_state,
        vec!["#(nop) source".into()],
        Some("none"),
        line,
    )?;
    let file = File::create(tar_path).map_err(BuildError::io("create", tar_path))?;
    let mut out = tar::Builder::new(BufWriter::new(file));
    for source in sources {
        let (path, dir, rename) = match placement {
            Placement::AsFile(dest) => {
                let (dir, name) = dest.rsplit_once('/').unwrap_or(("", dest));
                (source.clone(), dir.to_string(), Some(name.to_string()))
            }
            Placement::IntoDir(dir) => (source.clone(), dir.clone(), None),
        };
        let stat = container::stat_path(b.paths, &src.config, "build", &path)
            .map_err(|e| BuildError::step(line, format!("COPY --from failed: {path}: {e}")))?;
        // A directory's contents, not the directory itself.
        let read_path = if stat.is_dir() {
            format!("{}/.", path.trim_end_matches('/'))
        } else {
            path.clone()
        };
        let (_, mut reader) =
            container::archive_path(b.paths, &src.config, "build", &read_path, rename.as_deref())
                .map_err(|e| BuildError::step(line, format!("COPY --from failed: {path}: {e}")))?;
        let dir = if dir.is_empty() { "/".to_string() } else { dir };
        tar_moves::write_moved_tar(&mut reader, &dir, ownership, &mut out)
            .map_err(|e| BuildError::step(line, format!("COPY --from failed: {path}: {e}")))?;
        reader
            .finish()
            .map_err(|e| BuildError::step(line, format!("COPY --from failed: {path}: {e}")))?;
    }
    out.into_inner()
        .and_then(|mut w| std::io::Write::flush(&mut w))
        .map_err(BuildError::io("write", tar_path))?;
    Ok(())
}

fn heredoc_body(state: &StageState, h: &Heredoc, line: usize) -> Result<String, BuildError> {
    if !h.expand {
        return Ok(h.content.clone());
    }
    super::dockerfile::expand_heredoc(&h.content, &|k| state.lookup(k))
        .map_err(|e| BuildError::step(line, e.message()))
}

fn heredocs_checksum(
    state: &StageState,
    heredocs: &[Heredoc],
    line: usize,
) -> Result<String, BuildError> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for doc in heredocs {
        h.update(doc.name.as_bytes());
        h.update([0]);
        h.update(heredoc_body(state, doc, line)?.as_bytes());
        h.update([0]);
    }
    Ok(format!("heredoc:{}", hex::encode(h.finalize())))
}

/// `COPY <<EOF /dest`: each heredoc a file (named after its delimiter inside a directory
/// destination).
fn write_heredocs(
    state: &StageState,
    heredocs: &[Heredoc],
    placement: &Placement,
    ownership: Ownership,
    tar_path: &Path,
    line: usize,
) -> Result<(), BuildError> {
    let file = File::create(tar_path).map_err(BuildError::io("create", tar_path))?;
    let mut out = tar::Builder::new(BufWriter::new(file));
    for doc in heredocs {
        let body = heredoc_body(state, doc, line)?;
        let name = match placement {
            Placement::AsFile(dest) => dest.trim_start_matches('/').to_string(),
            Placement::IntoDir(dir) => format!("{}/{}", dir.trim_matches('/'), doc.name)
                .trim_start_matches('/')
                .to_string(),
        };
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(body.len() as u64);
        header.set_mode(ownership.mode.unwrap_or(0o644));
        let (uid, gid) = ownership.owner.unwrap_or((0, 0));
        header.set_uid(uid.into());
        header.set_gid(gid.into());
        header.set_mtime(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        );
        out.append_data(&mut header, name, body.as_bytes())
            .map_err(BuildError::io("write", tar_path))?;
    }
    out.into_inner()
        .and_then(|mut w| std::io::Write::flush(&mut w))
        .map_err(BuildError::io("write", tar_path))?;
    Ok(())
}
