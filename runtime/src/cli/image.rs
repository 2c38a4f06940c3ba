//! `ebrun image import|load|save|ls|rm|inspect|prune|tag|history|push`, `ebrun images`,
//! `ebrun rmi`, `ebrun tag`, `ebrun history`, `ebrun push`: thin front ends over
//! [`ebrun::image`] (the Engine API calls the same functions), printing what Docker prints.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use ebrun::format::display::{self, Table};
use ebrun::format::template::{ListFormat, Template};
use ebrun::image::filter::{FilterArgs, ListFilter, PruneFilter};
use ebrun::image::history::{self, MISSING};
use ebrun::image::pull::Output;
use ebrun::image::reference::Reference;
use ebrun::image::usage::container_using;
use ebrun::image::{inspect, push, ImageError, ImageRecord, ImageStore};

use super::Context;

/// Docker's exit code when a command partly failed (`rmi` of a missing image, ...).
const EXIT_FAILURE: i32 = 1;

/// `ebrun image ...`
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Import an image from an OCI layout directory, an OCI archive or a `docker save` tar.
    Import(ImportArgs),
    /// Load images from a tar archive or STDIN (like `docker load`).
    Load(super::load::LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default).
    Save(super::save::SaveArgs),
    /// List images.
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Remove one or more images.
    #[command(visible_alias = "remove")]
    Rm(RmiArgs),
    /// Display detailed information on one or more images.
    Inspect(InspectArgs),
    /// Remove unused images.
    Prune(PruneArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(TagArgs),
    /// Show the history of an image.
    History(HistoryArgs),
    /// Upload an image to a registry.
    Push(PushArgs),
}

/// `ebrun import` / `ebrun image import PATH|- [NAME[:TAG]]`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An OCI layout directory, an OCI archive, a `docker save` archive, or a root
    /// filesystem tarball as `export` writes it (tar, tar.gz, tar.zst; `-` for STDIN).
    pub path: PathBuf,
    /// Tag the image NAME[:TAG] (default: the names recorded in the source).
    pub name: Option<String>,
    /// Suppress the progress output.
    #[arg(short, long)]
    pub quiet: bool,
    /// Apply Dockerfile instruction to the created image (root filesystem tarballs).
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub change: Vec<String>,
    /// Set commit message for imported image (root filesystem tarballs).
    #[arg(short, long)]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable (root filesystem tarballs).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
}

/// `ebrun images` / `ebrun image ls`
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Only images matching REPOSITORY[:TAG] (wildcards allowed).
    pub reference: Option<String>,
    /// Show all images (by default the intermediate images of builds are hidden).
    #[arg(short, long)]
    pub all: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Filter output (dangling=true|false, reference=PATTERN, label=KEY[=VALUE],
    /// before=IMAGE, since=IMAGE).
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output: `table`, `table TEMPLATE`, `json`, or a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `ebrun rmi` / `ebrun image rm`
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image.
    #[arg(short, long)]
    pub force: bool,
    /// Accepted for compatibility; unused layers are always deleted.
    #[arg(long)]
    pub no_prune: bool,
    /// Images to remove: names, ids or id prefixes.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `ebrun image inspect`
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using a Go template, or `json`.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Images to inspect.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `ebrun image prune`
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all images no container uses, not just dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Provide filter values (e.g. `until=<timestamp>`, `label=KEY[=VALUE]`, `label!=KEY`).
    #[arg(long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

/// `ebrun tag` / `ebrun image tag`
#[derive(Debug, Args)]
pub struct TagArgs {
    /// SOURCE_IMAGE[:TAG], an id or id prefix.
    pub source: String,
    /// TARGET_IMAGE[:TAG]
    pub target: String,
}

/// `ebrun history` / `ebrun image history`
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Format output: `table`, `table TEMPLATE`, `json`, or a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Print sizes and dates in human readable format (`-H=false`: bytes and RFC 3339).
    #[arg(
        short = 'H',
        long,
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub human: bool,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// The image.
    pub image: String,
}

/// `ebrun push` / `ebrun image push`
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push all tags of the repository.
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output.
    #[arg(short, long)]
    pub quiet: bool,
    /// NAME[:TAG]
    pub image: String,
}

/// Dispatches `ebrun image <sub>`.
pub fn image_command(ctx: &Context, cmd: ImageCommand) -> Result<i32> {
    match cmd {
        ImageCommand::Import(args) => import(ctx, args),
        ImageCommand::Load(args) => super::load::load(ctx, args),
        ImageCommand::Save(args) => super::save::save(ctx, args),
        ImageCommand::Ls(args) => images(ctx, args),
        ImageCommand::Rm(args) => rmi(ctx, args),
        ImageCommand::Inspect(args) => inspect_images(ctx, args),
        ImageCommand::Prune(args) => prune(ctx, args),
        ImageCommand::Tag(args) => tag(ctx, args),
        ImageCommand::History(args) => history(ctx, args),
        ImageCommand::Push(args) => push(ctx, args),
    }
}

fn open_store(ctx: &Context) -> Result<ImageStore> {
    ImageStore::open(&ctx.paths).context("opening the image store")
}

/// `ebrun image import`: an image archive or layout, or else (as `docker import`) a root
/// filesystem tarball.
pub fn import(ctx: &Context, args: ImportArgs) -> Result<i32> {
    let store = open_store(ctx)?;
    let progress = !args.quiet && std::io::stderr().is_terminal();
    let stdin = args.path.as_os_str() == "-";
    if !stdin && args.change.is_empty() && args.message.is_none() && args.platform.is_none() {
        // ImageError messages name the source and the part of it at fault.
        match store.import_all(&args.path, args.name.as_deref(), progress) {
            Ok(outcome) => {
                super::load::print_loaded(&outcome)?;
                return Ok(0);
            }
            // Not an image archive or layout, but a tar: a root filesystem (`docker import`).
            Err(ebrun::image::ImageError::UnknownFormat { .. })
                if ebrun::image::import_rootfs::is_tarball(&args.path) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let fail = |m: String| {
        eprintln!("Error response from daemon: {m}");
        Ok(EXIT_FAILURE)
    };
    let name = match &args.name {
        Some(n) => match Reference::parse_with_default_tag(n) {
            Ok(r) => Some(r),
            Err(e) => return fail(e.to_string()),
        },
        None => None,
    };
    let platform = match &args.platform {
        Some(p) => match ebrun::image::Platform::parse(p) {
            Ok(p) => Some(p),
            Err(e) => return fail(e.to_string()),
        },
        None => None,
    };
    let config = match ebrun::build::apply_changes(serde_json::json!({}), &args.change) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let import = ebrun::image::import_rootfs::RootfsImport {
        source: args.path.display().to_string(),
        config,
        message: args.message.clone(),
        platform,
        name,
    };
    let made = if stdin {
        store.import_rootfs(std::io::stdin().lock(), import)
    } else {
        match std::fs::File::open(&args.path) {
            Ok(f) => store.import_rootfs(f, import),
            Err(e) => return fail(format!("open {}: {e}", args.path.display())),
        }
    };
    match made {
        Ok(image) => {
            println!("{}", image.id);
            Ok(0)
        }
        Err(e) => fail(e.to_string()),
    }
}

/// One `docker images` row.
struct Row<'a> {
    image: &'a ImageRecord,
    repository: String,
    tag: String,
    digest: String,
}

/// Docker's `imageFormatTaggedAndDigest`: a row per tag (times each digest of its repository
/// with `--digests`), digest-only repositories as `<none>` tags, untagged images as
/// `<none> <none>`.
fn rows_of<'a>(
    image: &'a ImageRecord,
    tags: &[Reference],
    digests: &[Reference],
    show_digests: bool,
) -> Vec<Row<'a>> {
    let row = |repository: String, tag: &str, digest: &str| Row {
        image,
        repository,
        tag: tag.to_string(),
        digest: digest.to_string(),
    };
    if tags.is_empty() && digests.is_empty() {
        return vec![row("<none>".into(), "<none>", "<none>")];
    }
    let mut rows = Vec::new();
    let mut repos: Vec<String> = tags.iter().map(Reference::familiar_name).collect();
    repos.dedup();
    for repo in &repos {
        let repo_digests: Vec<&str> = digests
            .iter()
            .filter(|d| &d.familiar_name() == repo)
            .filter_map(|d| d.digest())
            .collect();
        for t in tags.iter().filter(|t| &t.familiar_name() == repo) {
            let tag = t.tag().unwrap_or("<none>");
            if !show_digests || repo_digests.is_empty() {
                rows.push(row(repo.clone(), tag, "<none>"));
            } else {
                for d in &repo_digests {
                    rows.push(row(repo.clone(), tag, d));
                }
            }
        }
    }
    let mut digest_only: Vec<&Reference> = digests
        .iter()
        .filter(|d| !repos.contains(&d.familiar_name()))
        .collect();
    digest_only.sort_by_key(|d| d.familiar());
    let mut seen_repo = Vec::new();
    for d in digest_only {
        if show_digests {
            rows.push(row(
                d.familiar_name(),
                "<none>",
                d.digest().unwrap_or("<none>"),
            ));
        } else if !seen_repo.contains(&d.familiar_name()) {
            seen_repo.push(d.familiar_name());
            rows.push(row(d.familiar_name(), "<none>", ""));
        }
    }
    rows
}

/// The fields a `--format` template sees for a row (Docker's image context).
fn row_value(row: &Row, trunc: bool, now: DateTime<Utc>) -> Value {
    let image = row.image;
    let created = image.created_at();
    let size = display::human_size(image.size);
    json!({
        "Containers": "N/A",
        "CreatedAt": created.map(display::go_time).unwrap_or_default(),
        "CreatedSince": display::since(created, now),
        "Digest": row.digest,
        "ID": if trunc { image.short_id().to_string() } else { image.id.clone() },
        "Repository": row.repository,
        "SharedSize": "N/A",
        "Size": size,
        "Tag": row.tag,
        "UniqueSize": "N/A",
        "VirtualSize": size,
    })
}

/// The header a `table` template prints: the template run on the column titles.
fn header_value() -> Value {
    json!({
        "Containers": "CONTAINERS",
        "CreatedAt": "CREATED AT",
        "CreatedSince": "CREATED",
        "Digest": "DIGEST",
        "ID": "IMAGE ID",
        "Repository": "REPOSITORY",
        "SharedSize": "SHARED SIZE",
        "Size": "SIZE",
        "Tag": "TAG",
        "UniqueSize": "UNIQUE SIZE",
        "VirtualSize": "SIZE",
    })
}

/// `ebrun images` / `ebrun image ls`.
pub fn images(ctx: &Context, args: ImagesArgs) -> Result<i32> {
    let store = open_store(ctx)?;
    let filter = FilterArgs::from_flags(&args.filter)
        .map_err(ImageError::from_message)
        .and_then(|mut f| {
            if let Some(r) = &args.reference {
                f.add("reference", r.clone());
            }
            ListFilter::new(&store, f)
        });
    let filter = match filter {
        Ok(f) => f,
        Err(e) => {
            eprintln!("Error: {e}");
            return Ok(EXIT_FAILURE);
        }
    };
    let now = Utc::now();
    let trunc = !args.no_trunc;
    let mut list = filter.apply(store.list()?);
    if !args.all {
        list = ebrun::image::filter::top_level(list);
    }
    let mut rows = Vec::new();
    for image in &list {
        let parse = |list: &[String]| -> Vec<Reference> {
            list.iter()
                .filter_map(|s| Reference::parse(s).ok())
                .collect()
        };
        let tags = parse(&image.repo_tags);
        let digests = parse(&image.repo_digests);
        rows.extend(rows_of(image, &tags, &digests, args.digests));
    }

    let mut out = std::io::stdout().lock();
    if args.quiet {
        for row in &rows {
            let id = if trunc {
                row.image.short_id().to_string()
            } else {
                row.image.id.clone()
            };
            writeln!(out, "{id}")?;
        }
        return Ok(0);
    }
    let default_format = if args.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let (is_table, template) = match ListFormat::parse(args.format.as_deref(), default_format) {
        Ok(f) => (f.table, f.template),
        Err(e) => {
            eprintln!("Error: {e}");
            return Ok(EXIT_FAILURE);
        }
    };
    let render = |v: &Value| template.execute(v).map_err(|e| anyhow::anyhow!(e));
    if is_table {
        let mut table = Table::new();
        table.line(&render(&header_value())?);
        for row in &rows {
            table.line(&render(&row_value(row, trunc, now))?);
        }
        write!(out, "{}", table.render())?;
    } else {
        for row in &rows {
            writeln!(out, "{}", render(&row_value(row, trunc, now))?)?;
        }
    }
    Ok(0)
}

/// `ebrun rmi` / `ebrun image rm`: Docker's lines; `Error: ...` and exit 1 for failures.
pub fn rmi(ctx: &Context, args: RmiArgs) -> Result<i32> {
    let store = open_store(ctx)?;
    let in_use = |id: &str| container_using(&ctx.paths, id);
    let mut code = 0;
    for image in &args.images {
        match store.remove(image, args.force, &in_use) {
            Ok(lines) => {
                let mut out = std::io::stdout().lock();
                for line in lines {
                    writeln!(out, "{line}")?;
                }
            }
            Err(e) => {
                eprintln!("Error: {e}");
                code = EXIT_FAILURE;
            }
        }
    }
    Ok(code)
}

/// `ebrun image inspect`: a JSON array like Docker's, or a template per image.
fn inspect_images(ctx: &Context, args: InspectArgs) -> Result<i32> {
    let store = open_store(ctx)?;
    let template = match args.format.as_deref() {
        None | Some("") | Some("json") => None,
        Some(f) => match Template::parse(f) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("Error: {e}");
                return Ok(EXIT_FAILURE);
            }
        },
    };
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in &args.images {
        match store.resolve(name) {
            Ok(image) => found.push(inspect::inspect(&store, &image)),
            Err(ImageError::NotFound { .. }) => errors.push(format!("No such image: {name}")),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let mut out = std::io::stdout().lock();
    match template {
        None => {
            let mut buf = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
            serde::Serialize::serialize(&found, &mut ser)?;
            out.write_all(&buf)?;
            writeln!(out)?;
        }
        Some(t) => {
            for image in &found {
                match t.execute(&serde_json::to_value(image)?) {
                    Ok(s) => writeln!(out, "{s}")?,
                    Err(e) => {
                        eprintln!("Error: {e}");
                        return Ok(EXIT_FAILURE);
                    }
                }
            }
        }
    }
    drop(out);
    for e in &errors {
        eprintln!("Error: {e}");
    }
    Ok(if errors.is_empty() { 0 } else { EXIT_FAILURE })
}

/// `ebrun image prune`.
fn prune(ctx: &Context, args: PruneArgs) -> Result<i32> {
    if !args.force {
        let what = if args.all || args.filter.iter().any(|f| f == "dangling=false") {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        print!("{what}\nAre you sure you want to continue? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let filter = FilterArgs::from_flags(&args.filter)
        .map_err(ImageError::from_message)
        .and_then(|mut f| {
            if args.all {
                f.add("dangling", "false");
            }
            PruneFilter::new(f)
        });
    let filter = match filter {
        Ok(f) => f,
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            return Ok(EXIT_FAILURE);
        }
    };
    let store = open_store(ctx)?;
    let report = store.prune(&filter, &|id: &str| container_using(&ctx.paths, id))?;
    let mut out = std::io::stdout().lock();
    if !report.deleted.is_empty() {
        writeln!(out, "Deleted Images:")?;
        for d in &report.deleted {
            writeln!(out, "{}", d.prune_line())?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "Total reclaimed space: {}",
        display::human_size(report.reclaimed)
    )?;
    Ok(0)
}

/// `ebrun tag SOURCE TARGET`: no output; Docker's errors and exit 1.
pub fn tag(ctx: &Context, args: TagArgs) -> Result<i32> {
    let result = ebrun::image::tag_target(&args.target)
        .and_then(|target| ImageStore::open(&ctx.paths)?.tag(&args.source, &target))
        .map(|_| ());
    match result {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            Ok(EXIT_FAILURE)
        }
    }
}

/// `ebrun history IMAGE`: Docker's table (IMAGE, CREATED, CREATED BY, SIZE, COMMENT).
pub fn history(ctx: &Context, args: HistoryArgs) -> Result<i32> {
    let store = open_store(ctx)?;
    let image = match store.resolve(&args.image) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("Error response from daemon: {}", e.no_such());
            return Ok(EXIT_FAILURE);
        }
    };
    let trunc = !args.no_trunc;
    let now = Utc::now();
    let items = history::history(&image, &store);
    let mut out = std::io::stdout().lock();
    let short = |id: &str| -> String {
        if id == MISSING || !trunc {
            id.to_string()
        } else {
            id.trim_start_matches("sha256:").chars().take(12).collect()
        }
    };
    if args.quiet {
        for item in &items {
            writeln!(out, "{}", short(&item.id))?;
        }
        return Ok(0);
    }
    let value = |item: &history::HistoryItem| {
        let created_by = item.created_by.replace('\t', " ");
        let created_by = if trunc && created_by.chars().count() > 45 {
            format!("{}…", created_by.chars().take(44).collect::<String>())
        } else {
            created_by
        };
        json!({
            "ID": short(&item.id),
            "CreatedSince": if args.human {
                display::since(item.created, now)
            } else {
                item.created.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)).unwrap_or_default()
            },
            "CreatedAt": item.created.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)).unwrap_or_default(),
            "CreatedBy": created_by,
            "Size": if args.human { display::human_size(item.size) } else { item.size.to_string() },
            "Comment": item.comment,
        })
    };
    let history_format =
        "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
    let (is_table, template) = match ListFormat::parse(args.format.as_deref(), history_format) {
        Ok(f) => (f.table, f.template),
        Err(e) => {
            eprintln!("Error: {e}");
            return Ok(EXIT_FAILURE);
        }
    };
    let render = |v: &Value| template.execute(v).map_err(|e| anyhow::anyhow!(e));
    if is_table {
        let mut table = Table::new();
        table.line(&render(&json!({
            "ID": "IMAGE",
            "CreatedSince": "CREATED",
            "CreatedAt": "CREATED AT",
            "CreatedBy": "CREATED BY",
            "Size": "SIZE",
            "Comment": "COMMENT",
        }))?);
        for item in &items {
            table.line(&render(&value(item))?);
        }
        write!(out, "{}", table.render())?;
    } else {
        for item in &items {
            writeln!(out, "{}", render(&value(item))?)?;
        }
    }
    Ok(0)
}

/// `ebrun push NAME[:TAG]`: Docker's progress on stdout, exit 1 on failure.
pub fn push(ctx: &Context, args: PushArgs) -> Result<i32> {
    let name = match Reference::parse(&args.image) {
        Ok(r) if !args.all_tags && r.tag().is_none() && r.digest().is_none() => {
            println!("Using default tag: latest");
            r.with_default_tag().familiar()
        }
        Ok(_) => args.image.clone(),
        Err(e) => {
            eprintln!("Error: {e}");
            return Ok(EXIT_FAILURE);
        }
    };
    let output = if args.quiet {
        Output::Quiet
    } else {
        Output::Stdout
    };
    match push::push(&ctx.paths, &name, output, None) {
        Ok(_) => {
            if args.quiet {
                println!("{}", args.image);
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(EXIT_FAILURE)
        }
    }
}
