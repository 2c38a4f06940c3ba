//! COPY and ADD: their flags, the sources and the destination, heredoc sources.

use super::flags::BFlags;
use super::heredoc;
use super::instructions::heredoc_for_use;
use super::node::Node;
use super::types::CopyInstr;

pub(super) fn parse_copy(
    node: &Node,
    args: &[String],
    flags: &mut BFlags,
) -> Result<CopyInstr, String> {
    if args.len() < 2 {
        return Err(no_destination("COPY"));
    }
    flags.add_string("chown", "");
    flags.add_string("from", "");
    flags.add_string("chmod", "");
    flags.add_bool("link");
    flags.add_strings("exclude");
    flags.add_bool("parents");
    flags.parse()?;
    let mut copy = sources_and_dest(node, args, "COPY")?;
    copy.from = flags.non_empty("from");
    copy.parents = flags.bool("parents");
    common_flags(&mut copy, flags);
    Ok(copy)
}

pub(super) fn parse_add(
    node: &Node,
    args: &[String],
    flags: &mut BFlags,
) -> Result<CopyInstr, String> {
    if args.len() < 2 {
        return Err(no_destination("ADD"));
    }
    flags.add_string("chown", "");
    flags.add_string("chmod", "");
    flags.add_bool("link");
    flags.add_bool("keep-git-dir");
    flags.add_string("checksum", "");
    flags.add_bool("unpack");
    flags.add_strings("exclude");
    flags.parse()?;
    let mut add = sources_and_dest(node, args, "ADD")?;
    add.checksum = flags.non_empty("checksum");
    add.keep_git_dir = flags.bool_if_used("keep-git-dir");
    add.unpack = flags.bool_if_used("unpack");
    common_flags(&mut add, flags);
    Ok(add)
}

fn common_flags(copy: &mut CopyInstr, flags: &BFlags) {
    copy.chown = flags.non_empty("chown");
    copy.chmod = flags.non_empty("chmod");
    copy.link = flags.bool("link");
    copy.exclude = flags.strings("exclude");
}

fn no_destination(cmd: &str) -> String {
    format!(
        "{cmd} requires at least two arguments, but only one was provided. Destination could not be determined"
    )
}

/// The last argument is the destination; a source that is a heredoc word takes the body of
/// the heredoc of that name (an empty body when there is none, as in Docker).
fn sources_and_dest(node: &Node, args: &[String], cmd: &str) -> Result<CopyInstr, String> {
    let (dest, sources) = args.split_last().expect("at least two arguments");
    if let Ok(Some(_)) = heredoc::parse_heredoc(dest) {
        return Err(format!("{cmd} cannot accept a heredoc as a destination"));
    }
    let mut copy = CopyInstr {
        dest: dest.clone(),
        ..CopyInstr::default()
    };
    for source in sources {
        match heredoc::parse_heredoc(source) {
            Ok(Some(word)) => {
                let body = node
                    .heredocs
                    .iter()
                    .rev()
                    .find(|d| d.name == word.name)
                    .map(|d| d.content.clone())
                    .unwrap_or_default();
                copy.heredocs.push(heredoc_for_use(&heredoc::RawHeredoc {
                    content: body,
                    ..word
                }));
            }
            _ => copy.sources.push(source.clone()),
        }
    }
    Ok(copy)
}
