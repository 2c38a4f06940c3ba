//! The STATUS text of `ps` ("Up 3 seconds", "Exited (3) 2 minutes ago", ...), as Docker
//! words it.

use chrono::{DateTime, Utc};

use super::config::{ContainerState, Status};
use super::health::Health;
use crate::format::display::human_duration;

fn parse(t: &Option<String>) -> Option<DateTime<Utc>> {
    t.as_deref()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Docker's human status of a container; a running one's health in parentheses (`Up 3
/// minutes (healthy)`, `(health: starting)`).
pub fn status_text(state: &ContainerState, health: Option<&Health>, now: DateTime<Utc>) -> String {
    let ago = |t: &Option<String>| {
        parse(t)
            .map(|t| format!("{} ago", human_duration(now - t)))
            .unwrap_or_default()
    };
    match state.status {
        Status::Created => "Created".into(),
        Status::Running | Status::Paused => {
            let up = parse(&state.started_at)
                .map(|t| human_duration(now - t))
                .unwrap_or_default();
            if state.paused {
                format!("Up {up} (Paused)")
            } else if let Some(h) = health {
                format!("Up {up} ({})", h.status.ps_text())
            } else {
                format!("Up {up}")
            }
        }
        Status::Restarting => format!(
            "Restarting ({}) {}",
            state.exit_code,
            ago(&state.finished_at)
        ),
        Status::Exited => format!("Exited ({}) {}", state.exit_code, ago(&state.finished_at)),
    }
}

/// Docker's truncation of long cells: the first `max - 1` characters and an ellipsis.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_wording() {
        let now = Utc::now();
        let mut s = ContainerState::default();
        assert_eq!(status_text(&s, None, now), "Created");
        s.status = Status::Running;
        s.started_at = Some((now - chrono::Duration::seconds(3)).to_rfc3339());
        assert_eq!(status_text(&s, None, now), "Up 3 seconds");
        let mut health = Health::starting(None);
        assert_eq!(
            status_text(&s, Some(&health), now),
            "Up 3 seconds (health: starting)"
        );
        health.status = super::super::health::HealthStatus::Healthy;
        assert_eq!(
            status_text(&s, Some(&health), now),
            "Up 3 seconds (healthy)"
        );
        s.paused = true;
        s.status = Status::Paused;
        assert_eq!(status_text(&s, Some(&health), now), "Up 3 seconds (Paused)");
        s.status = Status::Exited;
        s.exit_code = 3;
        s.finished_at = Some((now - chrono::Duration::minutes(2)).to_rfc3339());
        assert_eq!(
            status_text(&s, Some(&health), now),
            "Exited (3) 2 minutes ago"
        );
        assert_eq!(
            ellipsis("sh -c 'while true; do'", 20),
            "sh -c 'while true; …"
        );
    }
}
