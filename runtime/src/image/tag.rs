//! `docker tag`: points a reference at an image (moving it off any other image), as dockerd's
//! `TagImage` does, and records the time as the image's `Metadata.LastTagTime`.

use super::reference::Reference;
use super::{ImageError, ImageRecord, ImageStore};

/// The reference `repo` and `tag` name, as dockerd's `RepoTagReference` reads the Engine
/// API's `POST /images/{name}/tag?repo=&tag=` (a tag in `repo` is replaced; `latest` by
/// default).
pub fn repo_tag(repo: &str, tag: &str) -> Result<Reference, ImageError> {
    let r = Reference::parse(repo)?;
    if r.digest().is_some() {
        return Err(ImageError::InvalidArgument {
            message: "cannot tag using a digest reference".into(),
        });
    }
    Ok(r.with_tag(if tag.is_empty() { "latest" } else { tag }))
}

/// `docker tag`'s target `NAME[:TAG]` (`latest` by default; no digest).
pub fn target(name: &str) -> Result<Reference, ImageError> {
    let r = Reference::parse(name)?;
    if r.digest().is_some() {
        return Err(ImageError::InvalidArgument {
            message: "refusing to create a tag with a digest reference".into(),
        });
    }
    Ok(r.with_default_tag())
}

impl ImageStore {
    /// Tags the image `source` (a name, id or id prefix) as `target`; returns the image with
    /// its names. A missing source is `No such image: X`.
    pub fn tag(&self, source: &str, target: &Reference) -> Result<ImageRecord, ImageError> {
        if target.familiar_name() == "sha256" {
            return Err(ImageError::InvalidArgument {
                message: "refusing to create an ambiguous tag using digest algorithm as name"
                    .into(),
            });
        }
        let target = target.clone().with_default_tag();
        let _lock = self.lock()?;
        let mut record = self.resolve(source).map_err(ImageError::no_such)?;
        let mut repos = self.read_repositories()?;
        repos.set(&target, &record.id);
        record.last_tag_time =
            Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
        self.write_record(&record)?;
        self.write_repositories(&repos)?;
        repos.attach(&mut record);
        self.event("tag", &record.id, &target.familiar());
        Ok(record)
    }
}
