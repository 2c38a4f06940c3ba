//! Docker's presentation rules, so output reads exactly like Docker's: sizes and durations
//! (`github.com/docker/go-units`), Go's `time.Time` string, and `text/tabwriter` tables as the
//! docker CLI configures them (min width 10, padding 3, spaces).

use chrono::{DateTime, Utc};

const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/// go-units `HumanSizeWithPrecision(size, 3)`, what `docker images` shows: `4.26MB`, `999B`.
pub fn human_size(bytes: u64) -> String {
    human_size_precision(bytes as f64, 3)
}

/// go-units `HumanSizeWithPrecision`: decimal units, `%.*g`.
pub fn human_size_precision(size: f64, precision: usize) -> String {
    let mut size = size;
    let mut i = 0;
    while size >= 1000.0 && i < DECIMAL_UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", format_g(size, precision), DECIMAL_UNITS[i])
}

/// Go's `%.<precision>g` for a non-negative finite number.
pub fn format_g(value: f64, precision: usize) -> String {
    let p = precision.max(1);
    if value == 0.0 {
        return "0".to_string();
    }
    // Round to p significant digits first: the exponent is that of the rounded value.
    let sci = format!("{:.*e}", p - 1, value);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    if exp < -4 || exp >= p as i32 {
        let mantissa = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{value:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// go-units `HumanDuration`: `Less than a second`, `About a minute`, `3 hours`, `2 weeks`.
pub fn human_duration(d: chrono::Duration) -> String {
    let seconds = d.num_seconds();
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = d.num_minutes();
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let total_hours = d.num_milliseconds() as f64 / 3_600_000.0;
    let hours = (total_hours + 0.5) as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", total_hours as i64 / 24 / 365)
}

/// `2 days ago`, as in Docker's CREATED column; `N/A` for an unknown time.
pub fn since(time: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match time {
        Some(t) => format!("{} ago", human_duration(now - t)),
        None => "N/A".into(),
    }
}

/// Go's `time.Time.String()` in UTC: `2023-07-18 23:19:33 +0000 UTC` (Docker's CreatedAt).
pub fn go_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()
}

/// A table laid out like Go's `tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)`: cells end with a
/// tab; a column is as wide as its widest cell plus 3, at least 10; the last cell of a line
/// is not padded.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a row of cells.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// Adds a line of tab-separated cells (a rendered `table` template line).
    pub fn line(&mut self, line: &str) {
        self.rows
            .push(line.split('\t').map(str::to_string).collect());
    }

    /// The laid out table, each line ending in a newline.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = Vec::new();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
                let w = (cell.chars().count() + 3).max(10);
                if widths.len() <= i {
                    widths.resize(i + 1, 0);
                }
                widths[i] = widths[i].max(w);
            }
        }
        let mut out = String::new();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                out.push_str(cell);
                if i + 1 < row.len() {
                    let pad = widths[i] - cell.chars().count();
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(1234), "1.23kB");
        assert_eq!(human_size(4_261_550), "4.26MB");
        assert_eq!(human_size(77_800_000), "77.8MB");
        assert_eq!(human_size(123_456_789), "123MB");
        assert_eq!(human_size(1_500_000_000), "1.5GB");
        // Go's %.3g quirk, kept on purpose.
        assert_eq!(human_size(999_999), "1e+03kB");
        assert_eq!(format_g(0.0001234, 3), "0.000123");
        assert_eq!(format_g(0.00001234, 3), "1.23e-05");
    }

    #[test]
    fn durations_like_go_units() {
        assert_eq!(
            human_duration(Duration::milliseconds(500)),
            "Less than a second"
        );
        assert_eq!(human_duration(Duration::seconds(1)), "1 second");
        assert_eq!(human_duration(Duration::seconds(59)), "59 seconds");
        assert_eq!(human_duration(Duration::seconds(60)), "About a minute");
        assert_eq!(human_duration(Duration::minutes(59)), "59 minutes");
        assert_eq!(human_duration(Duration::minutes(60)), "About an hour");
        assert_eq!(human_duration(Duration::minutes(89)), "About an hour");
        assert_eq!(human_duration(Duration::minutes(90)), "2 hours");
        assert_eq!(human_duration(Duration::hours(47)), "47 hours");
        assert_eq!(human_duration(Duration::hours(48)), "2 days");
        assert_eq!(human_duration(Duration::days(13)), "13 days");
        assert_eq!(human_duration(Duration::days(14)), "2 weeks");
        assert_eq!(human_duration(Duration::days(60)), "2 months");
        assert_eq!(human_duration(Duration::days(800)), "2 years");
    }

    #[test]
    fn table_like_tabwriter() {
        let mut t = Table::new();
        t.row(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
        t.row([
            "busybox",
            "latest",
            "a416a98b71e2",
            "4 months ago",
            "4.26MB",
        ]);
        assert_eq!(
            t.render(),
            "REPOSITORY   TAG       IMAGE ID       CREATED        SIZE\n\
             busybox      latest    a416a98b71e2   4 months ago   4.26MB\n"
        );
    }

    #[test]
    fn go_time_string() {
        let t = DateTime::parse_from_rfc3339("2023-07-18T23:19:33.655005962Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(go_time(t), "2023-07-18 23:19:33 +0000 UTC");
    }
}
